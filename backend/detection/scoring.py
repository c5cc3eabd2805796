"""Community features, risk scores with per-feature contributions, membership confidence and
evidence, all vectorised over every community at once (numpy `bincount`/`unique`, no loop per
account).

The risk is a logistic over features scaled to [0, 1]. Its weights are set from what each signal
means, not fitted to the seed's labels: infrastructure that hides who is behind it (proxy,
hosting, VPN exits), payment instruments that are cheap to burn (prepaid, virtual, issued abroad,
rotated), prompts that are one template with small edits, a rush to a just-released model,
chain-of-thought extraction, volume. None of them alone crosses the threshold (a company team
shares a card and a NAT and signs up on one day; proxy customers all use proxies); together
they do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from backend.detection.projection import (
    TEMPLATE_KIND,
    Incidence,
    in_row_shards,
    locate,
    unique_counts,
    unique_runs,
)
from backend.graph.model import HOUR_INPUTS
from backend.normalise.identifiers import LSH_BAND_BITS, LSH_BANDS

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

BIAS = -5.0
# feature -> (weight, saturation): contribution = weight * min(1, value / saturation)
RISK_WEIGHTS: dict[str, tuple[float, float]] = {
    "anonymised_ip_share": (2.5, 1.0),
    "prepaid_virtual_share": (2.5, 1.0),
    "card_country_mismatch": (2.0, 1.0),
    "fast_adoption_share": (2.5, 0.6),
    "template_concentration": (2.5, 1.0),
    "cot_rate": (2.0, 0.5),
    "disposable_email_share": (1.5, 1.0),
    "signup_burstiness": (1.0, 1.0),
    "disputed_share": (1.0, 0.05),
    "card_rotation": (1.0, 1.0),
    "volume": (1.0, 1.0),
    "email_homogeneity": (0.5, 1.0),
    "timing_concentration": (1.5, 0.8),
}
# The features that say a cluster's accounts act together (one template, one signup hour, one
# mail shape, one daily window) are views of one fact, and at full weight they add up to 5.5,
# past the bias: a genuine group that acts together by design reached the threshold on them
# alone. A campus course (its assignment's template, enrolment at the first lab, the
# university's mail, lab hours) came back at risk 0.55 with 4.2 of coordination and 1.0 of
# everything else (fresh draws 156 and 158, `docs/detection.md`, "Risk and explanation").
# Together they count at most COORDINATION_CAP, scaled down in proportion (so the stored
# contributions still add up to the logit): coordination alone then leaves a cluster at 0.18,
# and a flag needs 1.5 more from what a distillation network hides behind or is after
# (anonymised exits, prepaid or foreign cards, disposable mail, chain-of-thought prompts, heavy
# volume, a rush to a new model) or from disputes: what the strongest of them gives at 60% of
# its saturation. Not fitted: a cap anywhere from 3.0 to 4.0 flags the same accounts on the 29
# saved draws 112-140, drawn before the courses (ad hoc, the cap applied to the scores of
# their refreshes); 2.5 loses a network whole on two of them.
COORDINATION = (
    "template_concentration", "signup_burstiness", "email_homogeneity", "timing_concentration",
)  # fmt: skip
COORDINATION_CAP = 3.5
# Descriptive only (shown to analysts, no weight).
DESCRIPTIVE = ("size", "density", "mean_link_weight", "reasoning_share", "agentic_coding_share",
               "exchanges_per_account", "cards_per_account")  # fmt: skip

ACCOUNT_COLUMNS: tuple[str, ...] = (
    "exchanges", "cot", "cap_reasoning", "cap_coding", "cap_agentic_tool_use", "cap_vision",
    "cap_chat", "cap_other", "charges", "disputed", "cards", "risky_cards", "mismatched_cards",
    "ips", "anon_ips", "disposable", "signup_s", "fast_adopter",
)  # fmt: skip
HOURS = HOUR_INPUTS  # exchanges per UTC hour of day (`hour_hist`)
TIMING_PRIOR = 50.0  # exchanges spread evenly over the day, added to every community's own
ACCOUNT_COLUMNS += HOURS
CAPS = ACCOUNT_COLUMNS[2:8]


@dataclass
class Scored:
    features: F64  # communities x (RISK_WEIGHTS + DESCRIPTIVE)
    contributions: F64  # communities x RISK_WEIGHTS
    risk: F64
    feature_names: tuple[str, ...]


def _count_pairs(inc: Incidence, labels: I64) -> tuple[I64, I64, I64]:
    """(identifier, community, holders of it in that community) for every pair with >= 1."""
    n_comm = int(labels.max()) + 1 if labels.size else 0
    kept = inc.remembered_pairs(labels)
    if kept is None:
        rows = inc.identifier_of_row
        lab = labels[inc.holders]
        ok = lab >= 0
        combined = rows[ok] * max(n_comm, 1) + lab[ok]
        kept = unique_counts(combined)  # nearly sorted: an identifier's rows are together
    uniq, counts = kept
    return uniq // max(n_comm, 1), uniq % max(n_comm, 1), counts


def tie_strength(inc: Incidence, labels: I64, weights: dict[str, float]) -> F64:
    """Per account: how much of what it shares, it shares with its own community.

    Sum over its identifiers of weight[kind] x (share of the identifier's other holders that are
    in the same community). A fake account sharing a device, cards and template variants with
    its network scores several units; a genuine customer who merely shares a proxy exit with
    it scores a fraction of the exit's weight.
    """
    term = _tie_terms(inc, labels, weights)[1]
    return np.bincount(inc.holders, weights=term, minlength=inc.accounts).astype(np.float64)


def tie_and_template_positions(
    inc: Incidence, labels: I64, weights: dict[str, float]
) -> tuple[F64, I64]:
    """Per account: its tie strength (`tie_strength`), and at how many of the four band
    positions it holds a template band that mostly its own community holds (at least half of
    the band's other holders inside): where its prompts are that community's own templates.
    One tie measurement for both (~1.5 s each at full usage)."""
    same, term = _tie_terms(inc, labels, weights)
    tie = np.bincount(inc.holders, weights=term, minlength=inc.accounts).astype(np.float64)
    del term
    bands = inc.band_rows
    mostly = (same[bands.rows] - 1) * 2 >= inc.spread_of_row[bands.rows]  # none if alone
    held = np.zeros((inc.accounts, LSH_BANDS), bool)
    held[bands.holders[mostly], bands.position[mostly]] = True
    return tie, held.sum(axis=1).astype(np.int64)


def _tie_terms(inc: Incidence, labels: I64, weights: dict[str, float]) -> tuple[I64, F64]:
    """Per incidence row: holders of its identifier in its holder's community (the holder
    included; 0 outside any), and what that row adds to the holder's tie strength."""
    # Row-sized arrays (18.4M rows at full usage, 147 MB each in int64) are freed as soon as
    # they are used and products made in place: this function set the refresh's peak memory,
    # ~1.2 GB above what the refresh held, with nine of them alive at once.
    # Passes over row ranges on two threads (`in_row_shards`); each allocates its row-sized
    # output only once the pass before has freed its temporaries.
    rows = inc.identifier_of_row
    n_comm = int(labels.max()) + 1 if labels.size else 0
    same = np.zeros(rows.size, np.int64)

    def count(lo: int, hi: int) -> tuple[I64, I64]:
        # Each row's (identifier, community) counted among all rows: the count, put back on
        # the rows it came from (no sparse table to look them up in).
        lab = labels[inc.holders[lo:hi]]
        ok = lab >= 0
        key = rows[lo:hi][ok]
        key *= max(n_comm, 1)
        key += lab[ok]
        del lab
        pairs, at, counts = unique_runs(key)
        del key
        same[lo:hi][ok] = counts[at]
        return pairs, counts

    counted = in_row_shards(inc, count)
    pairs = np.concatenate([p for p, _ in counted])
    counts = np.concatenate([c for _, c in counted])
    del counted
    inc.remember_pairs(labels, pairs, counts)
    spread = inc.spread_of_row
    conc = np.zeros(rows.size)

    def concentrate(lo: int, hi: int) -> None:
        here = same[lo:hi]
        np.divide(here - 1, spread[lo:hi], out=conc[lo:hi], where=here >= 2)

    in_row_shards(inc, concentrate)
    bands = inc.band_rows
    share = None
    if bands.rows.size:
        ident, comm = pairs // max(n_comm, 1), pairs % max(n_comm, 1)
        per_band = chance_per_prompt(inc, ident, comm, counts, n_comm)
        share = band_consistency(
            bands.holders, bands.position, conc[bands.rows], inc.accounts,
            _chance(inc.prompts, per_band, labels),
        )  # fmt: skip
    kind_weight = np.array([weights.get(k, 0.0) for k in inc.kinds])[inc.kind]
    band = inc.is_band_row if share is not None else None
    term = np.empty(rows.size)

    def weigh(lo: int, hi: int) -> None:
        out = term[lo:hi]
        np.multiply(kind_weight[rows[lo:hi]], conc[lo:hi], out=out)
        if share is not None and band is not None:
            # Band rows are most rows (15.7M of 18.4M at full usage): every row of the range
            # times its holder's share, x 1.0 off the bands (the same floats), rather than
            # gathering and scattering the bands'.
            factor = share[inc.holders[lo:hi]]
            np.putmask(factor, ~band[lo:hi], 1.0)
            out *= factor

    in_row_shards(inc, weigh)
    return same, np.asarray(term, np.float64)


def chance_per_prompt(inc: Incidence, ident: I64, comm: I64, count: I64, n_comm: int) -> F64:
    """Per (community, band position): the match an unrelated prompt's band makes there by
    chance, as a tie weighs matches: the sum over the community's band values at that position
    of the share of their holders inside it, over the 2^16 values a band can take.

    `ident`, `comm`, `count`: (identifier, community, its holders there) pairs; only template
    bands count (a conjunction is not a point of the hash space)."""
    position = inc.band_position[ident]
    template = inc.kinds.index(TEMPLATE_KIND) if TEMPLATE_KIND in inc.kinds else -1
    band = (position >= 0) & (inc.kind[ident] == template)
    share = count[band] / np.maximum(inc.degree[ident[band]], 1)
    mass = np.bincount(
        comm[band] * LSH_BANDS + position[band], weights=share, minlength=n_comm * LSH_BANDS
    )
    return np.asarray(mass.reshape(n_comm, LSH_BANDS) / 2**LSH_BAND_BITS, np.float64)


def _chance(prompts: F64 | None, per_band: F64, towards: I64) -> F64 | None:
    """Per account and band position: the match its prompts make with the community `towards`
    by chance (None when its prompts are not known: nothing subtracted)."""
    if prompts is None or not per_band.size:
        return None
    inside = towards >= 0
    out = np.zeros((towards.size, LSH_BANDS))
    out[inside] = prompts[inside, None] * per_band[towards[inside]]
    return out


# What a band position may count beyond the account's weakest position: one band held only
# inside the community. A network's prompts carry bit noise, and an exchange whose flips fall
# in one band lands there on a value too rare to be exported (under the chance floor) or held
# by no one else, so a member with three exchanges can match [2, 2, 0, 1]. Without it the
# rule cost a behaviour-only network of thin members (3-4 exchanges) a fifth of its accounts
# on draw 39 (recall 0.933 -> 0.719; 0.895 with it); one band is the least that lets one such
# exchange through, and a collision (17 matches at one position) still counts one.
SLACK = 1.0


def band_consistency(
    holders: I64, position: I64, concentration: F64, accounts: int, chance: F64 | None = None
) -> F64:
    """Per account: the share of its template-band ties to a community that a shared
    template, not a hash collision, explains; each of its template rows counts at this share.

    A prompt that is one of a network's templates matches the network at all four band
    positions of its SimHash; a hash collision matches at one. At the `full` preset's full
    usage a network whose templates carry bit noise holds ~4% of every 16-bit position, and a
    genuine template lying a bit or two from one of its values brings its own one-bit variants
    in at that position together: up to 17 matches at one position and none elsewhere, each
    counted as a shared template, put 2,162 genuine accounts on the ban list
    (`docs/detection.md`, "Template bands: matched at every position"). So each position counts
    no more than the account's weakest position, plus SLACK. A match is measured as the tie
    measures it, by the share of the band's holders in the community: a band of 212 holders,
    7 of them in a cluster that has drawn in genuine periphery, does not make a position
    matched. A network's member matches about equally at all four (unchanged); a collision
    at one or two positions counts next to nothing.

    What chance explains is taken off each position first (`chance`: per account and
    position, the match its prompts make there by chance, `chance_per_prompt`; an upper bound,
    since an account's exchanges outnumber its distinct prompts): an ordinary heavy user whose
    50 bands a position meet a network covering 4% of every position matches ~2 at each of the
    four, consistently, and that is not a shared template either.

    Per band row (`Incidence.band_rows`): its `holders`, band `position` and `concentration`
    (0: not a match)."""
    per_position = np.bincount(
        holders * LSH_BANDS + position, weights=concentration, minlength=accounts * LSH_BANDS
    ).reshape(accounts, LSH_BANDS)
    total = per_position.sum(axis=1)
    beyond = per_position if chance is None else np.maximum(per_position - chance, 0.0)
    counted = np.minimum(beyond, beyond.min(axis=1)[:, None] + SLACK).sum(axis=1)
    return np.asarray(np.where(total > 0, counted / np.maximum(total, 1e-12), 1.0), np.float64)


def member_ties(
    inc: Incidence, labels: I64, weights: dict[str, float], top: int
) -> tuple[I64, I64, I64]:
    """Each member's `top` strongest ties into its cluster, as (account, identifier, members
    of the cluster holding it) rows grouped by account, strongest first: what an analyst
    checks before acting on one account."""
    same, term = _tie_terms(inc, labels, weights)
    rows = np.flatnonzero(term > 0)
    if not rows.size:
        return rows, rows, rows
    # Only rows at or above their holder's `top`-th largest term can be kept: sorting those
    # (~1.6M at full usage) instead of every tied row (15.1M) gives the same rows, since
    # the mask keeps their order and the lexsort breaks ties by it (5-6 s -> 1.4 s).
    value = term[rows]
    rows = rows[value >= top_floor(inc.holders[rows], value, inc.accounts, top)]
    del value
    holder = inc.holders[rows]
    order = np.lexsort((-term[rows], holder))
    rows, holder = rows[order], holder[order]
    first = np.r_[True, np.diff(holder) != 0]
    start = np.maximum.accumulate(np.where(first, np.arange(first.size), 0))
    keep = np.arange(first.size) - start < top
    rows = rows[keep]
    return inc.holders[rows], inc.identifier_of_row[rows], same[rows]


def top_floor(group: I64, value: F64, groups: int, top: int) -> F64:
    """Per row, the `top`-th largest value of its group, counted with multiplicity (its
    group's smallest when the group has fewer rows). Values must be positive."""
    floor, left = np.zeros(groups), np.full(groups, top)
    live = np.ones(value.size, bool)
    for _ in range(top):
        largest = np.zeros(groups)
        np.maximum.at(largest, group[live], value[live])
        found = np.bincount(group[live & (value == largest[group])], minlength=groups)
        still = left > 0
        floor = np.where(still & (found > 0), largest, floor)
        left = np.where(still, left - found, left)
        live &= (value < largest[group]) & (left[group] > 0)
    return np.asarray(floor[group], np.float64)


TIE_FLOOR = 0.01  # see `best_ties`


def best_ties(
    inc: Incidence, labels: I64, weights: dict[str, float], outside: npt.NDArray[np.bool_]
) -> tuple[I64, F64]:
    """For each account in `outside`: the community it is most tied to and that tie, measured
    as `tie_strength` would measure it were the account a member (-1 and 0 for the others),
    its template bands counted by `band_consistency`'s rule.

    One sparse product (accounts x identifiers) @ (identifiers x communities). Terms under
    TIE_FLOOR are left out to keep it small: such a term is an identifier whose holders are
    almost all elsewhere (a /16 subnet, a public template band), and it takes 70 of them to make
    the tie of one ordinary shared card (1.0 at the same concentration).
    """
    n = labels.size
    best, tie = np.full(n, -1, np.int64), np.zeros(n)
    if not (labels >= 0).any() or not outside.any():
        return best, tie
    ident, comm, count = _count_pairs(inc, labels)
    base = np.array([weights.get(k, 0.0) for k in inc.kinds])[inc.kind[ident]]
    term = base * count / np.maximum(inc.degree[ident] - 1, 1)
    keep = term >= TIE_FLOOR
    n_comm = int(labels.max()) + 1
    per_identifier = sparse.csr_matrix(
        (term[keep], (ident[keep], comm[keep])), shape=(inc.degree.size, n_comm)
    )
    rows = inc.identifier_of_row
    held = outside[inc.holders]
    holds = sparse.csr_matrix(
        (np.ones(int(held.sum())), (inc.holders[held], rows[held])), shape=(n, inc.degree.size)
    )
    has, column, top = row_max((holds @ per_identifier).tocsr())
    best[has], tie[has] = column, top
    return best, tie - _inconsistent_bands(inc, labels, weights, best, (ident, comm, count))


def row_max(matrix: sparse.csr_matrix) -> tuple[npt.NDArray[np.bool_], I64, F64]:
    """Rows with a stored value, and per such row its largest value and the first column
    holding it: scipy's `argmax(axis=1)` and `max(axis=1)` for positive entries (every tie
    is), exactly, without scipy's Python loop over rows (3.3 s for 408,000 rows at full
    usage; this, 0.1 s). Sums duplicates in place, as scipy does before it looks."""
    matrix.sum_duplicates()
    counts = np.diff(matrix.indptr)
    has = counts > 0
    if not has.any():
        return has, np.zeros(0, np.int64), np.zeros(0)
    top = np.maximum.reduceat(matrix.data, matrix.indptr[:-1][has])
    row = np.repeat(np.arange(top.size), counts[has])
    at = np.flatnonzero(matrix.data == top[row])
    first = at[np.r_[True, row[at][1:] != row[at][:-1]]]
    return has, matrix.indices[first].astype(np.int64), np.asarray(top, np.float64)


def _inconsistent_bands(
    inc: Incidence,
    labels: I64,
    weights: dict[str, float],
    best: I64,
    pairs: tuple[I64, I64, I64],
) -> F64:
    """Per account: how much of its tie to `best` the band-position rule (`band_consistency`)
    takes away; each template band it holds matches when another account of `best` holds it.
    `pairs`: `_count_pairs`' (identifier, community, holders) rows."""
    ident, comm, count = pairs
    rows = inc.identifier_of_row
    position = inc.band_position[rows]
    target = best[inc.holders]
    candidate = np.flatnonzero((position >= 0) & (target >= 0))
    if not candidate.size or not ident.size:
        return np.zeros(best.size)
    n_comm = int(labels.max()) + 1
    key = ident * n_comm + comm  # sorted: `np.unique`'s order
    wanted = rows[candidate] * n_comm + target[candidate]
    at = np.minimum(np.searchsorted(key, wanted), key.size - 1)
    held = np.where(key[at] == wanted, count[at], 0)
    others = held - (labels[inc.holders[candidate]] == target[candidate])  # not the account
    matched, held = candidate[others >= 1], held[others >= 1]
    holder = inc.holders[matched]
    concentration = others[others >= 1] / inc.spread_of_row[matched]
    per_band = chance_per_prompt(inc, ident, comm, count, n_comm)
    share = band_consistency(
        holder, position[matched], concentration, best.size, _chance(inc.prompts, per_band, best)
    )
    # The terms the product above added for these bands (the same formula and floor).
    base = np.array([weights.get(k, 0.0) for k in inc.kinds])[inc.kind[rows[matched]]]
    term = base * held / inc.spread_of_row[matched]
    bands = np.bincount(holder, weights=np.where(term >= TIE_FLOOR, term, 0.0), minlength=best.size)
    return np.asarray(bands * (1.0 - share), np.float64)


def confidence(tie: F64, behaviour_similarity: F64) -> F64:
    strength = 1.0 - np.exp(-tie)
    return np.asarray(strength * (0.6 + 0.4 * behaviour_similarity), np.float64)


# Behaviour similarity of an account whose mix is unknown (no exchange, or no community).
BEHAVIOUR_UNKNOWN = 0.75
# How many exchanges "unknown" is worth where thin behaviour is not held against a member (a
# network an analyst confirmed, `pipeline.detect`): one per capability. Until an account has
# made about as many exchanges as there are capabilities its mix cannot show the shape of a mix
# over them, and one exchange is one capability. The number of capabilities in the contract,
# not fitted to any population. Not used elsewhere: on saved draws 22 and 25 it put 9 and 11
# genuine one-exchange accounts of flagged clusters on the ban list (`docs/detection.md`).
THIN_BEHAVIOUR_EXCHANGES = float(len(CAPS))


def behaviour_similarity(table: dict[str, F64], labels: I64, towards: I64 | None = None) -> F64:
    """Cosine of each account's capability mix to its community's mean mix (BEHAVIOUR_UNKNOWN
    if unknown).

    `towards`: the community to compare each account with, when not its own (an outsider
    weighed for attachment); the means are still those of `labels`' members."""
    towards = labels if towards is None else towards
    caps = np.column_stack([table[c] for c in CAPS])
    norms = np.linalg.norm(caps, axis=1)
    unit = caps / np.maximum(norms, 1e-9)[:, None]
    ok = labels >= 0
    n_comm = int(labels.max()) + 1 if ok.any() else 0
    centroid = np.zeros((max(n_comm, 1), caps.shape[1]))
    np.add.at(centroid, labels[ok], unit[ok])
    centroid /= np.maximum(np.linalg.norm(centroid, axis=1), 1e-9)[:, None]
    sim = np.full(labels.size, BEHAVIOUR_UNKNOWN)
    has = (towards >= 0) & (norms > 0)
    sim[has] = np.clip(np.einsum("ij,ij->i", unit[has], centroid[towards[has]]), 0.0, 1.0)
    return np.asarray(sim, np.float64)


def thin_shrunk(similarity: F64, table: dict[str, F64]) -> F64:
    """`similarity` shrunk toward BEHAVIOUR_UNKNOWN by how few exchanges it rests on: with n,
    it gets weight n / (n + THIN_BEHAVIOUR_EXCHANGES), so one exchange says little and many
    say what they say (an account with none stays unknown)."""
    n = np.column_stack([table[c] for c in CAPS]).sum(axis=1)
    k = THIN_BEHAVIOUR_EXCHANGES
    return np.asarray((n * similarity + k * BEHAVIOUR_UNKNOWN) / (n + k), np.float64)


def _per_community(values: F64, labels: I64, n_comm: int) -> F64:
    ok = labels >= 0
    return np.bincount(labels[ok], weights=values[ok], minlength=n_comm).astype(np.float64)


def _ratio(num: F64, den: F64) -> F64:
    return np.asarray(np.where(den > 0, num / np.maximum(den, 1e-12), 0.0), np.float64)


def score(
    table: dict[str, F64],
    labels: I64,
    inc: Incidence,
    matrix: sparse.csr_matrix,
    email_shape: I64,
    kin: I64 | None = None,
) -> Scored:
    """`kin`: (c, d) pairs of communities scored together, as the groups they join: parts of
    one network, each keeping at least half of its weight inside (`pipeline.cluster_ties`,
    `pipeline.network_groups`)."""
    n_comm = int(labels.max()) + 1 if (labels >= 0).any() else 0
    agg = {c: _per_community(table[c], labels, n_comm) for c in ACCOUNT_COLUMNS}
    size = np.bincount(labels[labels >= 0], minlength=n_comm).astype(np.float64)

    # Structure: internal edges and weight.
    coo = matrix.tocoo()
    row_label = labels[coo.row]
    inside = (row_label >= 0) & (row_label == labels[coo.col])
    inside_label = row_label[inside]
    edges = np.bincount(inside_label, minlength=n_comm).astype(np.float64)
    weight = np.asarray(
        np.bincount(inside_label, weights=coo.data[inside], minlength=n_comm), np.float64
    )
    density = _ratio(edges, size * (size - 1))

    # Signup burstiness: the largest share of members signing up within one hour.
    ok = np.flatnonzero(labels >= 0)
    key = labels[ok] * 10**10 + table["signup_s"][ok].astype(np.int64)
    key.sort()
    within = np.searchsorted(key, key + 3600, side="left") - np.arange(key.size)
    burst = np.zeros(n_comm)
    np.maximum.at(burst, key // 10**10, within)
    burstiness = _ratio(burst, size)

    # Email homogeneity: the most common local-part shape's share.
    shapes = int(email_shape.max()) + 1 if email_shape.size else 1  # a graph with no links yet
    uniq, counts = np.unique(labels[ok] * shapes + email_shape[ok], return_counts=True)
    top_shape = np.zeros(n_comm)
    np.maximum.at(top_shape, uniq // shapes, counts)

    # Template concentration: members holding a template band mostly used inside the community,
    # or inside its kin group (the communities `kin` joins, parts of one network): a
    # 14,000-account network Leiden cut in 13 holds each of its bands 1/13 per part, and one
    # the peel cut into card rings of eight, 1/1,400 per ring.
    ident, comm, count = _count_pairs(inc, labels)
    is_tpl = np.array([k == TEMPLATE_KIND for k in inc.kinds])[inc.kind[ident]]
    ident, comm, count = ident[is_tpl], comm[is_tpl], count[is_tpl]
    if kin is not None and len(kin) and ident.size:
        joined = sparse.csr_matrix((np.ones(len(kin)), (kin[:, 0], kin[:, 1])),
                                   shape=(n_comm, n_comm))  # fmt: skip
        kin_of = sparse.csgraph.connected_components(joined, directed=False)[1]
        _, together = np.unique(ident * n_comm + kin_of[comm], return_inverse=True)
        count = np.bincount(together, weights=count)[together].astype(np.int64)
    specific = (count >= 3) & (count * 2 >= inc.degree[ident])
    marked = np.zeros(inc.accounts, bool)
    if specific.any():
        # The rows whose (identifier, community) is a specific pair: only the rows of
        # identifiers that have one, looked up among the pairs (`np.isin` over every row
        # sorted them all: 1.8 s at full usage).
        wanted = ident[specific] * (n_comm + 1) + comm[specific]
        candidate = np.zeros(inc.degree.size, bool)
        candidate[ident[specific]] = True
        rows = np.flatnonzero(candidate[inc.identifier_of_row])
        lab = labels[inc.holders[rows]]
        key = inc.identifier_of_row[rows] * (n_comm + 1) + lab
        hit = (lab >= 0) & locate(wanted, key)[1]
        marked[inc.holders[rows[hit]]] = True
    template_conc = _ratio(_per_community(marked.astype(np.float64), labels, n_comm), size)

    # Timing: the share of the community's exchanges in its busiest two-hour window of the day,
    # above the share a uniform day gives (1/12). Accounts run by one operator on a schedule
    # sit in one window; genuine users spread over their own afternoons and time zones (a
    # one-country team: ~0.2 of traffic in its best two hours, ~0.13 after the baseline).
    # A few exchanges land in one window by chance (5 exchanges: often 3 in two hours), so the
    # share is taken with TIMING_PRIOR exchanges spread evenly added: the chance excess of the
    # busiest of 12 windows over n uniform exchanges shrinks like 1/sqrt(n), ~0.1 at n = 50.
    hours = np.column_stack([agg[h] for h in HOURS]) if n_comm else np.zeros((0, 24))
    window = hours + np.roll(hours, -1, axis=1)
    busiest = (window.max(axis=1, initial=0.0) + TIMING_PRIOR / 12) / (
        hours.sum(axis=1) + TIMING_PRIOR
    )
    timing = np.clip((busiest - 1 / 12) / (1 - 1 / 12), 0.0, 1.0)

    exchanges = agg["exchanges"]
    features = {
        "anonymised_ip_share": _ratio(agg["anon_ips"], agg["ips"]),
        "prepaid_virtual_share": _ratio(agg["risky_cards"], agg["cards"]),
        "card_country_mismatch": _ratio(agg["mismatched_cards"], agg["cards"]),
        "fast_adoption_share": _ratio(agg["fast_adopter"], size),
        "template_concentration": template_conc,
        "cot_rate": _ratio(agg["cot"], exchanges),
        "disposable_email_share": _ratio(agg["disposable"], size),
        "signup_burstiness": burstiness,
        "disputed_share": _ratio(agg["disputed"], agg["charges"]),
        "card_rotation": np.clip(_ratio(agg["cards"], size) - 1.0, 0.0, None),
        "volume": np.log10(1.0 + _ratio(exchanges, size)) / 3.0,
        "email_homogeneity": _ratio(top_shape, size),
        "timing_concentration": timing,
        "size": size,
        "density": density,
        "mean_link_weight": _ratio(weight, edges),
        "reasoning_share": _ratio(agg["cap_reasoning"], exchanges),
        "agentic_coding_share": _ratio(agg["cap_coding"] + agg["cap_agentic_tool_use"], exchanges),
        "exchanges_per_account": _ratio(exchanges, size),
        "cards_per_account": _ratio(agg["cards"], size),
    }
    names = tuple(RISK_WEIGHTS) + DESCRIPTIVE
    matrix_f = (
        np.column_stack([features[n] for n in names]) if n_comm else np.zeros((0, len(names)))
    )
    contrib = np.column_stack(
        [w * np.minimum(1.0, features[n] / s) for n, (w, s) in RISK_WEIGHTS.items()]
    ) if n_comm else np.zeros((0, len(RISK_WEIGHTS)))  # fmt: skip
    coordinated = [list(RISK_WEIGHTS).index(n) for n in COORDINATION]
    together = contrib[:, coordinated].sum(axis=1)
    share = np.minimum(1.0, COORDINATION_CAP / np.maximum(together, 1e-12))
    contrib[:, coordinated] *= share[:, None]
    risk = 1.0 / (1.0 + np.exp(-(BIAS + contrib.sum(axis=1))))
    return Scored(features=matrix_f, contributions=contrib, risk=risk, feature_names=names)


def evidence(
    inc: Incidence, labels: I64, weights: dict[str, float], top: int = 8
) -> dict[int, list[tuple[str, str, int, int]]]:
    """Per community, the identifiers its members share most: (kind, key, holders in it, degree)."""
    ident, comm, count = _count_pairs(inc, labels)
    shared = count >= 2
    ident, comm, count = ident[shared], comm[shared], count[shared]
    base = np.array([weights.get(k, 0.0) for k in inc.kinds])[inc.kind[ident]]
    conc = count / np.maximum(inc.degree[ident], 1)
    order = np.lexsort((-(base * count * conc), comm))
    # Rank within each community (order is grouped by community), keep the first `top`.
    grouped = comm[order]
    first = np.r_[0, np.flatnonzero(np.diff(grouped)) + 1]
    rank = np.arange(order.size) - np.repeat(first, np.diff(np.r_[first, order.size]))
    out: dict[int, list[tuple[str, str, int, int]]] = {}
    for i in order[rank < top].tolist():
        j = int(ident[i])
        out.setdefault(int(comm[i]), []).append(
            (inc.kinds[inc.kind[j]], inc.keys[j], int(count[i]), int(inc.degree[j]))
        )
    return out
