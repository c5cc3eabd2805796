"""The five components of the local stack, how each starts and how each proves it is ready."""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import neo4j
import redis

from backend.core.config import PROJECT_ROOT, Settings
from devstack import neo4j_home
from devstack.supervisor import Component, Supervisor

WORKER_NAME = "heracles-worker@%h"
ORDER = ("redis", "neo4j", "worker", "beat", "api")


def supervisor_for(settings: Settings) -> Supervisor:
    return Supervisor(settings.STATE_DIR / "run", settings.STATE_DIR / "logs")


def check_neo4j(settings: Settings) -> str | None:
    try:
        with (
            neo4j.GraphDatabase.driver(
                settings.NEO4J_URI,
                auth=(settings.NEO4J_USER, settings.NEO4J_PASSWORD.get_secret_value()),
                connection_timeout=2.0,
            ) as driver,
            driver.session(database=settings.NEO4J_DATABASE) as session,
        ):
            record = session.run("RETURN 1 AS one").single()
            return None if record is not None and record["one"] == 1 else "RETURN 1 gave no row"
    except Exception as exc:  # any failure is "not ready yet", reported verbatim
        return f"{type(exc).__name__}: {exc}"


def check_redis(settings: Settings) -> str | None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=1.0, socket_connect_timeout=1.0
    )
    try:
        return None if client.ping() else "PING failed"
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()


def check_worker(settings: Settings) -> str | None:
    from workers.app import app

    try:
        replies = app.control.ping(destination=[worker_hostname()], timeout=1.0)
    except Exception as exc:  # broker unreachable
        return f"{type(exc).__name__}: {exc}"
    return None if replies else "no reply to a control ping"


def check_beat(settings: Settings, supervisor: Supervisor) -> str | None:
    from workers.app import BEAT_ALIVE_KEY

    record = supervisor.record("beat")
    if record is None:
        return "not running"
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1.0)
    try:
        announced = client.get(BEAT_ALIVE_KEY)
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None if announced is not None and int(announced) == record.pid else "not announced yet"


def check_api(settings: Settings) -> str | None:
    try:
        response = httpx.get(f"{settings.api_url}/readyz", timeout=2.0)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return (
        None if response.status_code == 200 else f"/readyz {response.status_code}: {response.text}"
    )


def worker_hostname() -> str:
    return WORKER_NAME.replace("%h", socket.gethostname())


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def redis_conf(settings: Settings) -> Path:
    home = settings.STATE_DIR / "redis"
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "redis.conf"
    conf.write_text(
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {settings.redis_port}",
                f"dir {home}",
                "daemonize no",
                "appendonly yes",
                "appendfsync everysec",
                "save 300 100",
                "protected-mode yes",
                "",
            ]
        )
    )
    return conf


@dataclass(frozen=True)
class Stack:
    settings: Settings
    supervisor: Supervisor

    def component(self, name: str) -> Component:
        """Build one component's definition (may assemble Neo4j or check prerequisites)."""
        factory = FACTORIES.get(name)
        if factory is None:
            raise KeyError(name)
        return factory(self)

    def check(self, name: str) -> str | None:
        s = self.settings
        checks = {
            "redis": lambda: check_redis(s),
            "neo4j": lambda: check_neo4j(s),
            "worker": lambda: check_worker(s),
            "beat": lambda: check_beat(s, self.supervisor),
            "api": lambda: check_api(s),
        }
        return checks[name]()


def _redis(stack: Stack) -> Component:
    s = stack.settings
    if stack.supervisor.record("redis") is None and check_redis(s) is None:
        return Component("redis", (), lambda: check_redis(s), f"{s.REDIS_URL} (external)")
    server = _which_or_fail("redis-server", "apt-get install redis-server")
    # Redis answers only once it has loaded its append-only file: the claims of the full
    # preset's 32M events (2 GiB) take longer than 20 s to load (docs/benchmarks.md).
    return Component(
        "redis", (server, str(redis_conf(s))), lambda: check_redis(s), s.REDIS_URL, 180.0
    )


def _neo4j(stack: Stack) -> Component:
    s = stack.settings
    if stack.supervisor.record("neo4j") is None and _port_open(s.neo4j_bolt_port):
        if check_neo4j(s) is None:
            return Component("neo4j", (), lambda: check_neo4j(s), f"{s.NEO4J_URI} (external)")
        raise neo4j_home.PrerequisiteError(
            f"port {s.neo4j_bolt_port} is taken by something that does not accept our "
            "Neo4j credentials: stop it or set HERACLES_NEO4J_URI"
        )
    return Component(
        "neo4j",
        neo4j_home.prepare_home(s),
        lambda: check_neo4j(s),
        f"{s.NEO4J_URI} (Browser: http://127.0.0.1:{s.NEO4J_HTTP_PORT}/browser/)",
        ready_timeout_s=180.0,
    )


def _worker(stack: Stack) -> Component:
    s = stack.settings
    argv = (
        sys.executable, "-m", "celery", "-A", "workers.app", "worker",
        "--loglevel", s.LOG_LEVEL, "--concurrency", str(s.WORKER_CONCURRENCY),
        "-n", WORKER_NAME, "-Q", "heracles", "--without-gossip", "--without-mingle",
    )  # fmt: skip
    return Component(
        "worker", argv, lambda: check_worker(s), f"queue 'heracles' on {s.REDIS_URL}",
        ready_timeout_s=60.0, cwd=PROJECT_ROOT,
    )  # fmt: skip


def _beat(stack: Stack) -> Component:
    s = stack.settings
    schedule = s.STATE_DIR / "run" / "celerybeat-schedule"
    argv = (
        sys.executable, "-m", "celery", "-A", "workers.app", "beat",
        "--loglevel", s.LOG_LEVEL, "--schedule", str(schedule),
    )  # fmt: skip
    return Component(
        "beat", argv, lambda: check_beat(s, stack.supervisor), "celery beat",
        ready_timeout_s=60.0, cwd=PROJECT_ROOT,
    )  # fmt: skip


def _api(stack: Stack) -> Component:
    s = stack.settings
    if stack.supervisor.record("api") is None and _port_open(s.API_PORT):
        raise neo4j_home.PrerequisiteError(
            f"port {s.API_PORT} is taken by a process we did not start: "
            "stop it or set HERACLES_API_PORT"
        )
    argv = (
        sys.executable, "-m", "backend.api.serve",
        "--host", s.API_HOST, "--port", str(s.API_PORT), "--workers", str(s.API_WORKERS),
    )  # fmt: skip
    return Component(
        "api", argv, lambda: check_api(s),
        f"{s.api_url}  (console: {s.api_url}/ui, GraphQL: {s.api_url}/graphql, "
        f"metrics: {s.api_url}/metrics)",
        ready_timeout_s=60.0, cwd=PROJECT_ROOT,
    )  # fmt: skip


# The components by name, each built by its factory (the order they start in is lifecycle's).
FACTORIES: dict[str, Callable[[Stack], Component]] = {
    "redis": _redis,
    "neo4j": _neo4j,
    "worker": _worker,
    "beat": _beat,
    "api": _api,
}


def _which_or_fail(program: str, fix: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise neo4j_home.PrerequisiteError(f"{program} not found: {fix}")
    return path


def stack_for(settings: Settings) -> Stack:
    return Stack(settings, supervisor_for(settings))
