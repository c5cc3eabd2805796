"""The investigation console (ui/) in Debian's Chromium, driven by Playwright against the test
stack: a seeded population ingested and refreshed, tokens of each role, the built console
served by the API at /ui. Screenshots go to $HERACLES_UI_SCREENSHOTS (`make screenshots`
writes docs/ui/) or a temporary folder."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from neo4j import Driver
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    expect,
    sync_playwright,
)

from backend.api.graphql.operations import named_operations
from backend.auth.roles import Role
from backend.auth.tokens import create_token
from backend.core.config import Settings
from backend.detection.tasks import refresh_task
from tests.integration.ingest_helpers import load_seed

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As root, without a GPU and on a closed network: no sandbox, software WebGL (the graph is
# WebGL), and none of Chromium's own background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class Console:
    url: str
    tokens: dict[Role, str]
    shots: Path
    cards: list[tuple[str, str]]  # (account, account) pairs sharing a card in a flagged cluster


@pytest.fixture(scope="module")
def console(
    driver: Driver, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Console:
    if not (settings.UI_DIST / "index.html").is_file():
        pytest.fail("the console is not built: `make install` builds ui/dist")
    load_seed(driver, settings, tmp_path_factory.mktemp("console-seed"), 3000)
    assert refresh_task.delay().get(timeout=300)["status"] == "done"
    tokens = {
        role: create_token(driver, settings.NEO4J_DATABASE, f"console-{role.value}", role)[1]
        for role in (Role.ANALYST, Role.BANTOOL)
    }
    records, _, _ = driver.execute_query(
        "MATCH (c:Cluster {status: 'active'})<-[:MEMBER_OF]-(a:Account)-[:PAID_WITH]->(p)"
        "<-[:PAID_WITH]-(b:Account)-[:MEMBER_OF]->(c) WHERE c.risk >= $risk AND a.id < b.id "
        "RETURN a.id AS a, b.id AS b ORDER BY c.risk DESC, a, b LIMIT 1",
        risk=settings.DETECTION_FLAG_THRESHOLD, database_=settings.NEO4J_DATABASE,
    )  # fmt: skip
    shots = Path(os.environ.get("HERACLES_UI_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    return Console(settings.api_url, tokens, shots, [(r["a"], r["b"]) for r in records])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (empty session storage); fails the test on any script error or console
    error it logged (a CSP violation, a React error), except the 401 a wrong token earns."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and "status of 401" not in msg.text:
            problems.append(msg.text)

    def on_response(response: Response) -> None:
        if response.status >= 400 and response.status != 401:
            problems.append(f"{response.status} {response.url}")

    tab.on("console", on_console)
    tab.on("response", on_response)
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    yield tab
    context.close()
    assert not problems, problems


def sign_in(page: Page, console: Console, role: Role) -> None:
    page.goto(f"{console.url}/ui/")
    page.fill("input[name=token]", console.tokens[role])
    page.click("button[type=submit]")
    expect(page.get_by_test_id("who")).to_contain_text(role.value)


def rendered_nodes(page: Page) -> int:
    graph = page.get_by_test_id("graph").first
    expect(graph).to_have_attribute("data-rendered-nodes", re.compile(r"^[1-9]"))
    return int(graph.get_attribute("data-rendered-nodes") or 0)


def test_served_at_ui_with_a_strict_content_policy(console: Console) -> None:
    root = httpx.get(f"{console.url}/", follow_redirects=True)
    assert root.url.path == "/ui/" and '<div id="root">' in root.text
    assert "script-src 'self'" in root.headers["content-security-policy"]
    deep = httpx.get(f"{console.url}/ui/cluster/anything")
    assert deep.status_code == 200 and deep.headers["cache-control"] == "no-cache"
    asset = re.search(r'src="(/ui/assets/[^"]+\.js)"', root.text)
    assert asset, root.text
    cached = httpx.get(f"{console.url}{asset.group(1)}")
    assert cached.status_code == 200 and "immutable" in cached.headers["cache-control"]
    assert httpx.get(f"{console.url}/ui/assets/nope.js").status_code == 404
    assert httpx.get(f"{console.url}/ui/..%2F..%2Fpyproject.toml").text == root.text


def test_analyst_triages_decides_and_sees_it_in_the_audit_trail_and_feed(
    page: Page, console: Console
) -> None:
    page.goto(f"{console.url}/ui/")
    page.screenshot(path=console.shots / "signin.png")
    page.fill("input[name=token]", "hrc_wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("refused this token")

    sign_in(page, console, Role.ANALYST)
    rows = page.locator("[data-testid=queue] tbody tr")
    expect(rows.first).to_be_visible()
    expect(page.get_by_test_id("cluster-count")).to_contain_text("clusters")
    risks = [
        float(t.rstrip("%")) for t in page.locator("[data-testid=queue] .risk").all_inner_texts()
    ]
    assert risks == sorted(risks, reverse=True) and risks[0] >= 50
    page.screenshot(path=console.shots / "triage.png")

    # A decision made elsewhere reaches the open queue through the change feed, no reload.
    second = rows.nth(1).get_attribute("data-cluster")
    page.wait_for_timeout(1000)  # the queue has read the feed's head
    decided = httpx.post(
        f"{console.url}/graphql",
        json={
            "query": named_operations()["SetClusterVerdict"],
            "operationName": "SetClusterVerdict",
            "variables": {"id": second, "verdict": "NEEDS_REVIEW"},
        },
        headers={"authorization": f"Bearer {console.tokens[Role.ANALYST]}"},
    )
    assert "errors" not in decided.json(), decided.text
    expect(page.get_by_test_id("fresh")).to_contain_text("1 change from the feed")
    expect(page.locator(f"tr[data-cluster='{second}']")).to_contain_text("needs review")

    riskiest = rows.first.get_attribute("data-cluster")
    rows.first.locator("a").first.click()
    expect(page.get_by_test_id("cluster-view")).to_contain_text(f"Cluster {riskiest}")
    assert rendered_nodes(page) >= 3
    expect(page.locator("[data-testid=contributions] tr").first).to_be_visible()
    expect(page.locator("[data-testid=members] tbody tr").first).to_be_visible()

    page.select_option("select[name=verdict]", "CONFIRMED_FRAUD")
    page.fill("input[name=verdict-note]", "e2e: cards shared across the ring")
    page.click("[data-testid=cluster-actions] button:has-text('Set verdict')")
    expect(page.get_by_test_id("cluster-verdict")).to_have_text("confirmed fraud")
    expect(page.get_by_test_id("audit")).to_contain_text("e2e: cards shared across the ring")
    page.fill("input[name=note]", "e2e: escalated to the T&S lead")
    page.click("[data-testid=cluster-actions] button:has-text('Add note')")
    expect(page.get_by_test_id("notes")).to_contain_text("e2e: escalated to the T&S lead")
    # Excluding a member: its own verdict, shown in the table and kept in the ban list's logic.
    last = page.locator("[data-testid=members] tbody tr").last
    excluded = last.locator("td").first.inner_text()
    last.locator("button:has-text('exclude')").click()
    expect(page.locator("[data-testid=members] tbody tr", has_text=excluded)).to_contain_text(
        "false positive"
    )
    expect(page.get_by_test_id("audit").locator("tr", has_text=excluded)).to_contain_text(
        "set_account_verdict"
    )
    page.wait_for_timeout(2600)  # the layout settles before the picture
    page.screenshot(path=console.shots / "cluster.png", full_page=True)

    page.click("header >> text=Feed")
    feed = page.get_by_test_id("feed")
    expect(
        feed.locator("tr", has_text="verdict_set").filter(has_text=riskiest or "")
    ).to_be_visible()
    expect(page.get_by_test_id("ban-count")).to_contain_text("accounts in")
    page.screenshot(path=console.shots / "feed.png")


def test_ban_tooling_sees_no_verdict_controls_notes_or_accounts(
    page: Page, console: Console
) -> None:
    sign_in(page, console, Role.BANTOOL)
    page.locator("[data-testid=queue] tbody tr a").first.click()
    expect(page.get_by_test_id("cluster-view")).to_be_visible()
    expect(page.locator("[data-testid=members] tbody tr").first).to_be_visible()
    expect(page.get_by_test_id("cluster-actions")).to_have_count(0)
    expect(page.get_by_test_id("notes")).to_have_count(0)
    expect(page.get_by_test_id("cluster-view")).not_to_contain_text("e2e: cards shared")
    expect(page.get_by_test_id("cluster-view")).to_contain_text("The drawing is for analysts")
    page.goto(f"{console.url}/ui/account/whatever")
    expect(page.get_by_role("alert")).to_contain_text("accounts are for analysts")


def test_account_view_and_a_path_drawn_between_two_accounts(page: Page, console: Console) -> None:
    assert console.cards, "no flagged cluster with two members sharing a card"
    a, b = console.cards[0]
    sign_in(page, console, Role.ANALYST)
    page.goto(f"{console.url}/ui/account/{a}")
    expect(page.get_by_test_id("account-view")).to_contain_text(f"Account {a}")
    expect(page.get_by_test_id("account-cluster")).not_to_have_text("none")
    expect(page.locator("[data-testid=identifiers] tbody tr").first).to_be_visible()
    page.fill("input[name=path-to]", b)
    page.click("[data-testid=path] button")
    expect(page.get_by_test_id("path-chain")).to_contain_text(b)
    assert rendered_nodes(page) >= 3
    page.screenshot(path=console.shots / "account.png", full_page=True)


def test_explorer_is_bundled_and_runs_a_query(page: Page, console: Console) -> None:
    sign_in(page, console, Role.ANALYST)
    page.goto(f"{console.url}/graphql")  # a browser's GET lands on the bundled explorer
    expect(page.get_by_test_id("explorer")).to_be_visible()
    expect(page.locator(".graphiql-container")).to_be_visible()
    page.click(".graphiql-execute-button")
    expect(page.locator(".graphiql-response")).to_contain_text("console-analyst")
    page.screenshot(path=console.shots / "explorer.png")
