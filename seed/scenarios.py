"""Every parameter of the synthetic population, in one place, so `seed/README.md` can cite them.

The fake networks follow the February 2026 report (three distillation campaigns, ~24,000
accounts, ~16.5M exchanges, one proxy network running 20,000+ accounts). Sizes below are for the
`full` preset (1,024,000 accounts) and scale linearly with the account count, with a floor so a
small population still has a network worth finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

# The window every event falls in, and the release the large campaign jumps on.
WINDOW_START = datetime(2026, 2, 1, tzinfo=UTC)
WINDOW_DAYS = 28
OLD_MODEL = "frontier-1"
SMALL_MODEL = "frontier-1-mini"
NEW_MODEL = "frontier-2"
OLD_RELEASE = datetime(2025, 10, 1, 16, 0, tzinfo=UTC)
NEW_RELEASE = datetime(2026, 2, 10, 17, 0, tzinfo=UTC)
NEW_RELEASE_S = int((NEW_RELEASE - WINDOW_START).total_seconds())

FULL_ACCOUNTS = 1_024_000  # 1,000,000 genuine + 24,000 fake


@dataclass(frozen=True)
class Preset:
    accounts: int
    usage_scale: float


PRESETS: dict[str, Preset] = {
    "small": Preset(accounts=20_000, usage_scale=0.05),
    "medium": Preset(accounts=102_400, usage_scale=0.1),
    "full": Preset(accounts=FULL_ACCOUNTS, usage_scale=1.0),
}

CAPABILITIES = ("reasoning", "coding", "agentic_tool_use", "vision", "chat", "other")


# --- genuine population: segments (share of genuine accounts) and what makes each a trap -----


@dataclass(frozen=True)
class Segment:
    name: str
    share: float
    group_size: tuple[int, int]  # accounts per shared unit (household, company, ...), min..max
    trap: str  # the false positive it invites


SEGMENTS: tuple[Segment, ...] = (
    Segment("individual", 0.535, (1, 1), "none: the baseline"),
    Segment("household", 0.12, (2, 4), "shared home IP, 30% also a shared card and address"),
    Segment("company", 0.08, (3, 60), "one NAT exit, one corporate card, one client build, "
            "team signs up on onboarding day"),
    Segment("campus", 0.06, (300, 2000), "a few campus exits shared by hundreds"),
    Segment("mobile", 0.10, (2000, 8000), "carrier NAT: thousands share a small address pool"),
    Segment("vpn", 0.04, (1000, 12000), "commercial VPN exits shared with strangers"),
    Segment("proxy_customer", 0.06, (1000, 20000), "genuine customers of the proxy and "
            "API-reselling services the attackers use: same exits, same provider"),
    Segment("researcher", 0.005, (1, 1), "heavy-tailed, reasoning-heavy volume, CoT prompts"),
)  # fmt: skip

# Traps layered on any segment.
POPULAR_TEMPLATE_SHARE = 0.15  # uses one of the public templates shared by thousands
POPULAR_TEMPLATES = 24
PREPAID_SHARE = 0.04  # genuine customers paying with prepaid cards
HOUSEHOLD_SHARED_CARD = 0.30
GENUINE_USAGE_MEDIAN = 4.0  # exchanges per account at usage-scale 1 (log-normal, sigma 1.2)
RESEARCHER_USAGE_FACTOR = 60.0
ADOPTION_MEAN_DAYS = 7.0  # genuine accounts drift to a new model over weeks

PROXY_PROVIDERS = ("relaybridge", "hydraproxy", "swiftmesh")
VPN_PROVIDERS = ("tunnelbear-like", "nordish", "mullvadish")
CARRIERS = 5
SDK_FINGERPRINTS = 40  # common client builds: shared by everyone, never links on its own


@dataclass(frozen=True)
class SdkDefaults:
    """Genuine API users who never set a system prompt, so every exchange sends the one their
    SDK ships. `versions` consecutive client builds are one SDK's releases and ship the same
    default, so its users share a template held by thousands, split over those builds: the
    shape `projection.conjunctions` links when an operator splits a template over its own
    builds. Off by default (the presets' populations stay as they were); `bench-robustness`
    draws it per population (`seed.draws.draw_sdk_defaults`)."""

    share: float = 0.0  # of genuine accounts on a public client build
    versions: int = 1  # builds per SDK, dividing SDK_FINGERPRINTS
    # Default prompts: a system prompt (1), or an agent SDK's planning and tool prompts in
    # turns (2), each of its users making SDK_AGENT_CALLS calls or more: two templates held by
    # the same genuine users, the shape `projection.conjunctions` links when a network sends
    # two templates (since 2026-12-04, later that day; draws before then had 1).
    prompts: int = 1


# An agent SDK's task: a plan, tool calls and an answer, so a user of its defaults has sent
# both its prompts (each call picks one at random: both with probability 1 - 2 / 2**4).
SDK_AGENT_CALLS = 4


@dataclass(frozen=True)
class Cohorts:
    """Genuine students of courses that use the API: a course's students enrol at its first
    lab, most within two hours, and send its assignment's template from the campus exits and
    the university's mail domain during its lab hours; some courses give them a tool of their
    own (a client build no one else runs) or department credits (one card for the course).
    Everything a behaviour-only or coworking network shares (a template, a build, a place, a
    domain, a signup burst, a daily window), held by genuine accounts. Off by default (the
    presets' populations stay as they were); `bench-robustness` draws it per population
    (`seed.draws.draw_cohorts`)."""

    share: float = 0.0  # of a campus's courses that use the API
    size: int = 60  # students per course
    tool: float = 0.0  # of those courses, the share whose students run the course's own build
    credits: float = 0.0  # ... and the share paid with one department card


# --- fake networks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    """One coordinated network; `label` is what the labels file says for its accounts."""

    label: str
    operation: str  # which of the report's campaigns it belongs to
    accounts: int  # at full scale
    min_accounts: int
    exchanges_per_account: float  # at usage-scale 1
    capability_mix: tuple[float, ...]  # over CAPABILITIES
    cot_rate: float
    # identifier sharing: accounts per shared instrument (0 = each account its own)
    accounts_per_card: int
    cards_per_account: tuple[int, int]  # card rotation
    accounts_per_device: int
    accounts_per_address: int
    templates: int  # base templates the operators rotate, each with small bit variations
    template_bit_noise: int  # bits flipped per exchange, at most
    client_builds: int
    # where their traffic leaves: hosting, proxy, mixed, residential (each its own home IP),
    # rotating_residential (a residential proxy pool, indistinguishable from home IPs), or
    # coworking (a genuine company's NAT, whose email domain they also use)
    exit_kind: str
    proxy_provider: str | None
    exits_per_account: tuple[int, int]
    email_style: str
    signup: str  # burst | waves | trickle
    synchronised: bool  # one shared daily active window
    new_model_share: float  # share of post-release traffic on the new model
    new_model_lag_h: tuple[float, float]  # hours after the release they switch
    new_model_rush: float  # share of traffic thrown at the new model in the day after switching
    prepaid_share: float
    country_mismatch: float  # card issued in a different country than the billing address
    # Share of each account's traffic that is ordinary chat under personal templates, mixed in
    # to look like a genuine user (0: none).
    camouflage: float = 0.0
    # `rotating_residential` exits: accounts per address of the operator's residential pool.
    accounts_per_exit: int = 4
    accounts_per_phone: int = 0  # a VoIP number shared by this many, on half the accounts
    # Share of the accounts on a popular SDK build, as genuine API users are, instead of the
    # operator's own builds (0: every account on its own builds).
    public_client: float = 0.0
    # Regrowth: the index (in the population's campaigns) of the network whose operator comes
    # back with fresh accounts, cards, devices and addresses on its exits, client builds,
    # templates and daily window (-1: a network of its own); and the day its signups start
    # (-1: the default stagger).
    regrows: int = -1
    first_day: int = -1


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign(
        label="reasoning-1", operation="reasoning traces and policy-sensitive answers",
        accounts=60, min_accounts=12, exchanges_per_account=2_500.0,
        capability_mix=(0.85, 0.05, 0.0, 0.0, 0.10, 0.0), cot_rate=0.8,
        accounts_per_card=6, cards_per_account=(1, 1), accounts_per_device=0,
        accounts_per_address=12, templates=6, template_bit_noise=2, client_builds=2,
        exit_kind="hosting", proxy_provider=None, exits_per_account=(1, 2),
        email_style="name_digits_webmail", signup="burst", synchronised=True,
        new_model_share=0.3, new_model_lag_h=(24.0, 96.0), new_model_rush=0.0, prepaid_share=0.8,
        country_mismatch=0.9,
    ),
    Campaign(
        label="agentic-1", operation="agentic reasoning, tool use, coding and vision",
        accounts=700, min_accounts=24, exchanges_per_account=4_850.0,
        capability_mix=(0.2, 0.3, 0.35, 0.15, 0.0, 0.0), cot_rate=0.25,
        accounts_per_card=0, cards_per_account=(1, 2), accounts_per_device=5,
        accounts_per_address=15, templates=16, template_bit_noise=3, client_builds=4,
        exit_kind="mixed", proxy_provider="swiftmesh", exits_per_account=(1, 3),
        email_style="mixed", signup="trickle", synchronised=False,
        new_model_share=0.4, new_model_lag_h=(6.0, 48.0), new_model_rush=0.1, prepaid_share=0.3,
        country_mismatch=0.5,
    ),
    Campaign(
        label="coding-1", operation="agentic coding and tool orchestration",
        accounts=3_000, min_accounts=40, exchanges_per_account=1_330.0,
        capability_mix=(0.05, 0.6, 0.35, 0.0, 0.0, 0.0), cot_rate=0.05,
        accounts_per_card=10, cards_per_account=(1, 2), accounts_per_device=0,
        accounts_per_address=30, templates=10, template_bit_noise=2, client_builds=1,
        exit_kind="hosting", proxy_provider=None, exits_per_account=(1, 2),
        email_style="custom_domains", signup="trickle", synchronised=False,
        new_model_share=0.4, new_model_lag_h=(1.0, 20.0), new_model_rush=0.2, prepaid_share=0.5,
        country_mismatch=0.6,
    ),
    Campaign(
        label="hydra-1", operation="agentic coding and tool orchestration, through a proxy "
        "reseller (the 20,000-account hydra cluster)",
        accounts=15_000, min_accounts=60, exchanges_per_account=445.0,
        capability_mix=(0.05, 0.55, 0.4, 0.0, 0.0, 0.0), cot_rate=0.05,
        accounts_per_card=12, cards_per_account=(1, 3), accounts_per_device=6,
        accounts_per_address=40, templates=12, template_bit_noise=3, client_builds=3,
        exit_kind="proxy", proxy_provider="relaybridge", exits_per_account=(3, 6),
        email_style="random_disposable", signup="waves", synchronised=False,
        new_model_share=0.4, new_model_lag_h=(1.0, 20.0), new_model_rush=0.2, prepaid_share=0.7,
        country_mismatch=0.4, accounts_per_phone=50,
    ),
    Campaign(
        label="hydra-2", operation="agentic coding through a second reseller; card rotation, "
        "one card per account",
        accounts=4_000, min_accounts=30, exchanges_per_account=445.0,
        capability_mix=(0.1, 0.5, 0.4, 0.0, 0.0, 0.0), cot_rate=0.1,
        accounts_per_card=0, cards_per_account=(1, 3), accounts_per_device=4,
        accounts_per_address=0, templates=8, template_bit_noise=3, client_builds=2,
        exit_kind="proxy", proxy_provider="hydraproxy", exits_per_account=(3, 6),
        email_style="word_pattern", signup="waves", synchronised=False,
        new_model_share=0.4, new_model_lag_h=(1.0, 20.0), new_model_rush=0.2, prepaid_share=0.6,
        country_mismatch=0.3,
    ),
    Campaign(
        label="hydra-3", operation="reasoning and coding through a reseller, API only (no "
        "device ids), shared cards",
        accounts=1_240, min_accounts=20, exchanges_per_account=445.0,
        capability_mix=(0.4, 0.4, 0.2, 0.0, 0.0, 0.0), cot_rate=0.4,
        accounts_per_card=8, cards_per_account=(1, 2), accounts_per_device=0,
        accounts_per_address=0, templates=6, template_bit_noise=2, client_builds=1,
        exit_kind="proxy", proxy_provider="relaybridge", exits_per_account=(2, 5),
        email_style="word_pattern", signup="burst", synchronised=True,
        new_model_share=0.4, new_model_lag_h=(2.0, 24.0), new_model_rush=0.2, prepaid_share=0.4,
        country_mismatch=0.5,
    ),
)  # fmt: skip


def campaign_sizes(total_accounts: int) -> list[int]:
    scale = total_accounts / FULL_ACCOUNTS
    return [max(c.min_accounts, round(c.accounts * scale)) for c in CAMPAIGNS]
