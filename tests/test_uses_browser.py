"""The "Can we…?" pages in a real browser (`clausewatch serve` over real documents, the system Chromium through
Playwright): the form works without JavaScript (axe-core needs it: it checks the same pages with it on), each
page passes axe-core, and at 390 px wide nothing is wider
than the screen. Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from test_uses_corpus import corpus_db  # noqa: F401  (the imported documents, one database per backend)
from test_web_browser import axe, browser, check, serve  # noqa: F401  (the axe and browser fixtures, page check)

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site(corpus_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: F811
    """`clausewatch serve` on an ephemeral port, run where no ./uses.yaml is (the shipped examples)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield from serve(corpus_db, port, cwd=tmp_path_factory.mktemp("serve"))


def _fits(page) -> None:  # type: ignore[no-untyped-def]
    """Nothing on the page is wider than the viewport (no sideways scrolling on a phone)."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide in a {widths[1]} px viewport"


def test_the_form_without_javascript(site: str, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{site}/")
        page.get_by_role("link", name="Can we…?").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Can we…?")
        page.get_by_label("What you do").select_option("train")
        page.get_by_label("With what").select_option("outputs")
        page.get_by_label("Kind of model").select_option("classifier")
        page.get_by_label("Purpose").select_option("internal")
        page.get_by_label("Who gets the result").select_option("internal")
        page.get_by_role("button", name="Check").click()
        row = page.get_by_role("row", name=re.compile("ChatGPT — Commercial Terms"))
        expect(row).to_contain_text("conditional")
        expect(row).to_contain_text("not distributed or made commercially available to third parties")
        row.get_by_role("link", name="17").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("17")

        page.goto(f"{site}/can?act=distil&object=outputs&model=llm&purpose=competing&at=2024-07-01")
        expect(page.get_by_role("heading", level=1)).to_contain_text("as of 2024-07-01")
        expect(page.get_by_role("row", name=re.compile("Meta Llama — Community License"))).to_contain_text(
            "forbidden")
    finally:
        context.close()


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_pages_pass_axe_and_fit(site: str, browser, axe, width: str,  # noqa: F811
                                request: pytest.FixtureRequest) -> None:
    from playwright.sync_api import expect

    backend = request.node.callspec.params["module_db_url"]
    viewport = PHONE if width == "phone" else {"width": 1280, "height": 900}
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        page.goto(f"{site}/can?act=train&object=outputs&model=classifier&purpose=internal&distribution=internal")
        expect(page.locator("table.answers")).to_contain_text("Permitted Exception")
        check(page, axe, f"uses-3-can-{width}-{backend}")
        _fits(page)
        page.goto(f"{site}/uses/distil-competitor")
        expect(page.get_by_role("heading", name="When the answers changed")).to_be_visible()
        expect(page.locator("ul.events")).to_contain_text("Meta Llama — Community License")
        check(page, axe, f"uses-4-use-{width}-{backend}")
        _fits(page)
    finally:
        context.close()
