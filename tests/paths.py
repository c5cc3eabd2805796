"""Where tests find the shared contract: `../shared` beside the checkout (as CI lays it out),
or HERACLES_SHARED_DIR."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HERACLES_SHARED_DIR", ROOT.parent / "shared"))
EXAMPLES = SHARED / "spec" / "examples.jsonl"

if not EXAMPLES.exists():
    raise RuntimeError(
        f"{EXAMPLES} not found: the event contract's examples must sit in ../shared/spec/ "
        "beside this checkout (or set HERACLES_SHARED_DIR)"
    )
