"""The history site in a real browser: `clausewatch serve` on 127.0.0.1 over a slice of the real corpus, the
system Chromium driven by Playwright (no browser download). A person's path: home → document → clause history →
diff → evidence download; what they see is asserted, each page is checked with axe-core (bundled by the
axe-playwright-python package, offline) and saved as a screenshot under test-artifacts/."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import require
from test_web import EXAMPLE, build_dataset, import_dataset

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def axe():  # type: ignore[no-untyped-def]
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        require("axe-playwright-python is missing (pip install axe-playwright-python)")
    return Axe()


@pytest.fixture(scope="module")
def site(corpus: Path, tmp_path_factory: pytest.TempPathFactory, module_db_url: str) -> Iterator[str]:
    """`clausewatch serve` on an ephemeral port over the imported slice; yields its base URL."""
    folder = tmp_path_factory.mktemp("browser")
    db = module_db_url
    import_dataset(db, build_dataset(corpus, folder))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield from serve(db, port)


def serve(db: str, port: int, cwd: Path | None = None) -> Iterator[str]:
    """Run `clausewatch serve` over `db` on `port` until the caller is done; yields its base URL."""
    server = subprocess.Popen([sys.executable, "-m", "monitor", "--db", db, "serve", "--host", "127.0.0.1",
                               "--port", str(port)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/api/", timeout=5).read()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"serve did not start: {server.stderr.read().decode() if server.stderr else ''}")
            time.sleep(0.2)
    yield base
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(chromium: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs  # any alert() would be a script from the terms running
    yield page
    context.close()
    assert not dialogs, f"a script ran in the page: {dialogs}"


def check(page, axe, name: str) -> None:  # type: ignore[no-untyped-def]
    """Screenshot the page, and fail on any axe-core violation (headings, labels, contrast, ARIA, ...)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    results = axe.run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa",
                                                                           "best-practice"]}})
    violations = results.response["violations"]
    (ARTIFACTS / f"{name}.axe.json").write_text(json.dumps(violations, indent=1))
    assert not violations, f"{name}: " + "; ".join(
        f"{v['id']}: {v['help']} ({len(v['nodes'])}× e.g. {v['nodes'][0]['target']})" for v in violations)
    assert page.locator("h1").count() == 1


def test_home_document_clause_diff_evidence(site: str, page, axe) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(site + "/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("clause history")
    tightenings = page.locator("section", has=page.get_by_role("heading", name="Latest tightenings"))
    expect(tightenings.locator(".badge-tightened").first).to_have_text("▲ tightened")
    check(page, axe, "1-home")

    page.get_by_role("link", name="Terms of Service").first.click()  # under "Example AI"
    expect(page.get_by_role("heading", level=1)).to_have_text("Example AI — Terms of Service")
    expect(page.get_by_role("heading", name="Timeline of versions")).to_be_visible()
    expect(page.get_by_label("Read the document as of")).to_be_visible()
    timeline = page.locator("ol.timeline > li").first
    expect(timeline).to_contain_text("Version 2")
    expect(timeline.locator(".badge").first).to_have_text("▲ tightened")
    check(page, axe, "2-document")

    timeline.locator("li.event a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clause")
    expect(page.locator("blockquote.current")).to_contain_text("develop any models or products")
    change = page.locator("article.change").first
    expect(change.locator("del").first).to_contain_text("Permitted Exception")
    expect(change.locator("del .sym").first).to_have_text("−")  # a symbol, not colour alone
    expect(page.get_by_role("heading", name="How it read, version by version")).to_be_visible()
    check(page, axe, "3-clause")

    page.get_by_role("link", name="Whole-document diff").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 1 → version 2")
    expect(page.locator("p.hunk ins").first).to_be_visible()
    expect(page.locator(".legend")).to_contain_text("struck through")
    check(page, axe, "4-diff")

    page.get_by_role("link", name="version 2").first.click()
    expect(page.get_by_role("heading", name="Evidence")).to_be_visible()
    sha = page.locator(".evidence dd code.hash").first.inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", sha)
    expect(page.locator(".cite")).to_contain_text(sha)
    check(page, axe, "5-version")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("raw snapshot")).click()
    download = info.value
    body = Path(download.path()).read_bytes()
    assert hashlib.sha256(body).hexdigest() == sha
    assert download.suggested_filename.startswith(f"{EXAMPLE}-v2-") and download.suggested_filename.endswith(".md")


def test_terms_with_a_script_show_it_as_text(site: str, page, axe) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(f"{site}/sources/{EXAMPLE}/versions/1")
    expect(page.locator(".doc")).to_contain_text('<script>alert("pwned")</script>')
    assert page.locator("main script").count() == 0
    check(page, axe, "6-version-with-script")
    page.goto(f"{site}/sources/{EXAMPLE}/as-of/2026-03-01")
    expect(page.locator(".doc")).to_contain_text('<script>alert("pwned")</script>')


def test_forms_work_without_javascript(site: str, browser, axe) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{site}/sources/{EXAMPLE}")
        page.get_by_label("Read the document as of").fill("2026-01-01")
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("as it read on 2026-01-01")
        assert page.url.endswith(f"/sources/{EXAMPLE}/as-of/2026-01-01")

        page.goto(f"{site}/search")
        page.get_by_label("Clause text contains").fill("scrape")
        page.get_by_label("Provider").select_option("Example AI")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("ol.results > li")).to_have_count(1)

        page.goto(f"{site}/matrix")
        page.get_by_label("As of date").fill("2025-12-31")
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("as of 2025-12-31")
        expect(page.get_by_role("table")).to_contain_text("since at least 2025-11-02")
    finally:
        context.close()


def test_matrix_and_trends_pages(site: str, page, axe) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(f"{site}/matrix")
    row = page.get_by_role("row", name=re.compile("Example AI — Terms of Service"))
    expect(row).to_contain_text("▲ tightened")
    check(page, axe, "7-matrix")
    page.goto(f"{site}/trends")
    expect(page.get_by_role("img", name=re.compile("Restrictions per month, everything watched"))).to_be_visible()
    expect(page.locator("table.numbers").first).to_contain_text("2026-02")
    check(page, axe, "8-trends")
