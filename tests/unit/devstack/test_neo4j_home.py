from pathlib import Path

from backend.core.config import Settings
from backend.graph.model import IDENTIFIER_LABELS, MERGE_KEYS
from backend.graph.schema_queries import CONSTRAINT_STATEMENTS
from devstack import neo4j_home


def test_conf_renders_every_placeholder(tmp_path: Path) -> None:
    settings = Settings(
        STATE_DIR=tmp_path, NEO4J_URI="bolt://127.0.0.1:17687", NEO4J_HTTP_PORT=17474,
        NEO4J_HEAP="1g", NEO4J_PAGECACHE="2g",
    )  # fmt: skip
    conf = neo4j_home.render_conf(settings)
    assert "$" not in conf
    lines = dict(
        line.split("=", 1) for line in conf.splitlines() if line and not line.startswith("#")
    )
    assert lines["server.bolt.listen_address"] == "127.0.0.1:17687"
    assert lines["server.http.listen_address"] == "127.0.0.1:17474"
    assert lines["server.directories.data"] == f"{tmp_path}/neo4j/data"
    assert lines["dbms.security.auth_enabled"] == "true"
    assert lines["dbms.usage_report.enabled"] == "false"
    assert lines["server.memory.pagecache.size"] == "2g"


def test_jvm_flags_open_the_modules_neo4j_needs() -> None:
    for module in ("java.nio", "java.io", "sun.nio.ch"):
        assert f"--add-opens=java.base/{module}=ALL-UNNAMED" in neo4j_home.JVM_FLAGS
    assert "-Dio.netty.tryReflectionSetAccessible=true" in neo4j_home.JVM_FLAGS


def test_every_merge_key_has_a_uniqueness_constraint() -> None:
    assert len(CONSTRAINT_STATEMENTS) == len(MERGE_KEYS)
    for label in IDENTIFIER_LABELS:
        assert any(f"(n:{label}) REQUIRE n.key IS UNIQUE" in s for s in CONSTRAINT_STATEMENTS)
    assert all("IF NOT EXISTS" in statement for statement in CONSTRAINT_STATEMENTS)
