"""Who the accounts are: one row per account, vectorised, before any event is written.

Rows are built in role order (segment by segment, campaign by campaign, members of a household
or company next to each other) and then permuted, so account ids reveal nothing and fake
accounts are interleaved with genuine ones in the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seed import scenarios as sc

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "SG", "CA", "AU", "KR", "NL")
COUNTRY_WEIGHTS = np.array([0.34, 0.08, 0.08, 0.06, 0.12, 0.06, 0.06, 0.03, 0.05, 0.04, 0.04, 0.04])
DAY = 86_400
WINDOW_S = sc.WINDOW_DAYS * DAY


@dataclass
class Population:
    campaign: npt.NDArray[np.int8]  # -1 genuine, else index into `campaigns`
    segment: npt.NDArray[np.int8]  # index into scenarios.SEGMENTS, -1 for fake accounts
    group: I32  # household/company/campus/carrier/provider id; fake: 0
    member: I32  # rank inside its group or campaign, drives shared-instrument assignment
    country: npt.NDArray[np.int8]
    signup_t: I64  # seconds after WINDOW_START
    popular: npt.NDArray[np.bool_]
    prepaid: npt.NDArray[np.bool_]
    group_sizes: dict[int, I32]  # per segment with groups: accounts in each group
    provider_users: I32  # accounts (genuine + fake) routed through each proxy provider
    campaigns: tuple[sc.Campaign, ...] = sc.CAMPAIGNS
    sizes: tuple[int, ...] = ()  # accounts per campaign

    @property
    def size(self) -> int:
        return int(self.campaign.shape[0])

    def campaign_counts(self) -> dict[str, int]:
        counts = np.bincount(self.campaign[self.campaign >= 0], minlength=len(self.campaigns))
        return {c.label: int(n) for c, n in zip(self.campaigns, counts, strict=True)}

    def segment_counts(self) -> dict[str, int]:
        genuine = self.segment[self.segment >= 0]
        counts = np.bincount(genuine, minlength=len(sc.SEGMENTS))
        return {s.name: int(n) for s, n in zip(sc.SEGMENTS, counts, strict=True)}


def _partition(rng: np.random.Generator, n: int, low: int, high: int, heavy: bool) -> I32:
    """Split n accounts into groups of low..high (heavy: Pareto-like, most groups small)."""
    sizes: list[int] = []
    total = 0
    while total < n:
        if heavy:
            size = int(min(high, low + rng.pareto(1.6) * low))
        else:
            size = int(rng.integers(low, high + 1))
        size = min(size, n - total)
        sizes.append(size)
        total += size
    return np.array(sizes, dtype=np.int32)


def _signup_times(rng: np.random.Generator, n: int, style: str, first_day: int) -> I64:
    if style == "burst":  # sub-bursts of ~20 accounts within an hour, over three days
        bursts = max(1, n // 20)
        starts = first_day * DAY + rng.integers(0, 3 * DAY, bursts)
        return np.asarray(starts[rng.integers(0, bursts, n)] + rng.integers(0, 3600, n), np.int64)
    if style == "waves":  # five one-day waves across the window
        waves = np.linspace(first_day, sc.WINDOW_DAYS - 6, 5).astype(np.int64) * DAY
        return np.asarray(waves[rng.integers(0, 5, n)] + rng.integers(0, DAY, n), np.int64)
    return np.asarray(rng.integers(0, WINDOW_S - 2 * DAY, n), np.int64)  # trickle / genuine


def build(
    total_accounts: int, seed: int, campaigns: tuple[sc.Campaign, ...] | None = None
) -> Population:
    """`campaigns` None: the report's six, scaled to the population; given (e.g. drawn by
    `seed.draws`), each with exactly its `accounts`."""
    rng = np.random.default_rng([seed, 0])
    if campaigns is None:
        campaigns, fake_sizes = sc.CAMPAIGNS, sc.campaign_sizes(total_accounts)
    else:
        fake_sizes = [c.accounts for c in campaigns]
    genuine = total_accounts - sum(fake_sizes)
    if genuine < 1000:
        raise ValueError(
            f"--accounts {total_accounts} leaves {genuine} genuine accounts; use >= 2000"
        )
    seg_sizes = [round(s.share * genuine) for s in sc.SEGMENTS]
    seg_sizes[0] += genuine - sum(seg_sizes)

    campaign: list[npt.NDArray[np.int8]] = []
    segment: list[npt.NDArray[np.int8]] = []
    group: list[I32] = []
    member: list[I32] = []
    country: list[npt.NDArray[np.int8]] = []
    signup: list[I64] = []
    group_sizes: dict[int, I32] = {}
    provider_users = np.zeros(len(sc.PROXY_PROVIDERS), np.int32)

    for s_index, (seg, n) in enumerate(zip(sc.SEGMENTS, seg_sizes, strict=True)):
        cc = rng.choice(len(COUNTRIES), n, p=COUNTRY_WEIGHTS).astype(np.int8)
        times = _signup_times(rng, n, "trickle", 0)
        if seg.name in ("household", "company", "campus"):
            sizes = _partition(rng, n, *seg.group_size, heavy=seg.name == "company")
            group_sizes[s_index] = sizes
            g = np.repeat(np.arange(sizes.size, dtype=np.int32), sizes)
            m = (np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)).astype(np.int32)
            cc = rng.choice(len(COUNTRIES), sizes.size, p=COUNTRY_WEIGHTS).astype(np.int8)[g]
            if seg.name == "company":  # onboarding day: 70% of a team within two hours
                day0 = rng.integers(0, WINDOW_S - 3 * DAY, sizes.size)[g]
                onboard = rng.random(n) < 0.7
                times = np.where(onboard, day0 + rng.integers(0, 7200, n), times)
        elif seg.name in ("mobile", "vpn", "proxy_customer"):
            units = {"mobile": sc.CARRIERS, "vpn": len(sc.VPN_PROVIDERS)}.get(
                seg.name, len(sc.PROXY_PROVIDERS)
            )
            g = rng.integers(0, units, n).astype(np.int32)
            m = np.zeros(n, np.int32)
            group_sizes[s_index] = np.bincount(g, minlength=units).astype(np.int32)
            if seg.name == "proxy_customer":
                provider_users += group_sizes[s_index]
        else:
            g = np.zeros(n, np.int32)
            m = np.zeros(n, np.int32)
        campaign.append(np.full(n, -1, np.int8))
        segment.append(np.full(n, s_index, np.int8))
        group.append(g)
        member.append(m)
        country.append(cc)
        signup.append(times)

    for c_index, (camp, n) in enumerate(zip(campaigns, fake_sizes, strict=True)):
        campaign.append(np.full(n, c_index, np.int8))
        segment.append(np.full(n, -1, np.int8))
        group.append(np.zeros(n, np.int32))
        member.append(rng.permutation(n).astype(np.int32))
        claimed = rng.choice([0, 1, 7, 8], n).astype(np.int8)  # US, GB, SG, CA
        country.append(claimed)
        first_day = camp.first_day if camp.first_day >= 0 else 2 + 3 * c_index % 6
        signup.append(_signup_times(rng, n, camp.signup, first_day))
        if camp.proxy_provider is not None:
            provider_users[sc.PROXY_PROVIDERS.index(camp.proxy_provider)] += n

    order = rng.permutation(total_accounts)
    cat = np.concatenate
    seg_all = cat(segment)[order]
    camp_all = cat(campaign)[order]
    popular = (rng.random(total_accounts) < sc.POPULAR_TEMPLATE_SHARE) & (camp_all < 0)
    prepaid = (rng.random(total_accounts) < sc.PREPAID_SHARE) & (camp_all < 0)
    return Population(
        campaign=camp_all,
        segment=seg_all,
        group=cat(group)[order],
        member=cat(member)[order],
        country=cat(country)[order],
        signup_t=cat(signup)[order],
        popular=popular,
        prepaid=prepaid,
        group_sizes=group_sizes,
        provider_users=provider_users,
        campaigns=campaigns,
        sizes=tuple(fake_sizes),
    )
