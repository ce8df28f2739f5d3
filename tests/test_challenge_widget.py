"""A bot-check widget on a real terms page (a footer form with Cloudflare Turnstile or reCAPTCHA) is not a
challenge page: the capture is a challenge only when the terms are absent and the challenge is the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ExtractionError
from monitor.extract import extract_document
from monitor.sources import find_source, load_sources

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data" / "extract"
SNAPSHOT = "genai-eu-snapshots/ChatGPT/Commercial Terms/2025-11-11T15-21-44Z.html"
# What a contact form in a page footer carries: Turnstile's widget (its iframe's id is cf-chl-widget-...)
# and reCAPTCHA's badge.
WIDGETS = {
    "turnstile": ('<footer><form action="/contact" method="post"><input name="email">'
                  '<div class="cf-turnstile" data-sitekey="0x4AAAAAAAB"><iframe id="cf-chl-widget-7xq2d" '
                  'src="https://challenges.cloudflare.com/cdn-cgi/challenge-platform/h/g/turnstile/if/ov2/av0" '
                  'title="Widget containing a Cloudflare security challenge"></iframe>'
                  '<input type="hidden" name="cf-turnstile-response" id="cf-chl-widget-7xq2d_response"></div>'
                  '<script src="https://challenges.cloudflare.com/turnstile/v0/api.js" async defer></script>'
                  '<button>Send</button></form></footer>'),
    "recaptcha": ('<footer><form action="/contact" method="post"><div class="g-recaptcha" data-sitekey="6Lc">'
                  '</div><p>This site is protected by reCAPTCHA and the Google Privacy Policy and Terms of Service '
                  'apply. Verify you are human before sending.</p>'
                  '<script src="https://www.google.com/recaptcha/api.js"></script></form></footer>'),
}


@pytest.mark.parametrize("widget", sorted(WIDGETS))
def test_a_terms_page_with_a_bot_check_widget_is_the_terms(corpus: Path, widget: str) -> None:
    raw = (corpus / SNAPSHOT).read_bytes()
    start = raw.index(b">", raw.index(b"<body")) + 1  # at the top of the page, where any scan sees it
    page = raw[:start] + WIDGETS[widget].encode() + raw[start:]
    source = find_source(load_sources(REPO / "sources.yaml"), "openai-services-agreement")
    document = extract_document(page, format="html", content_type="text/html", select=source.select,
                                remove=source.remove)
    assert "Services Agreement" in document.text and len(document.text) > 20_000
    automatic = extract_document(page, format="html", content_type="text/html")
    assert "Services Agreement" in automatic.text


def test_a_real_interstitial_is_still_a_challenge() -> None:
    with pytest.raises(ExtractionError) as refused:
        extract_document((TEST_DATA / "cloudflare-challenge.html").read_bytes(), format="html",
                         content_type="text/html", select=["main"])
    assert refused.value.kind == "blocked"
