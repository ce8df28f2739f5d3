"""A source that pins its language (`language: en`): sent as Accept-Language, and a capture in another language is
a failed capture of kind `invalid` naming both languages, never a version. Real bilingual licence texts."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from monitor.fetch import FetchRequest, FetchResult, fetch_sources
from monitor.fetch.settings import FetchSettings
from monitor.pipeline import FAILED, NEW_VERSION, Recorder
from monitor.sources import Source
from monitor.store import Version, connect, init_database, session_scope

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
GLM_4 = "licenses/chatglm/glm-4-9b-license/2024-10-16_5413230.txt"


def halves(corpus: Path) -> tuple[str, str]:
    """(Chinese text, English text) of the bilingual GLM-4 licence (its English text starts at "1. Definitions")."""
    text = (corpus / GLM_4).read_text(encoding="utf-8")
    split = text.index("1. Definitions")
    return text[:split], text[split:]


def pinned(**fields: object) -> Source:
    return Source(**{"id": "glm-licence", "provider": "Zhipu AI", "title": "Model License", "kind": "license",
                     "url": "https://example.com/license", "format": "text", "language": "en", **fields})


def fetched(text: str, day: int) -> FetchResult:
    return FetchResult(url="https://example.com/license", outcome="ok", started_at=T0 + dt.timedelta(days=day),
                       elapsed_ms=5, body=text.encode("utf-8"), content_type="text/plain")


def test_a_capture_in_another_language_than_the_pinned_one_is_invalid_never_a_version(db_url: str,
                                                                                       corpus: Path) -> None:
    engine = connect(db_url)
    init_database(engine)
    rec = Recorder(engine)
    chinese, english = halves(corpus)
    assert rec.record(pinned(), fetched(english, 0)).outcome == NEW_VERSION
    outcome = rec.record(pinned(), fetched(chinese, 1))
    assert (outcome.outcome, outcome.attempt_outcome) == (FAILED, "invalid")
    assert outcome.error == "text is in language 'zh', not the pinned 'en' (language: en)"
    assert outcome.events == []
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Version)).scalar_one() == 1
    # without the pin, the same capture is a version in its own language (as before)
    assert rec.record(pinned(language=None), fetched(chinese, 2)).outcome == NEW_VERSION


def test_the_pinned_language_is_sent_as_accept_language(local_server) -> None:
    url = local_server.serve("/license", "text", content_type="text/plain")
    sources = [pinned(url=url, allow_private=True, respect_robots=False),
               pinned(id="unpinned", url=url, allow_private=True, respect_robots=False, language=None)]
    settings = FetchSettings(retries=0)
    results = asyncio.run(fetch_sources([FetchRequest(source) for source in sources], settings))
    assert [result.outcome for result in results] == ["ok", "ok"]
    languages = sorted(headers.get("Accept-Language", "-") for _, _, headers in local_server.requests)
    assert languages == ["-", "en"]


def test_a_language_that_is_no_code_is_refused() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="language"):
        pinned(language="English")
