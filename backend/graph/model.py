"""The graph's vocabulary: node labels and the key each one is merged on.

Every label here gets a uniqueness constraint (see `schema_queries`), so concurrent MERGEs
from parallel batches can never create the same node twice.
"""

from __future__ import annotations

ACCOUNT = "Account"
CLUSTER = "Cluster"

# Identifier kinds: what accounts share. Each node is merged on its canonical `key`.
IDENTIFIER_LABELS: tuple[str, ...] = (
    "PaymentMethod",
    "Device",
    "IP",
    "Subnet",
    "ASN",
    "ProxyProvider",
    "Email",
    "EmailDomain",
    "Phone",
    "BillingAddress",
    "ClientFingerprint",
    "PromptTemplateBand",
    "Model",
)

# (label, key property) for every node kind that writes MERGE on.
MERGE_KEYS: tuple[tuple[str, str], ...] = (
    (ACCOUNT, "id"),
    (CLUSTER, "id"),
    ("SmokeCheck", "id"),
    *((label, "key") for label in IDENTIFIER_LABELS),
)
