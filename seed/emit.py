"""Events for one chunk of accounts, as JSON lines.

Identity events (signup, billing, session; a handful per account) are built per account.
Usage events are the bulk and are built as numpy columns for the whole chunk and formatted in
one pass, so the generator's cost per exchange is a string format, not Python logic.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from seed import identifiers as ids
from seed import scenarios as sc
from seed.population import COUNTRIES, DAY, WINDOW_S, Population

MAX_IPS = 6
MAX_TEMPLATES = 5
BASE64 = np.datetime64(sc.WINDOW_START.replace(tzinfo=None), "s")
GENUINE_MIX = (0.12, 0.30, 0.10, 0.08, 0.35, 0.05)
RESEARCHER_MIX = (0.70, 0.15, 0.05, 0.0, 0.10, 0.0)
TOOL_RATE = np.array([0.1, 0.8, 2.5, 0.0, 0.05, 0.1])  # mean tool calls per capability
USAGE_LINE = (
    '{"type":"usage","event_id":"u-%s-%d","account_id":"%s","occurred_at":"%sZ","model":"%s",'
    '"input_tokens":%d,"output_tokens":%d,"ip":"%s",%s,"api_key_id":"%s",'
    '"client_fingerprint":"%s","prompt_signature":"%016x","capability":"%s",'
    '"cot_elicitation":%s,"tool_calls":%d}'
)


def iso(seconds: int) -> str:
    return str(BASE64 + np.timedelta64(int(seconds), "s")) + "Z"


def dumps(event: dict[str, object]) -> str:
    return json.dumps({k: v for k, v in event.items() if v is not None}, separators=(",", ":"))


@dataclass
class UsagePlan:
    """Per-account columns the vectorised usage pass reads."""

    account: list[str] = field(default_factory=list)
    n: list[int] = field(default_factory=list)
    signup_t: list[int] = field(default_factory=list)
    peak: list[float] = field(default_factory=list)
    spread: list[float] = field(default_factory=list)
    ips: list[list[tuple[str, str]]] = field(default_factory=list)
    client: list[str] = field(default_factory=list)
    key: list[str] = field(default_factory=list)
    templates: list[list[int]] = field(default_factory=list)
    noise: list[int] = field(default_factory=list)
    mix: list[tuple[float, ...]] = field(default_factory=list)
    cot: list[float] = field(default_factory=list)
    adopt_t: list[float] = field(default_factory=list)
    new_share: list[float] = field(default_factory=list)
    out_scale: list[float] = field(default_factory=list)
    rush: list[float] = field(default_factory=list)


class ChunkWriter:
    """Builds the events of accounts [start, stop) of a population."""

    def __init__(
        self,
        pop: Population,
        seed: int,
        usage_scale: float,
        pools: ids.IpPool,
        sdk: sc.SdkDefaults = sc.SdkDefaults(),
        cohorts: sc.Cohorts = sc.Cohorts(),
    ) -> None:
        self.pop = pop
        self.seed = seed
        self.usage_scale = usage_scale
        self.pools = pools
        self.sdk = sdk
        self.cohorts = cohorts
        self.sizes = pop.sizes
        self.exit_pool = [max(20, int(u) // 40) for u in pop.provider_users]
        self.counts: Counter[str] = Counter()  # events written, by type

    @staticmethod
    def company_name(group: int) -> str:
        return f"{ids.WORDS[group % len(ids.WORDS)]}{group}"

    def coworking(self, campaign: int) -> int:
        """The genuine company whose NAT and email domain a coworking campaign shares: the
        campaign-th largest team, so its genuine members are many."""
        company = next(i for i, s in enumerate(sc.SEGMENTS) if s.name == "company")
        sizes = self.pop.group_sizes[company]
        return int(np.argsort(-sizes, kind="stable")[campaign % sizes.size])

    def course(self, group: int, member: int) -> int | None:
        """The course (a key) a campus's `member`-th student takes that uses the API, if
        any (`sc.Cohorts`). Hashed, not drawn: with the share at 0 the rng's stream, so the
        population, is as before."""
        cohorts = self.cohorts
        key = (group << 20) + member // cohorts.size
        return key if ids.mix(95, key) % 1000 < cohorts.share * 1000 else None

    # --- per account ------------------------------------------------------------------------

    def chunk(self, index: int, start: int, stop: int) -> list[str]:
        rng = np.random.default_rng([self.seed, 1, index])
        lines: list[str] = []
        plan = UsagePlan()
        for pos in range(start, stop):
            if self.pop.campaign[pos] >= 0:
                self._fake(rng, pos, lines, plan)
            else:
                self._genuine(rng, pos, lines, plan)
        lines.extend(self._usage(rng, plan))
        return lines

    def _identity(
        self,
        rng: np.random.Generator,
        account: str,
        t0: int,
        signup: dict[str, object],
        ips: list[tuple[str, str]],
        device: str | None,
        cards: list[dict[str, object]],
        dispute_rate: float,
        key: str,
        lines: list[str],
    ) -> None:
        ip, enrich = ips[0]
        head = f'{{"type":"signup","event_id":"s-{account}","account_id":"{account}",'
        body = dumps({"occurred_at": iso(t0), "ip": ip, "device_id": device, **signup})
        lines.append(f"{head}{enrich},{body[1:]}")
        self.counts["signup"] += 1
        sessions = int(rng.integers(1, 4))
        self.counts["session"] += sessions
        for k in range(sessions):
            ip, enrich = ips[int(rng.integers(0, len(ips)))]
            t = t0 + int(rng.integers(600, WINDOW_S - t0 + 601))
            body = dumps({"occurred_at": iso(min(t, WINDOW_S - 1)), "ip": ip, "device_id": device,
                          "api_key_id": key})  # fmt: skip
            lines.append(
                f'{{"type":"session","event_id":"x-{account}-{k}","account_id":"{account}",'
                f"{enrich},{body[1:]}"
            )
        charge = 0
        for card in cards:
            for _ in range(1 + int(rng.poisson(0.6))):
                u = rng.random()
                status = "disputed" if u < dispute_rate else "failed" if u < 0.05 else "succeeded"
                t = t0 + 120 + int(rng.integers(0, max(1, WINDOW_S - t0 - 121)))
                event = {"type": "billing", "event_id": f"b-{account}-{charge}",
                         "account_id": account, "occurred_at": iso(t), **card,
                         "amount_minor": int(rng.integers(500, 20_000)), "currency": "USD",
                         "status": status, "ip": ips[0][0]}  # fmt: skip
                lines.append(dumps(event))
                charge += 1
        self.counts["billing"] += charge

    def _card(
        self, ns_index: int, country: str, funding: str, card_country: str, address: str | None
    ) -> dict[str, object]:
        bin_ = ids.CORPORATE_BIN if funding == "corporate" else (
            ids.PREPAID_BINS[ns_index % 3] if funding in ("prepaid", "virtual")
            else ids.BINS.get(card_country, "622202")
        )  # fmt: skip
        return {
            "payment_fingerprint": ids.hexid("pm-", ids.NS_CARD, ns_index),
            "payment_kind": "card", "card_bin": bin_, "card_last4": f"{ns_index % 10000:04d}",
            "card_funding": "credit" if funding == "corporate" else funding,
            "card_country": card_country, "billing_country": country,
            "billing_postal": f"{(ns_index * 7919) % 90000 + 10000}",
            "billing_address_hash": address,
        }  # fmt: skip

    def _genuine(
        self, rng: np.random.Generator, pos: int, lines: list[str], plan: UsagePlan
    ) -> None:
        pop, seg = self.pop, int(self.pop.segment[pos])
        name = sc.SEGMENTS[seg].name
        group = int(pop.group[pos])
        account = f"a-{pos:07d}"
        country = COUNTRIES[int(pop.country[pos])]
        t0 = int(pop.signup_t[pos])
        first, last = (
            ids.FIRST[int(rng.integers(len(ids.FIRST)))],
            ids.LAST[int(rng.integers(len(ids.LAST)))],
        )
        resid = self.pools.get("residential", 0, pos * 2, country)
        ips = [resid]
        device: str | None = ids.hexid("d-", ids.NS_DEVICE, pos) if rng.random() < 0.7 else None
        card_index = (1 << 40) + pos
        funding = "prepaid" if pop.prepaid[pos] else ("credit", "debit")[int(rng.integers(2))]
        address: str | None = ids.hexid("ad-", ids.NS_ADDRESS, pos, 16)
        build = int(rng.integers(sc.SDK_FINGERPRINTS))  # -1 below: a company's internal client
        client = ids.hexid("cf-", ids.NS_CLIENT, build, 8)
        domain = ids.WEBMAIL[int(rng.integers(len(ids.WEBMAIL)))]
        if rng.random() < 0.18:
            domain = f"{last}{pos % 997}.dev"
        email = f"{first}.{last}{pos}@{domain}"  # mailboxes are unique per account
        signup: dict[str, object] = {"country": country}
        mix, cot, factor = GENUINE_MIX, 0.03, 1.0
        course: int | None = None  # a campus course's key (`course`)
        if name == "household":
            ips = [self.pools.get("residential", 0, pop.size * 2 + group, country)]
            if ids.mix(99, group) % 100 < sc.HOUSEHOLD_SHARED_CARD * 100:
                card_index, address = (
                    (2 << 40) + group,
                    ids.hexid("ad-", ids.NS_ADDRESS, (2 << 40) + group, 16),
                )
        elif name == "company":
            ips = [self.pools.get("business", group, k, country) for k in range(2)]
            card_index, funding = (3 << 40) + group, "corporate"
            address = ids.hexid("ad-", ids.NS_ADDRESS, (3 << 40) + group, 16)
            client, build = ids.hexid("cf-corp-", ids.NS_CLIENT, (3 << 40) + group, 8), -1
            company = self.company_name(group)
            email = f"{first}.{last}{pos % 100}@{company}.com"
            signup["org_name"] = f"{company.title()} Inc"
        elif name == "campus":
            ips = [self.pools.get("campus", group, int(rng.integers(8)), country) for _ in range(2)]
            email = f"{first}{last[0]}{pos}@uni{group}.edu"
            course = self.course(group, int(pop.member[pos]))
            if course is not None:
                own = (6 << 40) + course
                if ids.mix(93, pos) % 10 < 8:  # enrols at the first lab, within two hours
                    t0 = int(ids.mix(94, course) % (WINDOW_S - 3 * DAY) + ids.mix(92, pos) % 7200)
                if ids.mix(91, course) % 1000 < self.cohorts.tool * 1000:
                    client, build = ids.hexid("cf-course-", ids.NS_CLIENT, own, 8), -1
                if ids.mix(90, course) % 1000 < self.cohorts.credits * 1000:
                    card_index, funding = own, "credit"
                    address = ids.hexid("ad-", ids.NS_ADDRESS, own, 16)
        elif name == "mobile":
            pool = max(4, int(pop.group_sizes[seg][group]) // 400)
            ips = [
                self.pools.get("mobile", group, int(rng.integers(pool)), country) for _ in range(2)
            ]
        elif name == "vpn":
            pool = max(4, int(pop.group_sizes[seg][group]) // 300)
            ips = [
                self.pools.get("vpn", group, int(rng.integers(pool)), country) for _ in range(2)
            ] + [resid]
        elif name == "proxy_customer":
            pool = self.exit_pool[group]
            ips = [self.pools.get("proxy", group, int(rng.integers(pool))) for _ in range(2)]
        elif name == "researcher":
            ips = [resid, self.pools.get("hosting", 200, pos)]
            mix, cot, factor = RESEARCHER_MIX, 0.4, sc.RESEARCHER_USAGE_FACTOR
        if rng.random() < 0.25:
            ips.append(self.pools.get("residential6", 0, pos, country))
        api = rng.random() < 0.35
        signup.update(
            email=email,
            phone=f"+1{2000000000 + pos}" if rng.random() < 0.35 else None,
            user_agent=(ids.API_AGENTS if api else ids.BROWSERS)[int(rng.integers(4))],
            signup_channel="api" if api else ("web", "web", "oauth")[int(rng.integers(3))],
        )
        card = self._card(card_index, country, funding, country, address)
        key = ids.hexid("k-", ids.NS_KEY, pos)
        self._identity(rng, account, t0, signup, ips, device, [card], 0.002, key, lines)
        templates = [
            ids.mix(ids.NS_TEMPLATE, (pos << 3) + k) for k in range(int(rng.integers(1, 4)))
        ]
        if pop.popular[pos]:
            templates.append(ids.mix(ids.NS_TEMPLATE, int(rng.integers(sc.POPULAR_TEMPLATES))))
        # Hashed, not drawn: with the share at 0 the rng's stream, so the population, is as before.
        least = 1
        if build >= 0 and ids.mix(97, pos) % 1000 < self.sdk.share * 1000:
            sdk = build // self.sdk.versions
            templates = [ids.mix(ids.NS_TEMPLATE, (p << 40) + sdk) for p in (5, 7)]
            templates = templates[: self.sdk.prompts]
            least = sc.SDK_AGENT_CALLS if self.sdk.prompts > 1 else 1
        base = rng.lognormal(np.log(sc.GENUINE_USAGE_MEDIAN), 1.2) * factor
        tz = ids.TZ[country]
        peak, spread = (14 - tz + rng.normal(0, 2)) % 24, 3.5
        if course is not None:  # half its exchanges the assignment, in the lab (9:30-16:30)
            templates = [ids.mix(ids.NS_TEMPLATE, (6 << 40) + course), *templates[:1]]
            peak, spread, cot = (9.5 + ids.mix(89, course) % 8 - tz) % 24, 1.0, 0.2
        self._plan(
            plan, account, key, max(least, round(base * self.usage_scale)), t0, peak, spread, ips,
            client, templates, 1, mix, cot,
            sc.NEW_RELEASE_S + rng.exponential(sc.ADOPTION_MEAN_DAYS * DAY), 0.7, 1.0,
        )  # fmt: skip

    def _fake(self, rng: np.random.Generator, pos: int, lines: list[str], plan: UsagePlan) -> None:
        pop = self.pop
        c = int(pop.campaign[pos])
        camp, n = pop.campaigns[c], self.sizes[c]
        m = int(pop.member[pos])
        account = f"a-{pos:07d}"
        country = COUNTRIES[int(pop.country[pos])]
        t0 = int(pop.signup_t[pos])
        ns = (c + 10) << 32  # its own: devices, addresses, cards, mailboxes
        # Whose infrastructure it runs on (exits, client builds, templates, daily window): its
        # own, or, for a regrowth, the network it comes back from.
        home = camp.regrows if camp.regrows >= 0 else c
        infra = (home + 10) << 32

        # Exits: proxy resellers shared with genuine customers, or cloud ranges of their own.
        kind = camp.exit_kind
        if kind == "mixed":
            kind = ("hosting", "proxy", "residential")[m % 3]
        exits = int(rng.integers(camp.exits_per_account[0], camp.exits_per_account[1] + 1))
        if kind == "proxy":
            unit = sc.PROXY_PROVIDERS.index(camp.proxy_provider or sc.PROXY_PROVIDERS[0])
            ips = [
                self.pools.get("proxy", unit, int(rng.integers(self.exit_pool[unit])))
                for _ in range(exits)
            ]
        elif kind == "hosting":
            pool = max(4, self.sizes[home] // 15)
            ips = [self.pools.get("hosting", home, int(rng.integers(pool))) for _ in range(exits)]
        elif kind == "rotating_residential":  # enriched as residential: no proxy mark at all
            pool = max(8, self.sizes[home] * exits // max(1, camp.accounts_per_exit))
            base = pop.size * 3 + home * 400_000
            ips = [self.pools.get("residential", 0, base + int(rng.integers(pool)), country)
                   for _ in range(exits)]  # fmt: skip
        elif kind == "coworking":
            ips = [self.pools.get("business", self.coworking(home), k, country) for k in range(2)]
        else:
            ips = [self.pools.get("residential", 0, pos * 2, country)]

        device = None
        if camp.accounts_per_device:
            device = ids.hexid("d-", ids.NS_DEVICE, ns + m // camp.accounts_per_device)
        address = ids.hexid(
            "ad-",
            ids.NS_ADDRESS,
            ns + (m // camp.accounts_per_address if camp.accounts_per_address else n + m),
            16,
        )
        cards = []
        for k in range(int(rng.integers(camp.cards_per_account[0], camp.cards_per_account[1] + 1))):
            if camp.accounts_per_card:
                pool = -(-n // camp.accounts_per_card)
                index = ((m + k * 977) // camp.accounts_per_card) % pool
            else:
                index = (1 + k) * n + m
            funding = (
                ("prepaid", "virtual")[index % 2]
                if (ids.mix(ns, index) % 100) < camp.prepaid_share * 100
                else "credit"
            )
            card_country = (
                ("HK", "SG", "MY", "AE")[index % 4]
                if (ids.mix(ns + 1, index) % 100) < camp.country_mismatch * 100
                else country
            )
            cards.append(self._card(ns + index, country, funding, card_country, address))

        style = camp.email_style
        if style == "mixed":
            style = ("name_digits_webmail", "word_pattern", "custom_domains")[int(rng.integers(3))]
        first, last = ids.FIRST[m % len(ids.FIRST)], ids.LAST[(m // 7) % len(ids.LAST)]
        if style == "name_digits_webmail":
            email = f"{first}{last}{pos}@gmail.com"
        elif style == "custom_domains":
            email = f"dev{m}@{ids.WORDS[(c + m) % 5]}-labs{c}.io"
        elif style == "coworking":  # the coworking space's domain, as its genuine members (a
            # mailbox is one account's: a platform refuses a second signup with the same one)
            email = f"{first}.{last}{pos}@{self.company_name(self.coworking(home))}.com"
        elif style == "random_disposable":
            email = f"{ids.hexid('', ids.NS_MAIL, ns + m, 10)}@{ids.DISPOSABLE[m % 4]}"
        else:
            email = f"{ids.WORDS[m % 16]}{ids.WORDS[(m // 16) % 16]}{c}{m:03d}@outlook.com"
        phone = None
        if camp.accounts_per_phone and m % 2 == 0:  # VoIP numbers on half the accounts
            phone = f"+4475{ids.mix(ns + 2, m // camp.accounts_per_phone) % 10**8:08d}"
        signup: dict[str, object] = {
            "email": email, "phone": phone, "country": country,
            "user_agent": ids.API_AGENTS[c % 4] if device is None else ids.BROWSERS[c % 4],
            "signup_channel": "api" if device is None else "web",
        }  # fmt: skip
        key = ids.hexid("k-", ids.NS_KEY, pos)
        self._identity(rng, account, t0, signup, ips, device, cards, 0.03, key, lines)

        client = ids.hexid("cf-", ids.NS_CLIENT, infra + m % camp.client_builds, 8)
        if camp.public_client and ids.mix(ns + 5, m) % 1000 < camp.public_client * 1000:
            client = ids.hexid("cf-", ids.NS_CLIENT, ids.mix(ns + 6, m) % sc.SDK_FINGERPRINTS, 8)
        picks = int(rng.integers(2, 5))
        templates = [
            ids.mix(ids.NS_TEMPLATE, infra + (m + 3 * k) % camp.templates) for k in range(picks)
        ]
        mix = camp.capability_mix
        if camp.camouflage > 0:  # ordinary chat under personal templates, in that share
            own = min(MAX_TEMPLATES - picks, round(picks * camp.camouflage / (1 - camp.camouflage)))
            templates += [ids.mix(ids.NS_TEMPLATE, (pos << 3) + k) for k in range(own)]
            mix = tuple((1 - camp.camouflage) * f + camp.camouflage * g
                        for f, g in zip(mix, GENUINE_MIX, strict=True))  # fmt: skip
        peak = (2.0 + 5 * home) % 24 if camp.synchronised else float(rng.uniform(0, 24))
        spread = 0.7 if camp.synchronised else 6.0
        lag = rng.uniform(*camp.new_model_lag_h) * 3600
        volume = camp.exchanges_per_account * rng.uniform(0.6, 1.4) * self.usage_scale
        self._plan(
            plan, account, key, max(1, round(volume)), t0, peak, spread, ips, client, templates,
            camp.template_bit_noise, mix, camp.cot_rate,
            sc.NEW_RELEASE_S + lag, camp.new_model_share, 2.5 if camp.cot_rate > 0.5 else 1.0,
            camp.new_model_rush,
        )  # fmt: skip

    @staticmethod
    def _plan(plan: UsagePlan, account: str, key: str, n: int, t0: int, peak: float, spread: float,
              ips: list[tuple[str, str]], client: str, templates: list[int], noise: int,
              mix: tuple[float, ...], cot: float, adopt_t: float, new_share: float,
              out_scale: float, rush: float = 0.0) -> None:  # fmt: skip
        plan.account.append(account)
        plan.n.append(n)
        plan.signup_t.append(t0)
        plan.peak.append(peak)
        plan.spread.append(spread)
        plan.ips.append(ips[:MAX_IPS])
        plan.client.append(client)
        plan.key.append(key)
        plan.templates.append(templates[:MAX_TEMPLATES])
        plan.noise.append(noise)
        plan.mix.append(mix)
        plan.cot.append(cot)
        plan.adopt_t.append(adopt_t)
        plan.new_share.append(new_share)
        plan.out_scale.append(out_scale)
        plan.rush.append(rush)

    # --- usage, vectorised over the chunk ---------------------------------------------------

    def _usage(self, rng: np.random.Generator, plan: UsagePlan) -> list[str]:
        counts = np.asarray(plan.n, np.int64)
        a = np.repeat(np.arange(counts.size), counts)
        total = int(a.size)
        self.counts["usage"] += total
        seq = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)

        # When: a day after signup, at an hour around the account's peak.
        t0 = np.asarray(plan.signup_t, np.int64)[a]
        day = (t0 + rng.random(total) * (WINDOW_S - t0)) // DAY
        hour = (
            np.asarray(plan.peak)[a] + rng.normal(0, 1, total) * np.asarray(plan.spread)[a]
        ) % 24
        t = (day * DAY + hour * 3600 + rng.integers(0, 60, total)).astype(np.int64)
        t = np.where(t < t0, t + DAY, t)
        # A campaign rushes the new model: part of its traffic lands in the day after it switches.
        adopt = np.asarray(plan.adopt_t)[a]
        rush = (rng.random(total) < np.asarray(plan.rush)[a]) & (t0 < adopt)
        t = np.where(rush, adopt + rng.random(total) * DAY, t).astype(np.int64)
        t = np.minimum(np.maximum(t, t0 + 60), WINDOW_S - 1)
        stamps = np.datetime_as_string(BASE64 + t.astype("timedelta64[s]"), unit="s")

        # Which model: the old one before the release; after it, adoption per account.
        adopted = (t >= adopt) & (rush | (rng.random(total) < np.asarray(plan.new_share)[a]))
        model = np.where(
            adopted, sc.NEW_MODEL, np.where(rng.random(total) < 0.15, sc.SMALL_MODEL, sc.OLD_MODEL)
        )

        # What: capability from the account's mix, CoT, tool calls, tokens.
        cum = np.cumsum(np.asarray(plan.mix), axis=1)[a]
        cap = np.minimum((rng.random(total)[:, None] > cum).sum(axis=1), len(sc.CAPABILITIES) - 1)
        cot = rng.random(total) < np.asarray(plan.cot)[a]
        tools = rng.poisson(TOOL_RATE[cap])
        tokens_in = rng.lognormal(6.6, 0.9, total).astype(np.int64)
        tokens_out = (rng.lognormal(6.3, 1.0, total) * np.asarray(plan.out_scale)[a]).astype(
            np.int64
        )

        # From where and with which template (small bit flips: near-identical templates).
        n_ips = np.array([len(x) for x in plan.ips])
        ip_table = np.array([x + [x[0]] * (MAX_IPS - len(x)) for x in plan.ips], dtype=object)
        ip_pick = ip_table[a, (rng.random(total) * n_ips[a]).astype(np.int64)]
        n_tpl = np.array([len(x) for x in plan.templates])
        tpl_table = np.array(
            [x + [x[0]] * (MAX_TEMPLATES - len(x)) for x in plan.templates], dtype=np.uint64
        )
        tpl = tpl_table[a, (rng.random(total) * n_tpl[a]).astype(np.int64)]
        flips = rng.integers(0, np.asarray(plan.noise)[a] + 1)
        for bit in range(3):
            flip = flips > bit
            tpl[flip] ^= np.left_shift(
                np.uint64(1), rng.integers(0, 64, int(flip.sum())).astype(np.uint64)
            )

        caps = np.array(sc.CAPABILITIES, dtype=object)[cap]
        accounts = np.array(plan.account, dtype=object)[a]
        keys = np.array(plan.key, dtype=object)[a]
        clients = np.array(plan.client, dtype=object)[a]
        cot_text = np.where(cot, "true", "false")
        return [
            USAGE_LINE % (acc, s, acc, st, mdl, ti, to, ip[0], ip[1], key, cl, int(tp), cp, ct, tc)
            for acc, s, st, mdl, ti, to, ip, key, cl, tp, cp, ct, tc in zip(
                accounts.tolist(), seq.tolist(), stamps.tolist(), model.tolist(),
                tokens_in.tolist(), tokens_out.tolist(), ip_pick.tolist(), keys.tolist(),
                clients.tolist(), tpl.tolist(), caps.tolist(), cot_text.tolist(), tools.tolist(),
                strict=True,
            )
        ]  # fmt: skip
