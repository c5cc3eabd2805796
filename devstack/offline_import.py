"""Replace the local stack's graph with `neo4j-admin database import full`, Neo4j stopped.

Only for a Neo4j this stack runs (`heracles up`): the importer writes the store files itself.
For any other Neo4j, `import_command` gives the command to run on that server.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console

from backend.core.config import Settings
from devstack import neo4j_home
from devstack.lifecycle import start_and_wait
from devstack.services import stack_for

ImporterLine = Callable[[str], None]
IMPORTER_HEAP = "2g"  # its large caches are off-heap (import_files.IMPORTER_OFF_HEAP)
DEPENDENTS = ("api", "beat", "worker")  # the stack's processes that hold a Neo4j driver
_QUIET = Console(quiet=True)  # the backfill shows its own progress


class NotOurNeo4j(RuntimeError):
    """Neo4j was not started by this stack, so its store cannot be replaced from here."""


class IncompleteImport(RuntimeError):
    """The import succeeded and what completes the graph failed (`when_imported`); the API,
    beat and worker were left stopped, so nothing is ingested onto that graph."""

    def __init__(self, stopped: list[str]) -> None:
        super().__init__(f"left stopped: {', '.join(stopped) or 'nothing'}")
        self.stopped = stopped


def import_command(settings: Settings, arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    return neo4j_home.admin_command(
        settings, "database", "import", "full", settings.NEO4J_DATABASE,
        "--overwrite-destination=true", *arguments, heap=IMPORTER_HEAP,
    )  # fmt: skip


def replace_store(
    settings: Settings,
    arguments: list[str],
    on_line: ImporterLine,
    log: Path,
    when_imported: Callable[[], None] = lambda: None,
) -> float:
    """Stop Neo4j (and what talks to it), import, start them again and wait until they
    answer; returns the import's seconds. They are started again even when the import fails,
    on whatever store is then in place.

    `when_imported` runs once the imported store answers and before the API, beat and worker
    start again, and only when the import succeeded: the backfill completes its graph and
    hands its event-id claims to ingest there, so no event can be ingested (and applied
    twice, or dropped with a replaced graph's journal) in between. Should it fail (or be
    interrupted), they stay stopped (`IncompleteImport`).
    """
    stack = stack_for(settings)
    if stack.supervisor.record("neo4j") is None:
        argv, _ = import_command(settings, arguments)
        raise NotOurNeo4j(
            "Neo4j is not one this stack started (`heracles up`), so its store cannot be "
            "replaced from here. Stop that server and run on it:\n  neo4j-admin "
            + " ".join(argv[argv.index("database") :])
        )
    argv, env = import_command(settings, arguments)
    # The import starts the store's transaction ids again from zero, and a driver that saw a
    # later id waits for it in vain (BookmarkTimeout): every process holding one restarts.
    running = [name for name in DEPENDENTS if stack.supervisor.record(name) is not None]
    # Neo4j is killed, not stopped: the import overwrites its store, so the checkpoint a clean
    # stop writes first buys nothing (6 s of the restart on `medium`). Should the import fail
    # before it writes, Neo4j recovers its store from the logs, as after any crash.
    timeouts = {name: 30.0 for name in running} | {"neo4j": 0.0}
    with ThreadPoolExecutor(len(timeouts)) as pool:  # each stop mostly waits
        list(pool.map(lambda name: stack.supervisor.stop(name, timeouts[name]), timeouts))
    started = time.perf_counter()
    try:
        seconds = _run_importer(argv, env, on_line, log, started)
    except BaseException:
        start_and_wait(stack, ("neo4j", *running), _QUIET)  # the store as it was, recovered
        raise
    start_and_wait(stack, ("neo4j",), _QUIET)
    try:
        when_imported()
    except BaseException as exc:
        raise IncompleteImport(running) from exc
    start_and_wait(stack, tuple(running), _QUIET)
    return seconds


def _run_importer(
    argv: list[str], env: dict[str, str], on_line: ImporterLine, log: Path, started: float
) -> float:
    with subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        tail: list[str] = []
        with log.open("w") as out:
            for line in process.stdout:
                out.write(f"{time.perf_counter() - started:8.1f}s {line}")
                on_line(line.rstrip())
                tail = [*tail[-40:], line]
        code = process.wait()
    if code != 0:
        raise RuntimeError(
            f"neo4j-admin database import failed ({code}), full output in {log}:\n" + "".join(tail)
        )
    return time.perf_counter() - started
