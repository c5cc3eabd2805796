"""Account-level detection quality against labels. Pure numpy: unit-tested without a graph.

An account's score is the risk of the cluster it belongs to (0 when it is in none, or when its
membership confidence is below the minimum ban tooling would use); it is flagged when the
score reaches the platform's threshold.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from backend.evaluation.repository import Membership


@dataclass(frozen=True)
class CampaignResult:
    campaign: str
    accounts: int
    recall: float
    best_cluster: str | None
    best_cluster_share: float  # of the campaign's accounts found in that cluster
    best_cluster_purity: float  # of that cluster's members that belong to the campaign


@dataclass(frozen=True)
class Evaluation:
    threshold: float
    labelled: int
    fake: int
    genuine: int
    flagged: int
    precision: float
    recall: float
    f1: float
    genuine_flagged: int
    unlabelled_members: int
    campaigns: list[CampaignResult]
    # (threshold, P, R) at every threshold that flags at least one account: where nothing is
    # flagged precision is undefined, and a (0, 0) point there drew a segment no threshold gives.
    curve: list[tuple[float, float, float]] = field(default_factory=list)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def evaluate(
    labels: dict[str, str | None],
    memberships: Iterable[Membership],
    threshold: float,
    min_confidence: float = 0.0,
) -> Evaluation:
    accounts = list(labels)
    index = {account: i for i, account in enumerate(accounts)}
    is_fake = np.fromiter(
        (labels[a] is not None for a in accounts), dtype=bool, count=len(accounts)
    )
    score = np.zeros(len(accounts))
    cluster_of: dict[str, str] = {}
    cluster_members: dict[str, list[str]] = defaultdict(list)
    unlabelled = 0
    for m in memberships:
        i = index.get(m.account)
        if i is None:
            unlabelled += 1
            continue
        cluster_members[m.cluster].append(m.account)
        cluster_of[m.account] = m.cluster
        if m.confidence >= min_confidence:
            score[i] = max(score[i], m.risk)

    flagged = score >= threshold if threshold > 0 else score > 0
    tp = int(np.count_nonzero(flagged & is_fake))
    n_flagged = int(np.count_nonzero(flagged))
    precision, recall = _ratio(tp, n_flagged), _ratio(tp, int(is_fake.sum()))
    f1 = _ratio(2 * precision * recall, precision + recall)

    campaigns = []
    by_campaign: dict[str, list[int]] = defaultdict(list)
    for account, campaign in labels.items():
        if campaign is not None:
            by_campaign[campaign].append(index[account])
    for campaign, rows in sorted(by_campaign.items()):
        members = np.array(rows)
        clusters = Counter(cluster_of[accounts[i]] for i in rows if accounts[i] in cluster_of)
        best, hits = clusters.most_common(1)[0] if clusters else (None, 0)
        purity = _ratio(hits, len(cluster_members[best])) if best else 0.0
        campaigns.append(
            CampaignResult(campaign, len(rows), _ratio(int(flagged[members].sum()), len(rows)),
                           best, _ratio(hits, len(rows)), purity)
        )  # fmt: skip

    curve = []
    for t in np.linspace(0.0, 1.0, 101)[1:]:
        f = score >= t
        if not f.any():
            continue
        curve.append(
            (float(t), _ratio(int(np.count_nonzero(f & is_fake)), int(np.count_nonzero(f))),
             _ratio(int(np.count_nonzero(f & is_fake)), int(is_fake.sum())))
        )  # fmt: skip
    return Evaluation(
        threshold=threshold, labelled=len(accounts), fake=int(is_fake.sum()),
        genuine=int((~is_fake).sum()), flagged=n_flagged, precision=precision, recall=recall,
        f1=f1, genuine_flagged=int(np.count_nonzero(flagged & ~is_fake)),
        unlabelled_members=unlabelled, campaigns=campaigns, curve=curve,
    )  # fmt: skip
