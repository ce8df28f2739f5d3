"""One Atom writer (issue 15, item 3): the Atom channel's feed files and the site's feeds are written by
monitor.alerts.feeds, carry the same entry for the same event, and stay valid Atom whatever a page holds."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from starlette.testclient import TestClient

from monitor.alerts import Message
from monitor.alerts.atom import AtomNotifier, AtomSettings
from monitor.alerts.config import parse_alerts_config
from monitor.alerts.outbox import deliver_outbox
from monitor.alerts.render import sample_event
from monitor.pipeline import Recorder
from monitor.store import connect, init_database
from monitor.web import create_app
from monitor.web.feeds import render_feed
from test_outbox import A, B
from test_pipeline import fetched, source

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = '<script>alert("owned")</script> ]]> <![CDATA[ x ]]> & \x01\x0b\x1f\ufffe end'
CHANNEL = """\
base_url: http://testserver
channels:
  feed:
    kind: atom
    directory: {directory}
routes:
  - channels: [feed]
    directions: [tightened, loosened, reworded, unclear]
outbox:
  backoff: 0
"""


def entries(document: bytes) -> dict[str, ElementTree.Element]:
    """The entries of an Atom document by id; fails unless it is XML whose root is an Atom feed."""
    root = ElementTree.fromstring(document)
    assert root.tag == f"{ATOM}feed" and root.findtext(f"{ATOM}id") and root.findtext(f"{ATOM}updated")
    return {entry.findtext(f"{ATOM}id"): entry for entry in root.findall(f"{ATOM}entry")}


def described(entry: ElementTree.Element) -> dict:
    """An entry's parts, without the snapshot evidence that only a channel's items carry."""
    def text(name: str) -> str:
        return "\n".join(line for line in (entry.findtext(f"{ATOM}{name}") or "").splitlines()
                         if "Evidence" not in line)

    return {"title": text("title"), "published": text("published"), "updated": text("updated"),
            "summary": text("summary"), "content": text("content"),
            "author": entry.findtext(f"{ATOM}author/{ATOM}name"),
            "links": sorted((link.get("rel"), link.get("href")) for link in entry.findall(f"{ATOM}link")),
            "categories": sorted((c.get("term"), c.get("scheme")) for c in entry.findall(f"{ATOM}category"))}


def test_the_channel_and_the_site_carry_the_same_entry_for_the_same_event(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'cw.db'}")
    init_database(engine)
    config = parse_alerts_config(tmp_path / "clausewatch.yaml", CHANNEL.format(directory=tmp_path / "feeds"), {})
    recorder = Recorder(engine, alerts=config)
    recorder.record(source(), fetched(A, 0))
    assert len(recorder.record(source(), fetched(B, 1)).events) == 2
    assert deliver_outbox(engine, config).errors == []
    with TestClient(create_app(engine)) as client:
        site = entries(client.get("/feeds/example-terms.atom").content)
    channel = entries((tmp_path / "feeds" / "example-terms.xml").read_bytes())
    engine.dispose()
    assert len(site) == 2 and set(site) == set(channel)
    for entry_id, entry in site.items():
        assert entry_id.startswith("tag:clausewatch,2025:example-terms/v2/")
        assert described(entry) == described(channel[entry_id])
        links = dict(described(entry)["links"])
        assert links["alternate"].startswith("http://testserver/sources/example-terms/clauses/")
        assert links["related"] == "https://example.com/terms"


def test_hostile_page_text_is_escaped_in_both_feeds(tmp_path: Path) -> None:
    event = {**sample_event(), "reason": HOSTILE, "after": HOSTILE, "title": HOSTILE}
    AtomNotifier(AtomSettings(kind="atom", directory=str(tmp_path))).deliver(Message.single(event, "feed"))
    channel = (tmp_path / "all.xml").read_bytes()
    site = render_feed({"source": None, "events": [event]}, "/feeds/all.atom",
                       lambda path: "https://watch.example.org" + path).encode()
    for document in (channel, site):
        [entry] = entries(document).values()
        assert b"<script>" not in document and b"]]>" not in document
        content = entry.findtext(f"{ATOM}content")
        assert "<script>" not in content and "&lt;script&gt;" in content  # shown as text, never run
        assert entry.findtext(f"{ATOM}title").endswith('<script>alert("owned")</script> ]]> '
                                                        '<![CDATA[ x ]]> & \ufffd\ufffd\ufffd\ufffd end · 3.3(e)')


def test_a_control_character_never_costs_the_channel_its_earlier_entries(tmp_path: Path) -> None:
    notifier = AtomNotifier(AtomSettings(kind="atom", directory=str(tmp_path)))
    notifier.deliver(Message.single({**sample_event(), "reason": "form feed \x0c from a PDF"}, "feed"))
    notifier.deliver(Message.single({**sample_event(), "version": 3, "observed_at": "2026-01-02T09:00:00Z"}, "feed"))
    assert len(entries((tmp_path / "all.xml").read_bytes())) == 2  # the first file could be read back
