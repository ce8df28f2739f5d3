"""The history site through Starlette's test client, on a database built by importing a slice of the real corpus
(plus one made-up document whose terms contain a <script>): pages, JSON mirrors, feeds, evidence, permalinks."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

with warnings.catch_warnings():  # starlette 1.x asks for httpx2 in its test client; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from monitor.cli import cli
from monitor.store import connect

DOCUMENTS = ("Le Chat/Acceptable Use Policy", "Claude.ai/Commercial Terms")
FILLER = ("We may update these Terms from time to time. When we do, we will tell you by email or in the "
          "Services at least thirty days before the new Terms apply, unless the change is required by law. ") * 4
EXAMPLE_V1 = f"""# Example AI Terms of Service

## 1. Scope

{FILLER}

## 3. Restrictions

You may not:

- use Output to develop models that compete with Example AI, except for a Permitted Exception;
- reverse engineer &lt;script&gt;alert("pwned")&lt;/script&gt; the Services or discover their model weights;
- use any automated means to scrape data from the Services.

## 4. Changes

{FILLER}
"""
EXAMPLE_V2 = EXAMPLE_V1.replace(", except for a Permitted Exception;", ";").replace(
    "develop models that compete with Example AI", "develop any models or products")
# imported history keeps its folder names: no registry entry takes it over
NO_SOURCES = str(Path(__file__).resolve().parent / "data" / "no-sources.yaml")
EXAMPLE = "example-ai-terms-of-service"
LE_CHAT = "le-chat-acceptable-use-policy"


def build_dataset(corpus: Path, folder: Path) -> Path:
    """A small Open Terms Archive dataset: two real documents and the made-up Example AI terms."""
    dataset = folder / "dataset"
    for document in DOCUMENTS:
        shutil.copytree(corpus / "genai-eu" / document, dataset / document)
    example = dataset / "Example AI" / "Terms of Service"
    example.mkdir(parents=True)
    (example / "2025-11-02T10-00-00Z.md").write_text(EXAMPLE_V1)
    (example / "2026-02-03T10-00-00Z.md").write_text(EXAMPLE_V2)
    return dataset


def import_dataset(db_url: str, dataset: Path) -> None:
    done = CliRunner().invoke(cli, ["--db", db_url, "--sources", NO_SOURCES, "import", str(dataset)])
    assert done.exit_code == 0, done.output


# The folder each imported database was built from: imported sources cite it in their URL.
DATASET_FOLDERS: dict[str, Path] = {}


@pytest.fixture(scope="module")
def site_db(corpus: Path, tmp_path_factory: pytest.TempPathFactory, module_db_url: str) -> str:
    folder = tmp_path_factory.mktemp("web")
    import_dataset(module_db_url, build_dataset(corpus, folder))
    DATASET_FOLDERS[module_db_url] = folder
    return module_db_url


@pytest.fixture(scope="module")
def client(site_db: str):  # type: ignore[no-untyped-def]
    from monitor.web import create_app

    with TestClient(create_app(connect(site_db))) as test_client:
        yield test_client


def get_ok(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return response.text


def clause_key(client: TestClient, source: str, needle: str) -> str:
    clauses = client.get(f"/api/sources/{source}").json()["clauses"]
    return next(c["key"] for c in clauses if needle in c["text"])


# ---------------------------------------------------------------- pages


def test_home_lists_providers_documents_and_latest_tightenings_first(client: TestClient) -> None:
    html = get_ok(client, "/")
    assert "<h1>" in html and "Latest tightenings" in html
    for provider in ("Le Chat", "Claude.ai", "Example AI"):
        assert f"<h3>{provider}</h3>" in html
    data = client.get("/api/").json()
    assert data["tightened"], "the slice has tightening events"
    dates = [e["observed_at"] for e in data["tightened"]]
    assert dates == sorted(dates, reverse=True)
    assert all(e["direction"] == "tightened" for e in data["tightened"])
    assert "▲" in html and "tightened" in html  # direction in symbol and word, not colour alone


def test_document_page_has_timeline_events_and_watched_clauses(client: TestClient) -> None:
    html = get_ok(client, f"/sources/{EXAMPLE}")
    data = client.get(f"/api/sources/{EXAMPLE}").json()
    assert [v["seq"] for v in data["timeline"]] == [2, 1]  # newest first
    newest = data["timeline"][0]
    assert newest["events"] and newest["events"][0]["direction"] == "tightened"
    assert str(escape(newest["events"][0]["reason"])) in html
    assert "Watched clauses today (version 2)" in html
    assert any("output_training" in c["categories"] for c in data["clauses"])
    assert f'href="/sources/{EXAMPLE}/diff/1..2"' in html
    assert f'href="/sources/{EXAMPLE}/versions/2/snapshot"' in html


def test_clause_page_shows_each_reading_and_the_word_diff(client: TestClient) -> None:
    key = clause_key(client, EXAMPLE, "develop any models or products")
    html = get_ok(client, f"/sources/{EXAMPLE}/clauses/{key}")
    data = client.get(f"/api/sources/{EXAMPLE}/clauses/{key}").json()
    assert [(s["from_seq"], s["to_seq"]) for s in data["spans"]] == [(2, 2), (1, 1)]
    assert "except for a Permitted Exception" in data["spans"][1]["text"]
    assert data["events"][0]["direction"] == "tightened"
    assert "<del>" in html and "<ins>" in html
    assert "[removed: " in html and "[added: " in html  # words for screen readers, not colour alone
    assert "Permitted Exception" in html.split("<del>", 1)[1]
    assert "Cite this" in html and "key " + key in data["cite"]


def test_version_page_evidence_snapshot_download_and_hash(client: TestClient) -> None:
    html = get_ok(client, f"/sources/{LE_CHAT}/versions/1")
    data = client.get(f"/api/sources/{LE_CHAT}/versions/1").json()
    snapshot = data["version"]["snapshot"]
    assert snapshot["sha256"] in html and snapshot["fetched_at"] in html
    response = client.get(f"/sources/{LE_CHAT}/versions/1/snapshot")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == snapshot["sha256"]
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["content-type"].startswith("text/markdown")
    assert "Le Chat" in data["cite"] and snapshot["sha256"] in data["cite"] and data["source"]["url"] in data["cite"]


def test_as_of_a_date_is_the_version_then_in_force(client: TestClient) -> None:
    versions = client.get(f"/api/sources/{LE_CHAT}").json()["timeline"]
    oldest = versions[-1]
    day = oldest["observed_at"][:10]
    data = client.get(f"/api/sources/{LE_CHAT}/as-of/{day}").json()
    assert data["version"]["seq"] == oldest["seq"] and data["as_of"] == day
    assert f"as it read on {day}" in get_ok(client, f"/sources/{LE_CHAT}/as-of/{day}")
    assert client.get(f"/sources/{LE_CHAT}/as-of/2001-01-01").status_code == 404
    assert client.get(f"/sources/{LE_CHAT}/as-of/not-a-date").status_code == 404
    response = client.get(f"/sources/{LE_CHAT}/as-of?date={day}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/sources/{LE_CHAT}/as-of/{day}"


def test_diff_between_any_two_versions_and_by_date(client: TestClient) -> None:
    html = get_ok(client, f"/sources/{EXAMPLE}/diff/1..2")
    assert "Key:" in html and "<del>" in html and "−" in html and "+" in html
    assert get_ok(client, f"/sources/{EXAMPLE}/diff/2..1")
    by_date = client.get(f"/api/sources/{EXAMPLE}/diff/2025-12-01..2026-03-01").json()
    assert (by_date["from"]["seq"], by_date["to"]["seq"]) == (1, 2)
    assert client.get(f"/api/sources/{EXAMPLE}/diff/1..1").json()["identical"] is True
    assert client.get(f"/sources/{EXAMPLE}/diff/1-2").status_code == 404
    assert client.get(f"/sources/{EXAMPLE}/diff/1..9").status_code == 404
    response = client.get(f"/sources/{EXAMPLE}/diff?from=1&to=2", follow_redirects=False)
    assert response.headers["location"] == f"/sources/{EXAMPLE}/diff/1..2"


def test_script_in_the_terms_is_shown_as_text_everywhere(client: TestClient) -> None:
    key = clause_key(client, EXAMPLE, "reverse engineer")
    paths = [f"/sources/{EXAMPLE}", f"/sources/{EXAMPLE}/versions/1", f"/sources/{EXAMPLE}/clauses/{key}",
             f"/sources/{EXAMPLE}/diff/1..2", "/search?q=pwned", "/matrix", "/feeds/all.atom"]
    for path in paths:
        text = get_ok(client, path)
        assert "<script" not in text, path
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in get_ok(client, f"/sources/{EXAMPLE}/versions/1")
    assert "default-src 'none'" in client.get("/").headers["content-security-policy"]


def test_search_filters_by_provider_category_and_direction(client: TestClient) -> None:
    everything = client.get("/api/search").json()["results"]
    assert everything and all(r["categories"] for r in everything)
    found = client.get("/api/search?q=PERMITTED+EXCEPTION").json()["results"]  # case-insensitive
    assert EXAMPLE not in {r["source"] for r in found}  # gone from the latest Example AI terms
    found = client.get("/api/search?q=permitted+exception&history=1").json()["results"]
    assert EXAMPLE in {r["source"] for r in found}
    only = client.get("/api/search?provider=Example+AI&category=output_training&direction=tightened").json()
    assert only["results"] and all(r["provider"] == "Example AI" and "output_training" in r["categories"]
                                   and r["last_change"]["direction"] == "tightened" for r in only["results"])
    html = get_ok(client, "/search?q=scrape")
    for label in ('for="q"', 'for="provider"', 'for="category"', 'for="direction"', 'for="history"'):
        assert label in html
    assert client.get("/api/search?q=100%25_").status_code == 200  # LIKE wildcards are literal


def test_matrix_answers_who_forbids_training_on_outputs_and_since_when(client: TestClient) -> None:
    rows = {r["source"]: r for r in client.get("/api/matrix").json()["rows"]}
    cell = rows[EXAMPLE]["cells"]["output_training"]
    assert cell["since"].startswith("2025-11-02") and cell["since_first_version"] is True
    assert cell["last_change"]["direction"] == "tightened" and cell["last_change"]["observed_at"].startswith("2026-02-03")
    before = {r["source"]: r for r in client.get("/api/matrix?at=2025-12-31").json()["rows"]}
    assert before[EXAMPLE]["seq"] == 1 and before[EXAMPLE]["cells"]["output_training"]["last_change"] is None
    assert client.get("/api/matrix?at=2020-01-01").json()["rows"][0]["seq"] is None
    html = get_ok(client, "/matrix?at=2025-12-31")
    assert "as of 2025-12-31" in html and "<caption>" in html and 'scope="row"' in html


def test_trends_chart_is_svg_with_numbers_beside_it(client: TestClient) -> None:
    html = get_ok(client, "/trends")
    assert "<svg" in html and 'role="img"' in html and "<title id=" in html
    data = client.get("/api/trends").json()
    assert data["months"][0] == "2025-11" and data["months"][-1] >= "2026-02"
    february = next(r for r in data["totals"] if r["month"] == "2026-02")
    assert february["tightened"] >= 1
    assert any(g["group"] == "Example AI" for g in data["by_provider"])
    assert any(g["group"] == "output_training" for g in data["by_category"])
    assert "Restrictive clauses added" in html  # the table beside the chart
    assert "by_category" not in client.get("/api/trends?by=provider").json()


def test_atom_feeds_overall_and_per_source(client: TestClient) -> None:
    import feedparser

    for path, source in (("/feeds/all.atom", None), (f"/feeds/{EXAMPLE}.atom", EXAMPLE)):
        response = client.get(path)
        assert response.status_code == 200 and "atom+xml" in response.headers["content-type"]
        ET.fromstring(response.content)  # well-formed
        feed = feedparser.parse(response.content)
        assert not feed.bozo and feed.entries
        if source:
            assert all(f"/sources/{source}/clauses/" in e.link for e in feed.entries)
    entry = feedparser.parse(client.get(f"/feeds/{EXAMPLE}.atom").content).entries[0]
    assert entry.id.startswith(f"tag:clausewatch,2025:{EXAMPLE}/v2/") and entry.title.startswith("TIGHTENED: ")
    assert client.get("/feeds/nope.atom").status_code == 404


def test_every_page_has_a_json_mirror_with_the_same_data(client: TestClient) -> None:
    key = clause_key(client, EXAMPLE, "scrape")
    for path in ("/", f"/sources/{EXAMPLE}", f"/sources/{EXAMPLE}/versions/1", f"/sources/{EXAMPLE}/as-of/2026-01-01",
                 f"/sources/{EXAMPLE}/clauses/{key}", f"/sources/{EXAMPLE}/diff/1..2", "/search?q=scrape",
                 "/matrix", "/trends"):
        api = "/api" + (path if path != "/" else "/")
        response = client.get(api)
        assert response.status_code == 200 and response.headers["content-type"] == "application/json", api
        html = get_ok(client, path)
        assert 'href="/api' in html  # each page links its JSON
    assert client.get("/api/sources/nope").json() == {"error": client.get("/api/sources/nope").json()["error"]}
    assert client.get("/api/sources/nope").status_code == 404


def test_unknown_things_are_404_pages_not_errors(client: TestClient) -> None:
    for path in ("/sources/nope", f"/sources/{EXAMPLE}/versions/99", f"/sources/{EXAMPLE}/clauses/c-000000000000",
                 f"/sources/{EXAMPLE}/versions/99/snapshot"):
        response = client.get(path)
        assert response.status_code == 404 and "<h1>Not found</h1>" in response.text, path


# ---------------------------------------------------------------- permalinks and keys


def test_permalinks_and_clause_keys_survive_restarts_and_reimports(corpus: Path, site_db: str,
                                                                   tmp_path: Path) -> None:
    """Clause keys are derived from content: importing the same history into a new database gives the same
    keys, seqs and therefore the same URLs."""
    from monitor.web import create_app

    site_folder = DATASET_FOLDERS[site_db]

    other = f"sqlite:///{tmp_path / 'again.db'}"
    import_dataset(other, build_dataset(corpus, tmp_path))
    with TestClient(create_app(connect(site_db))) as first, TestClient(create_app(connect(other))) as second:
        for source in (EXAMPLE, LE_CHAT, "claude-ai-commercial-terms"):
            a, b = first.get(f"/api/sources/{source}").json(), second.get(f"/api/sources/{source}").json()
            assert [c["key"] for c in a["clauses"]] == [c["key"] for c in b["clauses"]]
            assert [(v["seq"], v["observed_at"], v["text_sha256"]) for v in a["timeline"]] == \
                [(v["seq"], v["observed_at"], v["text_sha256"]) for v in b["timeline"]]
            for clause in a["clauses"]:
                path = f"/sources/{source}/clauses/{clause['key']}"
                # the same page, but for the imported folder's location in the source URL
                assert first.get(path).text.replace(str(site_folder), "") == \
                    second.get(path).text.replace(str(tmp_path), "")
        assert first.get("/feeds/all.atom").text.count("<entry>") == second.get("/feeds/all.atom").text.count("<entry>")


def test_pages_on_both_backends(corpus: Path, db_url: str, tmp_path: Path) -> None:
    from monitor.web import create_app

    dataset = tmp_path / "dataset"
    example = dataset / "Example AI" / "Terms of Service"
    example.mkdir(parents=True)
    (example / "2025-11-02T10-00-00Z.md").write_text(EXAMPLE_V1)
    (example / "2026-02-03T10-00-00Z.md").write_text(EXAMPLE_V2)
    import_dataset(db_url, dataset)
    with TestClient(create_app(connect(db_url))) as client:
        key = clause_key(client, EXAMPLE, "develop any models")
        for path in ("/", f"/sources/{EXAMPLE}", f"/sources/{EXAMPLE}/versions/2", f"/sources/{EXAMPLE}/clauses/{key}",
                     f"/sources/{EXAMPLE}/diff/1..2", f"/sources/{EXAMPLE}/as-of/2026-01-01", "/search?q=SCRAPE",
                     "/matrix?at=2026-01-01", "/trends", "/feeds/all.atom", f"/sources/{EXAMPLE}/versions/1/snapshot"):
            get_ok(client, path)
        assert client.get("/api/search?q=SCRAPE").json()["results"]  # case-insensitive on PostgreSQL too
        rows = {r["source"]: r for r in client.get("/api/matrix").json()["rows"]}
        assert rows[EXAMPLE]["cells"]["output_training"]["last_change"]["direction"] == "tightened"


# ---------------------------------------------------------------- static export


def test_static_site_writes_the_same_pages_with_relative_links(site_db: str, tmp_path: Path) -> None:
    out = tmp_path / "public"
    done = CliRunner().invoke(cli, ["--db", site_db, "site", str(out), "--site-url", "https://example.org/cw"])
    assert done.exit_code == 0, done.output
    for page in ("index.html", "matrix/index.html", "trends/index.html", "search/index.html",
                 f"sources/{EXAMPLE}/index.html", f"sources/{EXAMPLE}/versions/1/index.html",
                 f"sources/{EXAMPLE}/diff/1..2/index.html", "feeds/all.atom", f"feeds/{EXAMPLE}.atom",
                 "static/site.css", f"api/sources/{EXAMPLE}.json", "api/index.json",
                 f"sources/{EXAMPLE}/versions/1/snapshot.md"):
        assert (out / page).is_file(), page
    version_page = (out / f"sources/{EXAMPLE}/versions/1/index.html").read_text()
    assert 'href="../../../../static/site.css"' in version_page
    assert 'href="../../../../index.html"' in version_page
    assert 'href="snapshot.md"' in version_page
    assert "<form" not in version_page and "<script" not in version_page
    # every relative link of every page points at a file that exists
    import re

    for html_file in out.rglob("*.html"):
        for target in re.findall(r'href="([^"#:]+)"', html_file.read_text()):
            assert (html_file.parent / target).resolve().exists(), (html_file, target)
    assert "https://example.org/cw/sources/" in (out / "feeds/all.atom").read_text()
    assert json.loads((out / f"api/sources/{EXAMPLE}.json").read_text())["source"]["id"] == EXAMPLE
