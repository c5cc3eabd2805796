"""`heracles up | down | status`: the local stack as one unit, in dependency order."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from backend.core.config import Settings
from backend.graph.driver import create_driver
from backend.graph.schema_queries import migrate
from devstack.services import ORDER, Stack, stack_for
from devstack.supervisor import Component


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    healthy: bool
    managed: bool
    pid: int | None
    detail: str


def start_and_wait(stack: Stack, names: tuple[str, ...], console: Console) -> list[Component]:
    """Start `names` (those this stack manages), then wait until each answers."""
    components = [stack.component(name) for name in names]
    for component in components:
        if component.managed:
            record = stack.supervisor.start(component)
            log = stack.supervisor.log_file(component.name)
            console.print(f"[dim]{component.name}: pid {record.pid}, log {log}[/]")
    for component in components:
        started = time.monotonic()
        stack.supervisor.wait_ready(component)
        console.print(f"[green]✓[/] {component.name} ready ({time.monotonic() - started:.1f}s)")
    return components


def up(settings: Settings, console: Console) -> None:
    stack = stack_for(settings)
    components = start_and_wait(stack, ("redis", "neo4j"), console)
    driver = create_driver(settings)
    try:
        constraints = migrate(driver, settings.NEO4J_DATABASE)
    finally:
        driver.close()
    console.print(f"[green]✓[/] graph schema migrated ({len(constraints)} constraints)")
    components += start_and_wait(stack, ("worker", "beat", "api"), console)
    table = Table(title="Heracles local stack", show_lines=False)
    table.add_column("component")
    table.add_column("where")
    for component in components:
        table.add_row(component.name, component.url)
    table.add_row("logs", str(stack.supervisor.log_dir))
    console.print(table)


def down(settings: Settings, console: Console) -> list[str]:
    """Stop, in reverse order, exactly the processes our pid files name."""
    stack = stack_for(settings)
    stopped = []
    # Neo4j checkpoints on shutdown; a worker finishes its current batch (warm shutdown).
    timeouts = {"neo4j": 60.0, "worker": 30.0}
    for name in reversed(ORDER):
        if stack.supervisor.stop(name, timeouts.get(name, 15.0)):
            stopped.append(name)
            console.print(f"stopped {name}")
    if not stopped:
        console.print("nothing of ours was running")
    return stopped


def status(settings: Settings) -> list[ComponentStatus]:
    stack = stack_for(settings)
    result = []
    for name in ORDER:
        record = stack.supervisor.record(name)
        reason = stack.check(name)
        if record is None and reason is None:
            detail = "healthy (not started by us)"
        elif reason is None:
            detail = "healthy"
        elif record is None:
            detail = "not running"
        else:
            detail = f"running, not healthy: {reason}"
        result.append(
            ComponentStatus(
                name, reason is None, record is not None, record.pid if record else None, detail
            )
        )
    return result
