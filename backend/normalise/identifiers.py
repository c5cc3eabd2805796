"""Raw event values → canonical identifier keys. Pure functions: same input, same key.

Two accounts share an identifier exactly when their keys are equal, so every variation that
means "the same thing" (case, spacing, +tags, gmail dots, IPv4-mapped IPv6, IDN spellings)
must collapse here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

from backend.normalise.domains import DISPOSABLE_DOMAINS, DOTLESS_ALIASES, WEBMAIL_DOMAINS

LSH_BANDS = 4
LSH_BAND_BITS = 64 // LSH_BANDS


class NormalisationError(ValueError):
    """A value that passed the contract's format check but has no canonical form."""


@dataclass(frozen=True, slots=True)
class EmailKey:
    mailbox: str  # canonical local@domain
    domain: str  # canonical (ASCII/punycode) domain
    webmail: bool
    disposable: bool
    local_shape: str  # letters → a, digits → 9, runs collapsed: "li.wei7" → "a.a9"


@dataclass(frozen=True, slots=True)
class IpKey:
    address: str  # canonical text form
    version: int
    subnet: str  # /24 for IPv4, /48 for IPv6


def _ascii_domain(domain: str) -> str:
    domain = domain.strip().strip(".").lower()
    if not domain:
        raise NormalisationError("empty email domain")
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise NormalisationError(f"email domain {domain!r} is not a valid IDN name") from exc


_SHAPE_LETTERS = re.compile(r"[^\W\d_]+")
_SHAPE_DIGITS = re.compile(r"\d+")


def _shape(local: str) -> str:
    return _SHAPE_DIGITS.sub("9", _SHAPE_LETTERS.sub("a", local))


@lru_cache(maxsize=65536)
def normalise_email(raw: str) -> EmailKey:
    text = raw.strip()
    local, sep, domain = text.rpartition("@")
    if not sep or not local or not domain:
        raise NormalisationError(f"{raw!r} is not an email address")
    domain = _ascii_domain(domain)
    local = local.lower().split("+", 1)[0]
    shape = _shape(local)
    canonical_domain = DOTLESS_ALIASES.get(domain, domain)
    if domain in DOTLESS_ALIASES:
        local = local.replace(".", "")
    if not local:
        raise NormalisationError(f"{raw!r} has an empty mailbox once its +tag is removed")
    return EmailKey(
        mailbox=f"{local}@{canonical_domain}",
        domain=canonical_domain,
        webmail=canonical_domain in WEBMAIL_DOMAINS,
        disposable=canonical_domain in DISPOSABLE_DOMAINS,
        local_shape=shape,
    )


_V4_SUBNET = (1 << 32) - (1 << 8)  # a /24
_V6_SUBNET = (1 << 128) - (1 << 80)  # a /48


@lru_cache(maxsize=262144)
def normalise_ip(raw: str) -> IpKey:
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError as exc:
        raise NormalisationError(f"{raw!r} is not an IPv4 or IPv6 address") from exc
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # The /24 or /48 by masking: 3x faster than building an `ip_network`, the same text (a
    # backfill meets hundreds of thousands of distinct addresses).
    if address.version == 4:
        subnet = f"{ipaddress.IPv4Address(int(address) & _V4_SUBNET)}/24"
    else:
        subnet = f"{ipaddress.IPv6Address(int(address) & _V6_SUBNET)}/48"
    return IpKey(address=str(address), version=address.version, subnet=subnet)


_PHONE_SEPARATORS = re.compile(r"[\s().\-]")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


def normalise_phone(raw: str) -> str:
    phone = _PHONE_SEPARATORS.sub("", raw.strip())
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not _E164.match(phone):
        raise NormalisationError(f"{raw!r} is not an E.164 phone number")
    return phone


def normalise_token(raw: str) -> str:
    """Device ids, client and payment fingerprints, address hashes: opaque, case-insensitive."""
    token = raw.strip().lower()
    if not token:
        raise NormalisationError("empty identifier")
    return token


@lru_cache(maxsize=262144)
def prompt_bands(signature: str) -> tuple[str, ...]:
    """LSH bands of a 64-bit SimHash: templates a few bits apart still share most bands.

    Band keys carry their position ("2:12be"), so equal bits in different bands never match.
    """
    hex_digits = signature.lower()
    width = LSH_BAND_BITS // 4
    return tuple(
        f"{band}:{hex_digits[band * width : (band + 1) * width]}" for band in range(LSH_BANDS)
    )


def asn_key(asn: int) -> str:
    return f"AS{asn}"


def proxy_key(name: str) -> str:
    return " ".join(name.strip().lower().split())


def model_key(name: str) -> str:
    return name.strip()
