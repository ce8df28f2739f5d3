"""The recorder on both backends: versions only on real change, reverts never alert, failures notify once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from monitor.fetch import FetchResult
from monitor.pipeline import FAILED, NEW_VERSION, UNCHANGED, Capture, CaptureOutcome, Recorder, ingest_file
from monitor.sources import Source
from monitor.store import ChangeEvent, FetchAttempt, Version, connect, init_database, session_scope

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
TERMS = """# Terms of Use

## 3. Restrictions

You may not:

(a) use Output to develop models that compete with Example, except for a Permitted Exception;

(b) reverse engineer, decompile or disassemble the Services;

(c) use any automated means to scrape data from the Services.

## 4. Other

{extra}
"""
FILLER = "We may update these Terms from time to time and will tell you when we do so. " * 4


def source(**overrides: object) -> Source:
    fields = {"id": "example-terms", "provider": "Example", "title": "Terms of Use",
              "url": "https://example.com/terms", "format": "markdown"}
    return Source(**{**fields, **overrides})


def fetched(text: str, minutes: int = 0, outcome: str = "ok") -> FetchResult:
    return FetchResult(url="https://example.com/terms", outcome=outcome, started_at=T0 + dt.timedelta(minutes=minutes),
                       elapsed_ms=5, body=text.encode() if outcome == "ok" else b"", content_type="text/markdown",
                       error=None if outcome == "ok" else "boom")


def recorder(db_url: str, **options: int) -> Recorder:
    engine = connect(db_url)
    init_database(engine)
    return Recorder(engine, **options)


def test_versions_only_when_text_changes_and_reverts_do_not_alert(db_url: str) -> None:
    rec = recorder(db_url)
    a = TERMS.format(extra=FILLER)
    b = TERMS.format(extra=FILLER).replace(", except for a Permitted Exception", "")
    assert rec.record(source(), fetched(a, 0)).outcome == NEW_VERSION
    assert rec.record(source(), fetched(a + "\n\n", 1)).outcome == UNCHANGED  # same normalised text
    tightened = rec.record(source(), fetched(b, 2))
    assert tightened.outcome == NEW_VERSION and tightened.events
    assert tightened.events[0]["direction"] == "tightened"
    flap = rec.record(source(), fetched(a, 3))
    assert flap.outcome == NEW_VERSION and flap.revert_of_seq == 1
    assert flap.events == []  # recorded, not alerted
    with session_scope(rec.engine) as session:
        assert session.execute(select(func.count()).select_from(Version)).scalar_one() == 3
        stored = session.execute(select(ChangeEvent.alert).order_by(ChangeEvent.id)).scalars().all()
    assert stored[0] is True and not any(stored[1:])


def test_a_source_failing_in_a_row_notifies_once_and_once_more_when_it_recovers(db_url: str) -> None:
    rec = recorder(db_url, failing_after=3)
    text = TERMS.format(extra=FILLER)
    rec.record(source(), fetched(text, 0))
    notices = [rec.record(source(), fetched("", minute, "http_error")).notices for minute in range(1, 6)]
    assert [len(n) for n in notices] == [0, 0, 1, 0, 0]
    assert notices[2][0]["type"] == "source_failing" and notices[2][0]["failure"] == "http_error"
    recovered = rec.record(source(), fetched(text, 10))
    assert recovered.outcome == UNCHANGED
    assert [n["type"] for n in recovered.notices] == ["source_recovered"]
    assert rec.record(source(), fetched(text, 11)).notices == []


def test_failed_capture_makes_no_version_and_no_removal(db_url: str) -> None:
    rec = recorder(db_url)
    rec.record(source(), fetched(TERMS.format(extra=FILLER), 0))
    stub = rec.record(source(), fetched("# Terms of Use\n\nRedirecting to https://example.com/new", 1))
    assert stub.outcome == FAILED and stub.attempt_outcome == "invalid"
    with session_scope(rec.engine) as session:
        assert session.execute(select(func.count()).select_from(Version)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(ChangeEvent)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(FetchAttempt)).scalar_one() == 2


def test_llama_api_flapping_history_replayed_through_ingest_alerts_only_on_real_rewrites(
        db_url: str, corpus: Path) -> None:
    """43 of the 96 recorded versions are the 'This page isn't available' page: 85 switches, no alert."""
    files = sorted((corpus / "genai-eu" / "Llama API" / "Terms of Service").glob("*.md"))
    rec = recorder(db_url)
    llama = source(id="llama-api-terms", provider="Llama API", title="Terms of Service",
                   url="https://llama.developer.meta.com/legal/terms-of-service")
    outcomes = []
    for file in files:
        at = dt.datetime.strptime(file.stem, "%Y-%m-%dT%H-%M-%SZ").replace(tzinfo=dt.timezone.utc)
        outcomes.append(ingest_file(rec, llama, str(file), at))
    is_error = [o.outcome == FAILED for o in outcomes]
    switches = sum(1 for before, after in zip(is_error, is_error[1:]) if before != after)
    assert sum(is_error) == 43 and switches == 85
    alerting_days = {event["observed_at"][:10] for o in outcomes for event in o.events}
    assert alerting_days == {"2026-07-08", "2026-08-05", "2026-08-22"}  # the three real rewrites, each alerting
    assert all(not o.events for o, error in zip(outcomes, is_error) if error)
    assert all(o.revert_of_seq is None for o in outcomes)


def stored(rec: Recorder) -> dict[str, list[tuple]]:
    """What the recorder stored, without ids and clock times."""
    with session_scope(rec.engine) as session:
        return {
            "attempts": session.execute(select(FetchAttempt.source_id, FetchAttempt.outcome, FetchAttempt.bytes)
                                        .order_by(FetchAttempt.id)).all(),
            "versions": session.execute(select(Version.source_id, Version.seq, Version.text, Version.revert_of_seq)
                                        .order_by(Version.id)).all(),
            "events": session.execute(select(ChangeEvent.source_id, ChangeEvent.key, ChangeEvent.direction,
                                             ChangeEvent.alert).order_by(ChangeEvent.id)).all(),
        }


def summary(outcome: CaptureOutcome) -> tuple:
    return outcome.outcome, outcome.version_seq, outcome.revert_of_seq, len(outcome.events), outcome.notices


def test_captures_stored_together_are_stored_as_one_by_one(db_url: str, tmp_path: Path) -> None:
    from monitor.pipeline import Capture

    a = TERMS.format(extra=FILLER)
    b = a.replace(", except for a Permitted Exception", "")
    other = source(id="other-terms")
    # Two versions of one source in one transaction, a flap back, a failure, the same body twice.
    captures = [Capture(source(), fetched(a, 0)), Capture(other, fetched(b, 0)), Capture(source(), fetched(b, 1)),
                Capture(other, fetched("", 1, "http_error")), Capture(source(), fetched(a, 2)),
                Capture(other, fetched(b, 2))]
    together, one_by_one = recorder(db_url), recorder(f"sqlite:///{tmp_path / 'one.db'}")

    outcomes = together.record_many(captures)
    expected = [one_by_one.record(capture.source, capture.result) for capture in captures]

    assert [summary(outcome) for outcome in outcomes] == [summary(outcome) for outcome in expected]
    assert [outcome.outcome for outcome in outcomes] == [NEW_VERSION, NEW_VERSION, NEW_VERSION, FAILED,
                                                         NEW_VERSION, UNCHANGED]
    assert outcomes[4].revert_of_seq == 1 and outcomes[2].events
    assert all(outcome.attempt_id for outcome in outcomes)
    assert stored(together) == stored(one_by_one)


def test_a_capture_that_cannot_be_stored_fails_alone(db_url: str, monkeypatch) -> None:
    from monitor.pipeline import Capture, _record_together

    rec = recorder(db_url)
    good, bad = source(id="good"), source(id="bad")
    store = Recorder._record

    def fail_for_bad(self, session, capture, *rest):  # type: ignore[no-untyped-def]
        if capture.source.id == "bad":
            raise RuntimeError("disk full")
        return store(self, session, capture, *rest)

    monkeypatch.setattr(Recorder, "_record", fail_for_bad)
    errors: list[Exception] = []
    text = TERMS.format(extra=FILLER)
    recorded = _record_together(rec, [Capture(good, fetched(text)), Capture(bad, fetched(text))], errors)

    assert [(capture.source.id, outcome.outcome) for capture, outcome in recorded] == [("good", NEW_VERSION)]
    assert [str(error) for error in errors] == ["disk full"]
    assert [row[:2] for row in stored(rec)["versions"]] == [("good", 1)]
    # The transaction that failed had cached a first version of good that it then rolled back.
    assert rec.record(good, fetched(text + "\n\nMore.", 1)).version_seq == 2


# ---------------------------------------------------------------- a short new text is not a truncated page

SD35 = "licenses/stability/sd3_5-repo-license"


def licence_capture(text: str, day: int) -> FetchResult:
    return FetchResult(url="https://example.com/LICENSE", outcome="ok", started_at=T0 + dt.timedelta(days=day),
                       elapsed_ms=5, body=text.encode("utf-8"), content_type="text/plain")


def test_a_short_text_with_a_new_rule_is_a_version_but_a_truncated_one_is_not(db_url: str, corpus: Path) -> None:
    # Stable Diffusion 3.5's repository licence: MIT (1,074 characters), then one sentence putting the model
    # under the Community Licence and its Acceptable Use Policy (365): a tightening, not a truncated page.
    mit, community = (path.read_text(encoding="utf-8") for path in sorted((corpus / SD35).glob("*.txt")))
    rec = Recorder(connect(db_url))
    init_database(rec.engine)
    licence = Source(id="sd35-licence", provider="Stability AI", title="SD3.5 licence",
                     url="https://example.com/LICENSE", kind="license")
    assert rec.record(licence, licence_capture(mit, 0)).outcome == NEW_VERSION
    outcome = rec.record(licence, licence_capture(community, 1))
    assert outcome.outcome == NEW_VERSION, outcome.error
    assert [(e["kind"], e["direction"], e["categories"]) for e in outcome.events] == [("added", "tightened", ["use_policy"])]
    # The same licence cut to its first fifth carries no rule that the last version lacks: still refused.
    outcome = rec.record(licence, licence_capture(mit + "\n\n" + community * 4, 2))
    assert outcome.outcome == NEW_VERSION
    truncated = rec.record(licence, licence_capture((mit + "\n\n" + community * 4)[:300], 3))
    assert truncated.outcome == FAILED and "far shorter" in (truncated.error or "")


def test_a_flap_back_to_a_body_seen_before_keeps_its_title(db_url: str) -> None:
    rec = recorder(db_url)
    a = TERMS.format(extra=FILLER)
    b = a.replace(", except for a Permitted Exception", "")
    for minute, text in enumerate([a, b, a]):
        rec.record(source(), fetched(text, minute))
    with session_scope(rec.engine) as session:
        titles = session.execute(select(Version.title).order_by(Version.seq)).scalars().all()
    assert titles[0] == "Terms of Use" and titles == [titles[0]] * 3


def test_a_latest_version_replaced_under_the_same_id_is_read_again(db_url: str) -> None:
    """Another recorder replaces the source's history; SQLite gives the new version the id the deleted one had
    (the largest rowid is reused), so a recorder that knew the old one by its id alone compared with a stale
    text: this capture, the new version's text, became a version of its own."""
    rec = recorder(db_url)
    other = Recorder(rec.engine)
    a = TERMS.format(extra=FILLER)
    b = a.replace(", except for a Permitted Exception", "")
    assert rec.record(source(), fetched(a, 0)).outcome == NEW_VERSION
    other.replace_history("example-terms", [Capture(source(), fetched(b, 1))])
    assert rec.record(source(), fetched(b, 2)).outcome == UNCHANGED


def test_a_recorder_that_caches_few_sources_reads_a_forgotten_latest_version_again(db_url: str, monkeypatch) -> None:
    import monitor.pipeline.recorder

    rec = recorder(db_url, cache_sources=2)
    text = TERMS.format(extra=FILLER)
    for name in ("a", "b", "c"):
        assert rec.record(source(id=name), fetched(text)).outcome == NEW_VERSION
    loaded: list[str] = []
    load = monitor.pipeline.recorder._latest_versions

    def counted_load(session, version_ids):  # type: ignore[no-untyped-def]
        versions = load(session, version_ids)
        loaded.extend(versions)
        return versions

    monkeypatch.setattr(monitor.pipeline.recorder, "_latest_versions", counted_load)
    assert rec.record(source(id="c"), fetched(text, 1)).outcome == UNCHANGED
    assert loaded == []  # among the two most recently recorded
    assert rec.record(source(id="a"), fetched(text, 1)).outcome == UNCHANGED
    assert loaded == ["a"]  # forgotten when c was recorded: read again


def analysed(text: str, minutes: int) -> Capture:
    """A capture analysed ahead, as an analysis process sends it."""
    from monitor.analysis import analyse_body

    result = fetched(text, minutes)
    return Capture(source(), result, analysis=analyse_body(result.body, result.content_type, source()))


def test_a_new_text_is_compared_before_the_write_lock_and_not_again_inside_it(db_url: str, monkeypatch) -> None:
    from monitor.pipeline import decide as deciding

    own, other = recorder(db_url), recorder(db_url)
    tightened = TERMS.format(extra=FILLER).replace(", except for a Permitted Exception", "")
    for minutes, text in enumerate([TERMS.format(extra=FILLER), tightened]):
        own.record_many([analysed(text, minutes)])
    made: list[str] = []
    meanwhile: list[Capture] = []  # what another process records between the comparison ahead and the lock
    ahead = {"now": False}
    real_compare, real_ahead = deciding.compare_clauses, Recorder._compare_ahead
    monkeypatch.setattr(deciding, "compare_clauses",
                        lambda a, b: made.append("ahead" if ahead["now"] else "locked") or real_compare(a, b))

    def comparing_ahead(self, captures):  # type: ignore[no-untyped-def]
        ahead["now"] = True
        try:
            real_ahead(self, captures)
        finally:
            ahead["now"] = False
        while meanwhile:
            other.record_many([meanwhile.pop()])

    monkeypatch.setattr(Recorder, "_compare_ahead", comparing_ahead)
    loosened = TERMS.format(extra=FILLER + " Contact us at terms@example.com.")
    [outcome] = own.record_many([analysed(loosened, 2)])
    assert outcome.outcome == NEW_VERSION and made == ["ahead"]

    # A recorder that has cached nothing yet (a cron run's analysis process) reads the latest version first.
    made.clear()
    [outcome] = recorder(db_url).record_many([analysed(tightened.replace("Example", "Example Ltd"), 3)])
    assert outcome.outcome == NEW_VERSION and made == ["ahead"]

    # Another process records a version after the comparison made ahead: the transaction compares with the
    # true latest itself.
    made.clear()
    meanwhile.append(analysed(loosened.replace("terms@", "legal@"), 4))
    [outcome] = own.record_many([analysed(tightened.replace("Example", "Example Inc."), 5)])
    assert made == ["ahead", "ahead", "locked"]  # this one ahead, the other one ahead, this one again locked
    with session_scope(own.engine) as session:
        newest, previous = session.scalars(select(Version).order_by(Version.seq.desc()).limit(2)).all()
        assert previous.observed_at.minute == 4  # the other process's
        events = session.scalars(select(ChangeEvent).where(ChangeEvent.version_id == newest.id)).all()
        assert {event.previous_version_id for event in events} == {previous.id}
        assert any(event.direction == "tightened" for event in events)  # the exception is gone again, against v5
