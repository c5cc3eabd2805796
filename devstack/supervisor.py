"""Start, watch and stop the local stack's processes through pid files.

A pid file records the pid *and* the kernel's start time of that process, so `down` never
signals an unrelated process that happens to reuse a recorded pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ReadyCheck = Callable[[], str | None]  # None when ready, else why not


@dataclass(frozen=True)
class Component:
    name: str
    argv: Sequence[str]
    ready: ReadyCheck
    url: str
    ready_timeout_s: float = 60.0
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    @property
    def managed(self) -> bool:
        """False for a service found already running elsewhere (e.g. an existing Redis)."""
        return bool(self.argv)


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    start_ticks: int
    argv: list[str]


GROUP_EXIT_WAIT_S = 5.0


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: start time since boot, stable for the process's life."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after its closing paren are plain.
    after_comm = stat.rsplit(")", 1)[1].split()
    if after_comm[0] == "Z":  # a zombie is as good as gone
        return None
    return int(after_comm[19])


class Supervisor:
    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def record(self, name: str) -> ProcessRecord | None:
        """The live process we started under `name`, or None (a stale pid file is removed)."""
        path = self.pid_file(name)
        try:
            data = json.loads(path.read_text())
            record = ProcessRecord(int(data["pid"]), int(data["start_ticks"]), list(data["argv"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if _start_ticks(record.pid) != record.start_ticks:
            path.unlink(missing_ok=True)
            return None
        return record

    def start(self, component: Component) -> ProcessRecord:
        existing = self.record(component.name)
        if existing is not None:
            return existing
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file(component.name).open("ab") as log:
            process = subprocess.Popen(
                list(component.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=component.cwd,
                env={**os.environ, **component.env},
                start_new_session=True,  # own process group: `stop` reaches its children too
            )
        ticks = _start_ticks(process.pid)
        record = ProcessRecord(process.pid, ticks or 0, list(component.argv))
        self.pid_file(component.name).write_text(
            json.dumps({"pid": record.pid, "start_ticks": record.start_ticks, "argv": record.argv})
        )
        return record

    def wait_ready(self, component: Component) -> None:
        """Block until the component's check passes; raise with its log tail if it dies or hangs."""
        deadline = time.monotonic() + component.ready_timeout_s
        reason: str | None = "not checked yet"
        while time.monotonic() < deadline:
            if component.managed and self.record(component.name) is None:
                raise RuntimeError(
                    f"{component.name} exited while starting; last log lines:\n"
                    + self.log_tail(component.name)
                )
            reason = component.ready()
            if reason is None:
                return
            time.sleep(0.5)
        raise TimeoutError(
            f"{component.name} not ready after {component.ready_timeout_s:.0f}s ({reason}); "
            f"last log lines:\n{self.log_tail(component.name)}"
        )

    def stop(self, name: str, timeout_s: float = 30.0) -> bool:
        """SIGTERM the component's process group, SIGKILL it after `timeout_s`; True if it ran."""
        record = self.record(name)
        if record is None:
            self.pid_file(name).unlink(missing_ok=True)
            return False
        self._signal_group(record.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _start_ticks(record.pid) == record.start_ticks:
            time.sleep(0.2)
        if _start_ticks(record.pid) == record.start_ticks:
            self._signal_group(record.pid, signal.SIGKILL)
            while _start_ticks(record.pid) == record.start_ticks:
                time.sleep(0.1)
        # Children that outlived their leader (e.g. a prefork pool) share its group id; wait
        # (bounded) until the kernel has taken them too, so callers never see one still alive.
        self._signal_group(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + GROUP_EXIT_WAIT_S
        while self._group_alive(record.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pid_file(name).unlink(missing_ok=True)
        return True

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        """Any process of the group not yet dead (zombies waiting to be reaped count as dead)."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            fields = text.rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                return True
        return False

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            text = self.log_file(name).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def wait_all(supervisor: Supervisor, components: Sequence[Component]) -> None:
    for component in components:
        supervisor.wait_ready(component)
