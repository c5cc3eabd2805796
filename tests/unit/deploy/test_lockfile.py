"""The lockfile installs what pyproject.toml pins: a dependency changed in one and not the other
is caught here, not by a machine that installs something else."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _pins(requirements: list[str]) -> dict[str, str]:
    out = {}
    for line in requirements:
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line.strip())
        if match:
            out[match[1].lower().replace("_", "-")] = match[2]
    return out


def _hashed(lock: str) -> dict[str, str]:
    entries = re.findall(
        r"^([A-Za-z0-9_.\-]+)==([^\s;]+)(?: ;[^\\\n]*)?((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)",
        lock, flags=re.M,
    )  # fmt: skip
    return {name.lower().replace("_", "-"): version for name, version, _ in entries}


def test_every_pin_is_locked_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for lock_name, wanted in (
        ("requirements.lock", [*project["dependencies"], *extras["dev"]]),
        ("requirements-deploy.lock", [*project["dependencies"], *extras["deploy"]]),
    ):
        text = (ROOT / lock_name).read_text()
        locked = _hashed(text)
        names = set(re.findall(r"^([A-Za-z0-9_.\-]+)==", text, flags=re.M))
        assert len(locked) == len(names), f"{lock_name}: an entry without hashes"
        for name, version in _pins(wanted).items():
            assert locked.get(name) == version, (lock_name, name, version, locked.get(name))
