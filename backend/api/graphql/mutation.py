"""The Mutation root. Each mutation is audited in the transaction that makes the change."""

from __future__ import annotations

import strawberry
from starlette.concurrency import run_in_threadpool

from backend.api.graphql.context import Info
from backend.api.graphql.errors import ClientError, not_found
from backend.api.graphql.types.account import Account, load_account
from backend.api.graphql.types.cluster import Cluster, load_cluster
from backend.api.graphql.types.common import Note, Verdict
from backend.graph.model import Verdict as VerdictValue
from backend.investigation.records import to_datetime
from backend.review import service
from backend.review.service import NotFound, TargetKind


@strawberry.type
class RefreshRequest:
    task_id: str = strawberry.field(description="The Celery task id of the queued refresh.")


async def _verdict(
    info: Info, kind: TargetKind, target: str, verdict: VerdictValue, note: str | None
) -> None:
    ctx = info.context
    try:
        await service.set_verdict(
            ctx.driver, ctx.database, ctx.caller(), kind, target, verdict, note
        )
    except NotFound as exc:
        raise not_found(f"{kind.value} {target!r}") from exc
    except ValueError as exc:
        raise ClientError(str(exc)) from exc


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Set a cluster's verdict; also appended to the change feed.")
    async def set_cluster_verdict(
        self,
        info: Info,
        id: strawberry.ID,
        verdict: Verdict,
        note: str | None = None,
    ) -> Cluster:
        await _verdict(info, TargetKind.CLUSTER, str(id), VerdictValue(verdict.value), note)
        info.context.loaders.cluster.clear_all()
        cluster = await load_cluster(info, str(id))
        assert cluster is not None
        return cluster

    @strawberry.mutation(
        description="Set an account's own verdict: an exception inside its cluster (e.g. a "
        "genuine customer behind the same proxy exit is marked FALSE_POSITIVE and leaves the "
        "ban feed)."
    )
    async def set_account_verdict(
        self,
        info: Info,
        id: strawberry.ID,
        verdict: Verdict,
        note: str | None = None,
    ) -> Account:
        await _verdict(info, TargetKind.ACCOUNT, str(id), VerdictValue(verdict.value), note)
        info.context.loaders.account.clear_all()
        account = await load_account(info, str(id))
        assert account is not None
        return account

    @strawberry.mutation(description="Add a note to a cluster or an account (exactly one).")
    async def add_note(
        self, info: Info, text: str, cluster_id: strawberry.ID | None = None,
        account_id: strawberry.ID | None = None,
    ) -> Note:  # fmt: skip
        if (cluster_id is None) == (account_id is None):
            raise ClientError("give exactly one of `clusterId` and `accountId`")
        kind, target = (
            (TargetKind.CLUSTER, str(cluster_id))
            if cluster_id is not None
            else (TargetKind.ACCOUNT, str(account_id))
        )
        ctx = info.context
        try:
            note = await service.add_note(
                ctx.driver, ctx.database, ctx.caller(), kind, target, text
            )
        except NotFound as exc:
            raise not_found(f"{kind.value} {target!r}") from exc
        except ValueError as exc:
            raise ClientError(str(exc)) from exc
        return Note(
            id=strawberry.ID(note.id), text=note.text,
            author=ctx.caller().name,
            at=to_datetime(note.at_ms),
        )  # fmt: skip

    @strawberry.mutation(
        description="Queue a detection refresh now (skipped by the worker if one is running)."
    )
    async def request_refresh(self, info: Info) -> RefreshRequest:
        from backend.detection.tasks import refresh_task

        result = await run_in_threadpool(refresh_task.delay)
        ctx = info.context
        await service.audit_refresh_request(ctx.driver, ctx.database, ctx.caller(), result.id)
        return RefreshRequest(task_id=result.id)
