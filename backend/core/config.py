"""The one settings class: every knob is an env var `HERACLES_<NAME>` (or a line in `.env`)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.graph.model import LINKING

PLACEHOLDER_SECRET = "changethis"  # noqa: S105 - the placeholder prod refuses
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HERACLES_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    ENV: Literal["dev", "test", "prod"] = "dev"

    NEO4J_URI: str = "bolt://127.0.0.1:7687"
    NEO4J_USER: str = "neo4j"
    NEO4J_PASSWORD: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    NEO4J_DATABASE: str = "neo4j"
    NEO4J_HTTP_PORT: int = 7474
    # Sized for a 24 GiB box that also runs Redis, a worker and a 4 GiB detection refresh.
    NEO4J_HEAP: str = "4g"
    NEO4J_PAGECACHE: str = "6g"

    REDIS_URL: str = "redis://127.0.0.1:6379/0"

    API_HOST: str = "127.0.0.1"
    API_PORT: int = 8000
    # uvicorn worker processes; each holds its own Neo4j driver and token cache.
    API_WORKERS: int = 2
    # Bearer tokens (`heracles token create`) are cached this long after a hit, so a revoked
    # token stops working within this many seconds.
    API_TOKEN_CACHE_S: float = 5.0
    # GraphQL abuse limits (docs/api.md). Page sizes are capped at 500 whatever these say.
    # Longest a GraphQL request's read may run in Neo4j before the server ends it (the client
    # gets "query timed out"): an analyst's path or subgraph finishes in well under a second.
    API_QUERY_TIMEOUT_S: float = 10.0
    # `/metrics` answers only `Authorization: Bearer <METRICS_TOKEN>` when set; unset, it is
    # open outside prod (a scraper on the box) and off in prod (404).
    METRICS_TOKEN: SecretStr | None = None
    GRAPHQL_MAX_DEPTH: int = 10
    GRAPHQL_MAX_ALIASES: int = 15
    GRAPHQL_MAX_TOKENS: int = 2000
    # Objects one request may ask for (`api/graphql/cost.py`): about twice the costliest named
    # operation at its largest page (ClusterReview with 500 members: 13,042).
    GRAPHQL_MAX_COST: int = 25_000
    GRAPHQL_MAX_BODY_BYTES: int = 64 * 1024
    LOG_LEVEL: str = "INFO"

    # The built console (`make install` builds ui/ there; the image sets its own path).
    UI_DIST: Path = PROJECT_ROOT / "ui" / "dist"
    # Where the local stack keeps binaries, data, logs and pid files (git-ignored).
    STATE_DIR: Path = PROJECT_ROOT / ".local"
    WORKER_CONCURRENCY: int = 2
    # Events per Celery task, and how many tasks a producer keeps in flight (backpressure).
    INGEST_BATCH_SIZE: int = 2000
    INGEST_MAX_INFLIGHT: int = 8
    # How long an event id is remembered after its bucket was last touched (duplicates
    # arriving later than this would be applied again).
    INGEST_DEDUPE_TTL_S: int = 30 * 24 * 3600
    INGEST_MAX_BODY_BYTES: int = 16 * 1024 * 1024
    # Items per `POST /v1/events` body (a full body of ordinary events holds ~60,000; a body of
    # millions of two-byte lines is refused with 413 before anything is parsed).
    INGEST_MAX_EVENTS_PER_REQUEST: int = 100_000
    # The journal flusher (`backend.ingest.service.flush`): beat starts one this often; it
    # writes windows of up to this many events per transaction (a bigger window folds more
    # repeats into one row but holds more transaction memory), for at most this long per run,
    # under a lock that lapses after this long if its holder died.
    INGEST_FLUSH_INTERVAL_S: float = 1.0
    INGEST_FLUSH_MAX_EVENTS: int = 50_000
    INGEST_FLUSH_BUDGET_S: float = 300.0
    INGEST_FLUSH_LOCK_S: float = 60.0
    # Backpressure on the journal (in batches): `heracles ingest` waits and `POST /v1/events`
    # answers 503 while it is this long, so Redis memory stays bounded when Neo4j is slow or down.
    INGEST_MAX_JOURNAL_BACKLOG: int = 64
    # Redis memory the dead-letter store may reach with what the edge rejects (backend/ingest/
    # dlq.py): a million rejected events of a few hundred bytes; past it, rejections are still
    # reported to the sender but not kept.
    INGEST_DLQ_MAX_BYTES: int = 512 * 1024 * 1024

    # An account is flagged when its cluster's risk reaches this and its membership confidence
    # reaches the minimum ban tooling acts on.
    DETECTION_FLAG_THRESHOLD: float = 0.5
    # Above 0.6 no account qualifies on shared identifiers alone: a member that behaves
    # nothing like its cluster has confidence <= 0.6 however tightly it is tied; in a network
    # an analyst confirmed, only once that behaviour rests on a dozen exchanges (docs/detection.md).
    DETECTION_MIN_CONFIDENCE: float = 0.7
    # Ban tooling's gate inside clusters an analyst confirmed as fraud (and their networks).
    # 0.5, the peel's bar, flags a regrowth account at its first exchange (its one capability
    # puts its behaviour similarity at 0.15-0.19, its confidence at 0.54-0.70) but also banned
    # 3 genuine members of confirmed clusters on one replay draw of three (docs/benchmarks.md,
    # "Early detection"). Thin behaviour is no longer held against such members
    # (`pipeline.vouched`, measured on fresh draws), so the default is the same 0.7 as
    # elsewhere: lower it knowingly.
    DETECTION_CONFIRMED_MIN_CONFIDENCE: float = 0.7
    # Projection (docs/detection.md): each shared identifier gives its holders `weight[kind]`,
    # split among them and discounted by rarity; identifiers held by more than LINK_CAP
    # accounts (CGNAT, popular templates, company-wide webmail) do not link, and those above
    # FEATURE_CAP are not even exported.
    DETECTION_KIND_WEIGHTS: dict[str, float] = {
        "PAID_WITH": 1.0, "USED_DEVICE": 1.0, "HAS_EMAIL": 1.0, "HAS_PHONE": 0.9,
        "BILLED_TO": 0.8, "EMAIL_DOMAIN": 0.4, "USED_TEMPLATE": 0.35, "USED_CLIENT": 0.3,
        "USED_IP": 0.3, "USED_SUBNET": 0.1,
    }  # fmt: skip
    DETECTION_LINK_CAP: int = 200
    DETECTION_FEATURE_CAP: int = 20_000
    DETECTION_EXACT_MAX: int = 32  # larger identifiers link a sample of pairs, same totals
    # Neo4j runs each query or transaction on one core: as many reads in flight, and as many
    # write-back lanes (split by cluster, no shared locks), as the machine has cores (≤ 4).
    DETECTION_READ_THREADS: int = max(1, min(4, os.cpu_count() or 2))
    DETECTION_WRITE_LANES: int = max(1, min(4, os.cpu_count() or 2))
    DETECTION_SAMPLE_ROUNDS: int = 6
    DETECTION_RESOLUTION: float = 1.0
    # Leiden passes (-1: until nothing moves). Two already converged on the seeds (medium: same
    # precision and recall as -1, communities stage 68 s -> 4 s); one gives the same precision,
    # recall, worst network, genuine count and network ids kept on all 18 saved robustness draws
    # and the full preset, warm-started as every refresh but the first is, for ~6 s less at a
    # million accounts (docs/benchmarks.md, "Full preset"). The peel, not Leiden, draws the
    # clusters' edges; a second pass only reshuffles the genuine periphery it peels anyway.
    DETECTION_LEIDEN_ITERATIONS: int = 1
    # Passes on a cold start (no previous refresh to start from). One pass from singletons
    # scattered a thin behaviour-only network over the subnets of its members' genuine
    # neighbours (a /24 partner's edge outweighs any one of its diffuse template-band edges),
    # although modularity is higher with it whole; a later pass moves the network's refined
    # fragments as units and finds it (docs/detection.md, "Communities and the second pass").
    # The cold start then settles: the stages run once more from where these passes left it.
    DETECTION_LEIDEN_COLD_ITERATIONS: int = 3
    DETECTION_MIN_CLUSTER_SIZE: int = 5
    DETECTION_SEED: int = 7
    DETECTION_REFRESH_INTERVAL_S: int = 15 * 60
    # The incremental refresh (only what ingest touched since, and its neighbourhood; 0 turns
    # it off). The full one above stays the safety net for what it cannot see.
    DETECTION_INCREMENTAL_INTERVAL_S: int = 60
    # A region larger than this share of the accounts gets a full refresh instead: it would
    # cost most of one while only approximating it (`docs/detection.md`).
    DETECTION_INCREMENTAL_MAX_SHARE: float = 0.2
    # Keep the last refresh's whole-graph incidence on the worker's disk (under STATE_DIR), so
    # an incremental refresh reads from Neo4j only what ingest touched, not its whole region
    # (`detection/snapshot_cache.py`; 55 MB a million accounts). Off: always the region.
    DETECTION_INCIDENCE_CACHE: bool = True
    # A full refresh starts from that kept incidence too, brought up to date by what ingest
    # marked (~1 s against 17-24 s of reading a million accounts' links), unless the kept one
    # was last read whole from Neo4j longer ago than this. Ingest, the only writer of links,
    # marks every account it writes, so the whole read is a net for what nothing marks (a
    # Cypher fix by hand): six hours bounds how long detection can miss one, and one scheduled
    # full refresh in 24 (every 15 minutes) pays for the read. 0: read whole every time.
    DETECTION_EXPORT_MAX_AGE_S: int = 6 * 3600
    DETECTION_LOCK_TTL_S: int = 30 * 60
    # Redis transport: an unacked task is redelivered this long after its worker died.
    CELERY_VISIBILITY_TIMEOUT_S: int = 600

    @property
    def neo4j_bolt_port(self) -> int:
        return urlsplit(self.NEO4J_URI).port or 7687

    @property
    def redis_port(self) -> int:
        return urlsplit(self.REDIS_URL).port or 6379

    @property
    def api_url(self) -> str:
        return f"http://{self.API_HOST}:{self.API_PORT}"

    @model_validator(mode="after")
    def _absolute_state_dir(self) -> Self:
        """Neo4j resolves relative paths against its own home, so only absolute ones are safe."""
        if not self.STATE_DIR.is_absolute():
            self.STATE_DIR = (PROJECT_ROOT / self.STATE_DIR).resolve()
        return self

    @model_validator(mode="after")
    def _kind_weights_name_linking_kinds(self) -> Self:
        """A misspelt kind would silently weigh nothing: only the graph model's linking kinds
        (`graph.model.LINKING`) may be weighed, and no weight is negative."""
        unknown = sorted(set(self.DETECTION_KIND_WEIGHTS) - LINKING)
        if unknown:
            raise ValueError(
                f"HERACLES_DETECTION_KIND_WEIGHTS names {', '.join(unknown)}, which do not link "
                f"accounts; the kinds that do: {', '.join(sorted(LINKING))}"
            )
        negative = sorted(k for k, w in self.DETECTION_KIND_WEIGHTS.items() if w < 0)
        if negative:
            raise ValueError(f"HERACLES_DETECTION_KIND_WEIGHTS: {', '.join(negative)} below 0")
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        """API tokens live hashed in the graph (`heracles token create`); the one secret in
        settings is the database password."""
        if self.ENV == "prod" and self.NEO4J_PASSWORD.get_secret_value() == PLACEHOLDER_SECRET:
            raise ValueError(
                f"HERACLES_NEO4J_PASSWORD is the placeholder {PLACEHOLDER_SECRET!r}: "
                "set a real secret before running with HERACLES_ENV=prod"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings, read once; tests build their own `Settings(...)` instead."""
    return Settings()
