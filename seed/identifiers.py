"""Deterministic identifier values: the same (namespace, index) always gives the same string.

Address pools are laid out so each kind of exit has its own range and its own enrichment
(ASN, organisation, connection type, proxy provider), consistent on every event that uses it.
"""

from __future__ import annotations

import json

from seed import scenarios as sc

MASK = (1 << 64) - 1


def mix(namespace: int, index: int) -> int:
    """splitmix64 of (namespace, index): a stable, well-spread 64-bit value."""
    z = (namespace * 0x9E3779B97F4A7C15 + index + 1) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def hexid(prefix: str, namespace: int, index: int, digits: int = 12) -> str:
    return f"{prefix}{mix(namespace, index) & ((1 << (4 * digits)) - 1):0{digits}x}"


def dotted(value: int) -> str:
    return f"{value >> 24 & 255}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


# Namespaces for hexid / mix.
NS_DEVICE, NS_CARD, NS_ADDRESS, NS_TEMPLATE, NS_CLIENT, NS_KEY, NS_PHONE, NS_MAIL = range(1, 9)

TZ = {"US": -6, "GB": 0, "DE": 1, "FR": 1, "IN": 5, "BR": -3, "JP": 9, "SG": 8, "CA": -5,
      "AU": 10, "KR": 9, "NL": 1}  # fmt: skip


class IpPool:
    """Address + enrichment for each kind of exit; enrichment fragments are cached as JSON."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, int, str], tuple[str, str]] = {}

    def get(self, kind: str, unit: int, index: int, country: str = "US") -> tuple[str, str]:
        key = (kind, unit, index, country)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._make(kind, unit, index, country)
            if kind not in ("residential", "residential6"):
                self._cache[key] = hit
        return hit

    @staticmethod
    def _make(kind: str, unit: int, index: int, country: str) -> tuple[str, str]:
        enrich: dict[str, object]
        if kind == "residential":
            ip = dotted((73 << 24) + index)
            enrich = {"ip_asn": 7922 + list(TZ).index(country), "ip_org": f"{country} Broadband",
                      "ip_country": country, "ip_kind": "residential"}  # fmt: skip
        elif kind == "residential6":
            ip = f"2a02:{(index >> 16) & 0xFFFF:x}:{index & 0xFFFF:x}::{(index % 7) + 1:x}"
            enrich = {"ip_asn": 7922 + list(TZ).index(country), "ip_country": country,
                      "ip_kind": "residential"}  # fmt: skip
        elif kind == "business":
            ip = dotted((12 << 24) + unit * 4 + index)
            enrich = {"ip_asn": 3356, "ip_org": "Level Business Fiber", "ip_country": country,
                      "ip_kind": "business"}  # fmt: skip
        elif kind == "campus":
            ip = dotted((128 << 24) + unit * 16 + index)
            enrich = {"ip_asn": 11000 + unit, "ip_org": f"University {unit} Network",
                      "ip_country": country, "ip_kind": "business"}  # fmt: skip
        elif kind == "mobile":
            ip = dotted((39 << 24) + unit * 65536 + index)
            enrich = {"ip_asn": 21928 + unit, "ip_org": f"Carrier {unit} Mobile",
                      "ip_country": country, "ip_kind": "mobile"}  # fmt: skip
        elif kind == "vpn":
            ip = dotted((185 << 24) + unit * 4096 + index)
            enrich = {"ip_asn": 9009 + unit, "ip_org": sc.VPN_PROVIDERS[unit], "ip_country": "NL",
                      "ip_kind": "vpn"}  # fmt: skip
        elif kind == "proxy":
            ip = dotted((45 << 24) + unit * 65536 + index)
            provider = sc.PROXY_PROVIDERS[unit]
            enrich = {"ip_asn": 206000 + unit, "ip_org": f"{provider} network",
                      "ip_country": ("SG", "US", "HK")[index % 3], "ip_kind": "proxy",
                      "proxy_provider": provider}  # fmt: skip
        else:  # hosting: a cloud range per unit
            ip = dotted((34 << 24) + unit * 65536 + index)
            enrich = {"ip_asn": 16509, "ip_org": "CloudCo", "ip_country": "US",
                      "ip_kind": "hosting"}  # fmt: skip
        return ip, json.dumps(enrich, separators=(",", ":"))[1:-1]


FIRST = ("li", "wei", "maria", "james", "anna", "ravi", "sofia", "lucas", "emma", "noah", "yuki",
         "chen", "olga", "ahmed", "fatima", "diego", "sara", "tom", "nina", "omar", "ivan",
         "julia", "kenji", "amir", "lena", "marco", "priya", "jin", "eva", "leo")  # fmt: skip
LAST = ("wang", "smith", "garcia", "kumar", "muller", "rossi", "tanaka", "kim", "silva",
        "novak", "ivanov", "haddad", "dubois", "jensen", "costa", "nguyen", "patel", "lopez",
        "schmidt", "sato", "park", "ali", "brown", "martin", "yilmaz")  # fmt: skip
WORDS = ("swift", "amber", "river", "stone", "pixel", "nova", "delta", "lunar", "cedar", "orbit",
         "ember", "frost", "quartz", "maple", "echo", "zenith")  # fmt: skip
WEBMAIL = ("gmail.com", "gmail.com", "gmail.com", "outlook.com", "yahoo.com", "icloud.com",
           "hotmail.com", "proton.me")  # fmt: skip
DISPOSABLE = ("mailinator.com", "yopmail.com", "tempmail.net", "guerrillamail.com")
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/132.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/18.2 Safari/605.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
)
API_AGENTS = ("python-httpx/0.27.0", "python-requests/2.32.3", "node-fetch/3.3.2", "curl/8.5.0")
BINS = {"US": "414720", "GB": "475129", "DE": "535522", "FR": "497010", "IN": "652150",
        "BR": "516292", "JP": "356600", "SG": "455620", "CA": "450060", "AU": "456469",
        "KR": "949094", "NL": "523911"}  # fmt: skip
PREPAID_BINS = ("403446", "531993", "485340")
CORPORATE_BIN = "556731"
