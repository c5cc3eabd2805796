"""Assemble and configure a Neo4j Community server from Maven Central artifacts.

The jars are copied once by Maven (`infra/neo4j/pom.xml`) into a shared distribution folder;
each stack (dev, test) gets its own home with conf, data and logs under its STATE_DIR.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from string import Template

from backend.core.config import PROJECT_ROOT, Settings

POM = PROJECT_ROOT / "infra" / "neo4j" / "pom.xml"
CONF_TEMPLATE = PROJECT_ROOT / "infra" / "neo4j" / "neo4j.conf"
DIST_DIR = PROJECT_ROOT / ".local" / "neo4j-dist"
MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
ADMIN_CLASS = "org.neo4j.server.startup.Neo4jAdminCommand"

# The JVM flags Neo4j's own launcher passes (Bootloader), minus the ones for other platforms.
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:+DebugNonSafepoints",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
)


class PrerequisiteError(RuntimeError):
    """A tool the stack needs is missing; the message says exactly how to install it."""


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home, "bin", "java") if java_home else None
    java = str(candidate) if candidate and candidate.exists() else shutil.which("java")
    if java is None:
        raise PrerequisiteError("Java 17 not found: apt-get install openjdk-17-jre-headless")
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', result.stderr + result.stdout)
    major = int(match.group(1)) if match else 0
    if major not in (17, 21):
        raise PrerequisiteError(
            f"{java} is Java {major or 'unknown'}; Neo4j 5.26 runs on Java 17 or 21: "
            "apt-get install openjdk-17-jre-headless (or point JAVA_HOME at a JDK 17)"
        )
    return java


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def ensure_distribution() -> Path:
    """Copy the server's runtime jars with Maven unless the current pom's jars are there."""
    lib = DIST_DIR / "lib"
    stamp = DIST_DIR / "pom.sha256"
    if stamp.exists() and stamp.read_text() == _pom_digest() and any(lib.glob("neo4j-*.jar")):
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PrerequisiteError("Maven not found: apt-get install maven")
    if lib.exists():
        shutil.rmtree(lib)
    result = subprocess.run(
        [
            mvn, "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={lib}",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise PrerequisiteError(
            "could not assemble Neo4j from Maven Central (mvn dependency:copy-dependencies):\n"
            + (result.stdout + result.stderr)[-3000:]
        )
    stamp.write_text(_pom_digest())
    return lib


def home_dir(settings: Settings) -> Path:
    return settings.STATE_DIR / "neo4j"


def render_conf(settings: Settings) -> str:
    home = home_dir(settings)
    return Template(CONF_TEMPLATE.read_text()).substitute(
        home=home,
        bolt_port=settings.neo4j_bolt_port,
        http_port=settings.NEO4J_HTTP_PORT,
        database=settings.NEO4J_DATABASE,
        heap=settings.NEO4J_HEAP,
        pagecache=settings.NEO4J_PAGECACHE,
        tx_memory=settings.NEO4J_HEAP,
    )


def _classpath(home: Path, lib: Path) -> str:
    return f"{home / 'plugins'}/*:{lib}/*"


def admin_command(
    settings: Settings, *args: str, heap: str = "1g"
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of `neo4j-admin <args>` for this stack's home."""
    java = java_executable()
    lib = ensure_distribution()
    home = home_dir(settings)
    # The launcher runs the command in a JVM of its own, sized by HEAP_SIZE (else the server's
    # heap setting); the importer takes its caches off-heap (`--max-off-heap-memory`).
    env = {
        **os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf"), "HEAP_SIZE": heap,
    }  # fmt: skip
    return [java, f"-Xmx{heap}", "-cp", _classpath(home, lib), ADMIN_CLASS, *args], env


def prepare_home(settings: Settings) -> list[str]:
    """Write the conf, set the initial password before the first start; returns the argv."""
    java = java_executable()
    lib = ensure_distribution()
    home = home_dir(settings)
    for sub in ("conf", "data", "logs", "plugins", "run", "import"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (home / "conf" / "neo4j.conf").write_text(render_conf(settings))
    if not (home / "data" / "databases" / "system").exists():
        argv, env = admin_command(
            settings, "dbms", "set-initial-password", settings.NEO4J_PASSWORD.get_secret_value()
        )
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PrerequisiteError(
                "neo4j-admin dbms set-initial-password failed:\n" + result.stdout + result.stderr
            )
    return [
        java,
        f"-Xms{settings.NEO4J_HEAP}",
        f"-Xmx{settings.NEO4J_HEAP}",
        *JVM_FLAGS,
        "-cp",
        _classpath(home, lib),
        MAIN_CLASS,
        f"--home-dir={home}",
        f"--config-dir={home / 'conf'}",
        "--console-mode",
    ]
