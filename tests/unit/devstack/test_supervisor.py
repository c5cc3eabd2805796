import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack.supervisor import Component, Supervisor, _start_ticks

# A process that starts a child in its group, so `stop` must reach the whole group.
PARENT_WITH_CHILD = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "print('started', flush=True); time.sleep(60)"
)


def _component(name: str, code: str, ready: str | None = None) -> Component:
    return Component(name, (sys.executable, "-c", code), lambda: ready, "here", ready_timeout_s=5)


def test_start_records_pid_and_stop_kills_the_whole_group(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "run", tmp_path / "logs")
    record = supervisor.start(_component("svc", PARENT_WITH_CHILD))
    assert supervisor.record("svc") == record
    time.sleep(0.5)
    children = subprocess.run(
        ["pgrep", "-g", str(record.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert len(children) == 2
    assert supervisor.start(_component("svc", PARENT_WITH_CHILD)).pid == record.pid  # idempotent
    assert supervisor.stop("svc", timeout_s=5)
    for pid in children:
        assert _start_ticks(int(pid)) is None
    assert not supervisor.pid_file("svc").exists()
    assert not supervisor.stop("svc")


def test_stop_without_grace_kills_a_process_that_would_take_its_time(tmp_path: Path) -> None:
    """What `offline_import` does to Neo4j, whose store it is about to overwrite: no wait for a
    clean shutdown (here one that ignores SIGTERM and would run for a minute)."""
    supervisor = Supervisor(tmp_path / "run", tmp_path / "logs")
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    record = supervisor.start(_component("svc", stubborn))
    time.sleep(0.5)
    started = time.monotonic()
    assert supervisor.stop("svc", timeout_s=0)
    assert time.monotonic() - started < 5
    assert _start_ticks(record.pid) is None
    assert not supervisor.pid_file("svc").exists()


def test_stale_pid_file_never_signals_a_reused_pid(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "run", tmp_path / "logs")
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "run").mkdir()
        supervisor.pid_file("svc").write_text(
            json.dumps({"pid": bystander.pid, "start_ticks": 1, "argv": ["x"]})
        )
        assert supervisor.record("svc") is None
        assert not supervisor.stop("svc")
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_wait_ready_reports_a_crash_with_its_log(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "run", tmp_path / "logs")
    crashing = _component("bad", "import sys; print('boom: bad config'); sys.exit(3)", "no")
    supervisor.start(crashing)
    with pytest.raises(RuntimeError, match="boom: bad config"):
        supervisor.wait_ready(crashing)


def test_wait_ready_times_out_with_reason(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "run", tmp_path / "logs")
    slow = Component(
        "slow", (sys.executable, "-c", "import time; time.sleep(30)"),
        lambda: "port closed", "here", ready_timeout_s=1,
    )  # fmt: skip
    supervisor.start(slow)
    try:
        with pytest.raises(TimeoutError, match="port closed"):
            supervisor.wait_ready(slow)
    finally:
        supervisor.stop("slow", timeout_s=2)
