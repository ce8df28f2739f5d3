"""The wrong page is not a version: a home page served at a terms URL is a failed capture (`invalid`), never a
version and never an event, while the corpus' real rewrites of the same terms still pass."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.extract.validity import MIN_VOCABULARY_KEPT, compared_reason
from monitor.fetch import FetchResult
from monitor.pipeline import FAILED, NEW_VERSION, Recorder
from monitor.sources import Source
from monitor.store import ChangeEvent, Version, connect, init_database, session_scope

AUP = "genai-eu/Llama API/Acceptable Use Policy"
# What a provider's home page says once its navigation is gone: products, prices, sign-up.
HOME_PAGE = """# Build with the most capable open models

Start building today with fast, affordable inference. Get an API key in seconds and ship your first
application in minutes.

## Products

Chat: talk to our assistant on the web, on iOS and on Android. Download the app.

Developer platform: models, fine-tuning, batch processing, embeddings and evaluations, with simple pricing
per million tokens. Free tier included for new accounts.

Enterprise: dedicated capacity, single sign-on, audit logs and priority support for teams of every size.

## Customers

Thousands of startups and the world's largest companies trust us to power their products. Read their stories.

## News

Introducing our newest model family: faster, cheaper, and better at reasoning, coding and multilingual tasks.
Join our community events, webinars and hackathons around the world. Sign up for the newsletter.
""" * 6  # as long as the policy: only its words tell it apart


def _versions(corpus: Path, document: str) -> list[str]:
    files = sorted((corpus / document).glob("*.md"))
    texts = [f.read_text(encoding="utf-8") for f in files]
    return [t for t in texts if "This page isn" not in t and len(t) > 2000]


def test_every_real_rewrite_in_the_corpus_keeps_enough_of_its_words(corpus: Path) -> None:
    pairs = 0
    for folder in {path.parent for base in ("genai-eu", "genai-eu-extra", "licenses-lineage")
                   for path in (corpus / base).rglob("*.md")}:
        texts = _versions(corpus, str(folder.relative_to(corpus)))
        for before, after in zip(texts, texts[1:]):
            if before != after:
                pairs += 1
                assert compared_reason(after, before) is None, folder
    assert pairs > 300


def test_a_home_page_at_the_terms_url_is_refused(corpus: Path) -> None:
    policy = _versions(corpus, AUP)[-1]
    reason = compared_reason(HOME_PAGE, policy)
    assert reason is not None and "no longer reads as the same document" in reason
    kept = re.search(r"keeps (\d+)%", reason)
    assert kept and int(kept.group(1)) < MIN_VOCABULARY_KEPT * 100


def _fetched(text: str, minutes: int) -> FetchResult:
    return FetchResult(url="https://example.com/aup", outcome="ok",
                       started_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=minutes),
                       elapsed_ms=5, body=text.encode(), content_type="text/markdown")


def test_the_home_page_makes_no_version_and_no_event_and_the_policy_coming_back_none_either(
        corpus: Path, db_url: str) -> None:
    engine = connect(db_url)
    init_database(engine)
    recorder = Recorder(engine)
    source = Source(id="llama-aup", provider="Meta", title="Llama API Acceptable Use Policy",
                    url="https://example.com/aup", kind="policy", format="markdown")
    policy = _versions(corpus, AUP)[-1]
    assert recorder.record(source, _fetched(policy, 0)).outcome == NEW_VERSION
    wrong = recorder.record(source, _fetched(HOME_PAGE, 1))
    assert wrong.outcome == FAILED and wrong.attempt_outcome == "invalid"
    assert "no longer reads as the same document" in wrong.error
    back = recorder.record(source, _fetched(policy, 2))
    assert back.outcome != NEW_VERSION and not back.events
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Version)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(ChangeEvent)).scalar_one() == 0
    engine.dispose()


@pytest.mark.parametrize("previous", ["本协议适用于所有用户。" * 200, "Short notice. " * 30])
def test_a_previous_version_with_few_latin_words_is_not_compared_by_vocabulary(previous: str) -> None:
    assert compared_reason("Entirely different words in this capture, repeated. " * 40, previous) is None
