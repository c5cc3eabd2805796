"""The console in Debian's Chromium against the bench stack's graph as it stands (load and refresh
it first, e.g. `make bench-backfill` + `heracles refresh --wait`): time from "Sign in" to the
triage queue drawn, and from opening a cluster's link to its network drawn (the renderer's node
count set), for the active cluster nearest 1,500 members and the largest; then the longest task
the page ran in the 4 s after that first drawing (the layout refines itself meanwhile). Also the
bundle's gzipped size: what the first page loads, the explorer's lazy chunk, everything."""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import time
from pathlib import Path
from typing import Any

from neo4j import GraphDatabase
from playwright.sync_api import Page, sync_playwright
from rich.console import Console

from backend.auth.roles import Role
from backend.auth.tokens import create_token
from backend.core.config import Settings, get_settings
from benchmarks.machine import Window, describe
from benchmarks.seeded import report
from tests.integration.api.test_console import CHROMIUM, CHROMIUM_ARGS

SETTLE_S = 4.0
LONG_TASKS = """
window.__longtasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
}).observe({ type: "longtask", buffered: true });
"""


def _gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


def bundle_sizes(dist: Path) -> dict[str, float]:
    """KiB gzipped: the first page (index.html and what it references), the explorer's chunks
    (everything not reachable without opening it) and the whole build."""
    index = (dist / "index.html").read_text()
    first = {dist / "index.html"} | {
        dist / ref.removeprefix("/ui/") for ref in re.findall(r'(?:src|href)="(/ui/[^"]+)"', index)
    }
    everything = [p for p in dist.rglob("*") if p.is_file()]
    total = sum(_gz(p) for p in everything)
    first_kib = sum(_gz(p) for p in first if p.is_file())
    return {
        "first page (KiB gz)": round(first_kib / 1024, 1),
        "whole build incl. explorer (KiB gz)": round(total / 1024, 1),
    }


def pick_clusters(settings: Settings) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    auth = ("neo4j", settings.NEO4J_PASSWORD.get_secret_value())
    with GraphDatabase.driver(settings.NEO4J_URI, auth=auth) as driver:
        db = settings.NEO4J_DATABASE
        graph = driver.execute_query(
            "MATCH (a:Account) WITH count(a) AS accounts "
            "MATCH (c:Cluster {status: 'active'}) RETURN accounts, count(c) AS clusters",
            database_=db,
        ).records[0]
        mid = driver.execute_query(
            "MATCH (c:Cluster {status: 'active'}) RETURN c.id AS id, c.size AS size "
            "ORDER BY abs(c.size - 1500), c.id LIMIT 1",
            database_=db,
        ).records
        top = driver.execute_query(
            "MATCH (c:Cluster {status: 'active'}) RETURN c.id AS id, c.size AS size "
            "ORDER BY c.size DESC, c.id LIMIT 1",
            database_=db,
        ).records
        token = create_token(driver, db, f"bench-ui-{int(time.time())}", Role.ANALYST)[1]
    clusters = [dict(r) for r in (*mid, *top)]
    return {"accounts": graph["accounts"], "clusters": graph["clusters"], "token": token}, clusters


def mark(page: Page, name: str) -> float:
    """A `performance.mark` the console set (ms from the page's navigation start)."""
    return float(page.evaluate("(n) => performance.getEntriesByName(n)[0].startTime", name))


def open_cluster(page: Page, url: str) -> dict[str, float]:
    """Times from the page's own clock: navigation start to the renderer's first frame. The
    driver's view of it (polling the DOM) lags by up to a second while the layout worker and
    the software WebGL renderer share two cores with the page."""
    page.goto(url)
    page.wait_for_selector("[data-testid=graph][data-rendered-nodes]", timeout=60_000)
    drawn_at = mark(page, "graph:drawn")
    drawn_s = drawn_at / 1000
    page.wait_for_timeout(SETTLE_S * 1000)
    tasks = page.evaluate("window.__longtasks")
    # The task that draws the first frame ends at `drawn_at`; "after" is what starts later.
    after = [d for s, d in tasks if s >= drawn_at]
    return {
        "drawn_s": drawn_s,
        "nodes": float(page.get_attribute("[data-testid=graph]", "data-rendered-nodes") or 0),
        "longest_task_after_ms": max(after, default=0.0),
        "longest_task_up_to_first_frame_ms": max(
            (d for s, d in tasks if s < drawn_at), default=0.0
        ),
    }


def run(settings: Settings, runs: int, console: Console) -> dict[str, Any]:
    graph, clusters = pick_clusters(settings)
    base = settings.api_url
    console.print(f"graph: {graph['accounts']:,} accounts, {graph['clusters']:,} active clusters; "
                  f"clusters opened: {[(c['id'], c['size']) for c in clusters]}")  # fmt: skip
    triage: list[float] = []
    views: dict[str, list[dict[str, float]]] = {c["id"]: [] for c in clusters}
    window = Window({}).start()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for i in range(runs):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(LONG_TASKS)
            page = context.new_page()
            page.goto(f"{base}/ui/")
            page.fill("input[name=token]", graph["token"])
            page.click("button[type=submit]")
            page.wait_for_selector("[data-testid=queue] tbody tr", timeout=60_000)
            triage.append((mark(page, "queue:drawn") - mark(page, "signin:submit")) / 1000)
            for c in clusters:
                views[c["id"]].append(open_cluster(page, f"{base}/ui/cluster/{c['id']}"))
            context.close()
            console.print(f"run {i + 1}/{runs}: triage {triage[-1]:.2f} s, " + ", ".join(
                f"{c['size']:,} members {views[c['id']][-1]['drawn_s']:.2f} s "
                f"(longest task after {views[c['id']][-1]['longest_task_after_ms']:.0f} ms)"
                for c in clusters))  # fmt: skip
        browser.close()
    machine = window.stop()
    result: dict[str, Any] = {
        "machine before": describe(),
        "graph": f"{graph['accounts']:,} accounts, {graph['clusters']:,} active clusters",
        "runs": runs,
        "triage interactive, median / worst (s)": f"{statistics.median(triage):.2f} / "
        f"{max(triage):.2f}",
    }
    for c in clusters:
        v = views[c["id"]]
        drawn = [x["drawn_s"] for x in v]
        result[f"cluster of {c['size']:,}: first drawn, median / worst (s)"] = (
            f"{statistics.median(drawn):.2f} / {max(drawn):.2f} ({v[0]['nodes']:.0f} nodes)"
        )
        result[f"cluster of {c['size']:,}: longest task after first frame, worst (ms)"] = round(
            max(x["longest_task_after_ms"] for x in v)
        )
        result[f"cluster of {c['size']:,}: longest task up to it, worst (ms)"] = round(
            max(x["longest_task_up_to_first_frame_ms"] for x in v)
        )
    result.update(bundle_sizes(settings.UI_DIST))
    result["machine: steal % / busy %"] = f"{machine['steal_pct']:.1f} / {machine['busy_pct']:.0f}"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = get_settings()
    console = Console()
    result = run(settings, args.runs, console)
    out = args.json or settings.STATE_DIR / "bench-ui.json"
    report(console, "console in Chromium", result, out)


if __name__ == "__main__":
    main()
