"""What the machine did during a benchmark run, from /proc: CPU steal and busy share, load, and
the CPU time each process tree used. Absolute latencies on shared 2-core machines drift from
run to run; these figures say how far a run's machine was from idle, next to every result."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _system_ticks() -> list[int]:
    """user nice system idle iowait irq softirq steal (the aggregate `cpu` line)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    return [int(f) for f in fields]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and every live descendant."""
    tree, total, todo = _children(), 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
        todo.extend(tree.get(p, []))
    return total


@dataclass
class Window:
    """CPU use between `start()` and `stop()`: the machine's, and each named process tree's."""

    pids: dict[str, int]
    _ticks: list[int] | None = None
    _cpu: dict[str, float] | None = None
    _self: float = 0.0
    _started: float = 0.0

    def start(self) -> Window:
        self._ticks = _system_ticks()
        self._cpu = {name: tree_cpu_s(pid) for name, pid in self.pids.items()}
        self._self = _own_cpu_s()
        self._started = time.perf_counter()
        return self

    def stop(self) -> dict[str, float]:
        """Shares over the window's own wall time (a saturated run overruns its nominal one)."""
        assert self._ticks is not None and self._cpu is not None
        seconds = time.perf_counter() - self._started
        delta = [b - a for a, b in zip(self._ticks, _system_ticks(), strict=True)]
        total = sum(delta) or 1
        out = {
            "steal_pct": round(100 * delta[7] / total, 1),
            "busy_pct": round(100 * (total - delta[3] - delta[4]) / total, 1),
            "load_generator_cores": round((_own_cpu_s() - self._self) / seconds, 2),
        }
        for name, pid in self.pids.items():
            out[f"{name}_cores"] = round((tree_cpu_s(pid) - self._cpu[name]) / seconds, 2)
        return out


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def describe() -> dict[str, object]:
    """The machine before a run: cores, load averages, steal since boot."""
    ticks = _system_ticks()
    return {
        "cores": os.cpu_count(),
        "load_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "steal_since_boot_pct": round(100 * ticks[7] / (sum(ticks) or 1), 2),
    }
