"""The site on a phone (390 CSS px wide, in the system Chromium): no page is wider than the screen, nothing on it
runs off the side (wide tables scroll inside their own box), and the trends charts' labels are at least 10 px
and do not overlap."""

from __future__ import annotations

import pytest

from test_web import EXAMPLE, LE_CHAT
from test_web_browser import browser, site  # noqa: F401 (fixtures)

PHONE = {"width": 390, "height": 844}

# Elements past the right (or left) edge, leaving out those inside a box that scrolls or clips them, and the
# visually hidden texts for screen readers.
# (A mobile browser widens its layout to the content, so innerWidth alone would hide an overflow: the test
# compares with the phone's width.)
OVERFLOWING = """(width) => {
  const contained = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('.vh, .skip')) continue;
    const r = el.getBoundingClientRect();
    if (r.width && (r.right > width + 0.5 || r.left < -0.5) && !contained(el)) {
      out.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, out: out.slice(0, 8)};
}"""

# Per chart: the smallest label in CSS pixels, and the pairs of labels whose boxes overlap.
CHART_LABELS = """() => Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const texts = Array.from(svg.querySelectorAll('text'));
  const smallest = Math.min(...texts.map(t => parseFloat(t.getAttribute('font-size')) * scale));
  const boxes = texts.map(t => [t.textContent, t.getBoundingClientRect()]);
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, ra] = boxes[i], [b, rb] = boxes[j];
    const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
    const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
    if (x > 0.5 && y > 0.5) overlaps.push(`${a} / ${b}`);
  }
  return {smallest, overlaps: overlaps.slice(0, 5)};
})"""


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def clause_path(phone, site: str) -> str:  # type: ignore[no-untyped-def]
    phone.goto(f"{site}/api/sources/{EXAMPLE}")
    key = phone.evaluate("() => JSON.parse(document.body.innerText).clauses[0].key")
    return f"/sources/{EXAMPLE}/clauses/{key}"


def test_no_page_is_wider_than_a_phone(site: str, phone) -> None:  # type: ignore[no-untyped-def]
    paths = ["/", f"/sources/{EXAMPLE}", f"/sources/{LE_CHAT}", f"/sources/{EXAMPLE}/versions/2",
             f"/sources/{LE_CHAT}/versions/1", f"/sources/{EXAMPLE}/as-of/2026-01-01", clause_path(phone, site),
             f"/sources/{EXAMPLE}/diff/1..2", f"/sources/{LE_CHAT}/diff/1..2", "/matrix", "/trends",
             "/trends?by=provider", "/search?q=compete", "/search", "/can", "/sources/nope"]
    problems = {}
    for path in paths:
        phone.goto(site + path)
        found = phone.evaluate(OVERFLOWING, PHONE["width"])
        if max(found["scrollWidth"], found["innerWidth"]) > PHONE["width"] or found["out"]:
            problems[path] = found
    assert not problems, problems


def test_trend_chart_labels_are_readable_on_a_phone(site: str, phone) -> None:  # type: ignore[no-untyped-def]
    for path in ("/trends", "/trends?by=category"):
        phone.goto(site + path)
        charts = phone.evaluate(CHART_LABELS)
        assert charts, path
        for chart in charts:
            assert chart["smallest"] >= 10, (path, chart)
            assert not chart["overlaps"], (path, chart)
