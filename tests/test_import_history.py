"""`clausewatch import` keeps the history true: a repeat adds nothing, an overlapping slice adds only what is
missing, an older slice is put in time order with its events made again and nobody alerted; only the two
history layouts count."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from monitor.cli import cli
from monitor.store import FetchAttempt, Notification, Version, connect, session_scope

DOCUMENT = Path("Le Chat") / "Commercial Terms"  # 6 recorded versions; a tightening on 2025-12-15
SOURCE_ID = "le-chat-commercial-terms"
ALERTS = """channels:
  hook: {kind: webhook, url: "http://127.0.0.1:9/hook", secret: "${CW_SECRET}", retries: 0}
routes:
  - channels: [hook]
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"CW_SECRET": "s3cret"})
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def slice_of(corpus: Path, folder: Path, first: int, last: int) -> Path:
    """A dataset holding versions first..last (1-based, inclusive) of the document, in file-name order."""
    files = sorted((corpus / "genai-eu" / DOCUMENT).glob("*.md"))[first - 1:last]
    (folder / DOCUMENT).mkdir(parents=True)
    for file in files:
        shutil.copy(file, folder / DOCUMENT / file.name)
    return folder


def import_(db: str, dataset: Path, tmp_path: Path) -> tuple[int, str]:
    config = tmp_path / "clausewatch.yaml"
    config.write_text(ALERTS)
    return run("--db", db, "--config", str(config), "--sources", str(tmp_path / "empty-sources.yaml"),
               "import", str(dataset))


def history(db: str) -> dict:
    code, out = run("--db", db, "history", SOURCE_ID, "--json")
    assert code == 0, out
    return json.loads(out)


def events(db: str) -> list[tuple]:
    code, out = run("--db", db, "changes", "--json")
    assert code == 0, out
    return [(e["version"], e["observed_at"], e["key"], e["kind"], e["direction"], e["alert"], e["after"])
            for e in json.loads(out)]


def counts(db: str) -> tuple[int, int, int]:
    engine = connect(db)
    with session_scope(engine) as session:
        found = tuple(session.execute(select(func.count()).select_from(table)).scalar_one()
                      for table in (FetchAttempt, Version, Notification))
    engine.dispose()
    return found  # type: ignore[return-value]


@pytest.fixture
def empty_registry(tmp_path: Path) -> None:
    (tmp_path / "empty-sources.yaml").write_text("sources: []\n")


@pytest.fixture
def whole(corpus: Path, tmp_path: Path, empty_registry: None) -> tuple[dict, list[tuple]]:
    """The history and events of the whole document imported at once, into a SQLite database of its own."""
    db = f"sqlite:///{tmp_path / 'whole.db'}"
    assert import_(db, slice_of(corpus, tmp_path / "whole", 1, 6), tmp_path)[0] == 0
    return history(db), events(db)


def test_importing_the_same_dataset_again_adds_nothing(corpus: Path, tmp_path: Path, db_url: str,
                                                       empty_registry: None) -> None:
    dataset = slice_of(corpus, tmp_path / "dataset", 1, 6)
    assert import_(db_url, dataset, tmp_path)[0] == 0
    before, stored = events(db_url), counts(db_url)
    code, out = import_(db_url, dataset, tmp_path)
    assert code == 0 and "nothing new: all 6 recorded versions of 1 documents are already stored" in out
    assert events(db_url) == before and counts(db_url) == stored
    assert stored[2] == 0  # no outbox rows


def test_an_overlapping_slice_adds_only_the_missing_versions(corpus: Path, tmp_path: Path, db_url: str,
                                                              whole: tuple[dict, list[tuple]]) -> None:
    assert import_(db_url, slice_of(corpus, tmp_path / "first", 1, 4), tmp_path)[0] == 0
    code, out = import_(db_url, slice_of(corpus, tmp_path / "last", 3, 6), tmp_path)
    assert code == 0 and "imported 2 recorded versions" in out and "2 already stored" in out
    assert counts(db_url) == (6, len(whole[0]["versions"]), 0)
    assert history(db_url)["versions"] == whole[0]["versions"] and events(db_url) == whole[1]


def test_an_older_slice_is_put_in_time_order_and_alerts_nobody(corpus: Path, tmp_path: Path, db_url: str,
                                                               whole: tuple[dict, list[tuple]]) -> None:
    assert import_(db_url, slice_of(corpus, tmp_path / "newer", 4, 6), tmp_path)[0] == 0
    code, out = import_(db_url, slice_of(corpus, tmp_path / "older", 1, 3), tmp_path)
    assert code == 0 and "imported 3 recorded versions" in out and f"time order" in out and SOURCE_ID in out
    versions = history(db_url)["versions"]
    assert [v["seq"] for v in versions] == list(range(1, len(versions) + 1))
    assert [v["observed_at"] for v in versions] == sorted(v["observed_at"] for v in versions)
    # the same versions and events as the whole history imported in order, the December tightening included
    assert versions == whole[0]["versions"] and events(db_url) == whole[1]
    assert any(e[1].startswith("2025-12-15") and e[4] == "tightened" for e in events(db_url))
    assert counts(db_url) == (6, len(versions), 0)  # every attempt once; no outbox rows


def test_a_repository_of_code_is_not_history(tmp_path: Path) -> None:
    """The project's own repository has two-level files (monitor/errors.py) but is no versions repository."""
    project = Path(__file__).resolve().parent.parent
    if not (project / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    code, out = run("--db", f"sqlite:///{tmp_path / 'cw.db'}", "import", str(project))
    assert code == 2 and "found no versions" in out


# ---------------------------------------------------------------- the registry names its history

REGISTRY = """sources:
  - id: mistral-commercial-terms
    provider: Mistral AI
    title: Commercial Terms of Service
    url: https://legal.mistral.ai/terms/commercial-terms-of-service
    format: markdown
    history: {service: "Le Chat", terms_type: "Commercial Terms"}
"""
REGISTRY_SOURCE = {"id": "mistral-commercial-terms", "provider": "Mistral AI", "title": "Commercial Terms of Service",
                   "url": "https://legal.mistral.ai/terms/commercial-terms-of-service"}


def source_of(db: str, source_id: str) -> dict:
    code, out = run("--db", db, "show", source_id, "--json")
    assert code == 0, out
    return {k: v for k, v in json.loads(out)["source"].items() if k in REGISTRY_SOURCE}


def test_a_registry_entry_continues_its_imported_history(corpus: Path, tmp_path: Path, db_url: str) -> None:
    registry = tmp_path / "sources.yaml"
    registry.write_text(REGISTRY)
    dataset = slice_of(corpus, tmp_path / "dataset", 1, 6)
    assert run("--db", db_url, "--sources", str(registry), "import", str(dataset))[0] == 0
    assert source_of(db_url, "mistral-commercial-terms") == REGISTRY_SOURCE
    assert run("--db", db_url, "history", SOURCE_ID)[0] != 0  # no second timeline under the folder names
    versions = len(history_of(db_url, "mistral-commercial-terms")["versions"])

    # fetching (ingest: the same pipeline as run) continues the same timeline
    newest = sorted((dataset / DOCUMENT).glob("*.md"))[-1]
    page = tmp_path / "page.md"
    page.write_text(newest.read_text() + "\n\nYou may not use the Services to develop models that compete with us.\n")
    code, out = run("--db", db_url, "--sources", str(registry), "ingest", "mistral-commercial-terms", str(page),
                    "--at", "2026-09-01T00:00:00Z")
    assert code == 0 and f"(version {versions + 1})" in out, out
    # and no command makes the provider, title or URL flip
    assert run("--db", db_url, "--sources", str(registry), "import", str(dataset))[0] == 0
    assert source_of(db_url, "mistral-commercial-terms") == REGISTRY_SOURCE
    assert len(history_of(db_url, "mistral-commercial-terms")["versions"]) == versions + 1


def history_of(db: str, source_id: str) -> dict:
    code, out = run("--db", db, "history", source_id, "--json")
    assert code == 0, out
    return json.loads(out)


def test_the_shipped_registry_names_the_corpus_documents_it_watches(corpus: Path) -> None:
    from monitor.sources import load_sources, shipped_sources_file

    sources = load_sources(shipped_sources_file())
    folders = {(path.parent.name, path.name) for collection in ("genai-eu", "genai-eu-extra", "genai-eu-snapshots")
               for path in (corpus / collection).glob("*/*") if path.is_dir()}
    named = {source.id: (source.history.service, source.history.terms_type) for source in sources if source.history}
    assert named and set(named.values()) <= folders
    assert named["anthropic-commercial-terms"] == ("Claude.ai", "Commercial Terms")
    # every entry whose page the corpus holds snapshots of names its history
    manifest = json.loads((corpus / "genai-eu-snapshots" / "manifest.json").read_text())
    snapshot_urls = {entry["url"] for entry in manifest}
    assert {source.id for source in sources if source.url in snapshot_urls} <= set(named)


# ---------------------------------------------------------------- evidence cites its origin


def test_imported_evidence_cites_its_origin_never_a_local_path(corpus: Path, tmp_path: Path, db_url: str) -> None:
    registry = tmp_path / "sources.yaml"
    registry.write_text(REGISTRY)
    dataset = slice_of(corpus, tmp_path / "genai-eu", 1, 6)
    shutil.copytree(corpus / "genai-eu" / "Qwen Chat" / "Terms of Service", dataset / "Qwen Chat" / "Terms of Service")
    assert run("--db", db_url, "--sources", str(registry), "import", str(dataset))[0] == 0
    newest = sorted((dataset / DOCUMENT).glob("*.md"))[-1].name
    for source_id in ("qwen-chat-terms-of-service", "mistral-commercial-terms"):  # no registry entry; one
        code, out = run("--db", db_url, "show", source_id, "--clauses-only")
        assert code == 0 and "file:" not in out and str(tmp_path) not in out, out
        assert "archived copy: dataset genai-eu (versions recorded to " in out
    shown = run("--db", db_url, "show", "mistral-commercial-terms", "--json")[1]
    assert f"file Le Chat/Commercial Terms/{newest}" in json.loads(shown)["cite"]
    assert REGISTRY_SOURCE["url"] in json.loads(shown)["cite"]  # the public URL comes from the registry
    site = tmp_path / "site"
    code, out = run("--db", db_url, "site", str(site))
    assert code == 0, out
    pages = [page for page in site.rglob("*") if page.is_file() and page.suffix in (".html", ".json", ".atom")]
    assert len(pages) > 20
    for page in pages:
        text = page.read_text(errors="replace")
        assert "file://" not in text and str(tmp_path) not in text, page
    assert any("archived copy: dataset genai-eu" in page.read_text() for page in pages if page.suffix == ".html")


def test_a_versions_repository_is_cited_by_address_commit_and_path(corpus: Path, tmp_path: Path) -> None:
    import subprocess

    from monitor.importer import find_versions

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "versions"
    (repo / "Le Chat").mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "remote", "add", "origin", "https://someone:token@github.com/example/versions.git"],
                   check=True)
    shutil.copy(sorted((corpus / "genai-eu" / DOCUMENT).glob("*.md"))[0], repo / "Le Chat" / "Commercial Terms.md")
    (repo / "README.md").write_text("versions\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    [version] = find_versions(repo)
    assert version.origin == (f"repository https://github.com/example/versions.git, commit {commit}, "
                              f"file Le Chat/Commercial Terms.md")


# ---------------------------------------------------------------- health after imports


def test_health_after_an_import_reports_the_newest_fetch(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """An import inserts old attempts after a recent fetch: health goes by the newest fetch time."""
    import datetime as dt

    registry = tmp_path / "sources.yaml"
    registry.write_text(REGISTRY.split("    history:")[0])  # the import makes a second source: health is global
    page = tmp_path / "page.md"
    page.write_text(sorted((corpus / "genai-eu" / DOCUMENT).glob("*.md"))[-1].read_text())
    an_hour_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert run("--db", db_url, "--sources", str(registry), "ingest", "mistral-commercial-terms", str(page),
               "--at", an_hour_ago)[0] == 0
    dataset = slice_of(corpus, tmp_path / "dataset", 1, 6)
    assert run("--db", db_url, "--sources", str(registry), "import", str(dataset))[0] == 0
    code, out = run("--db", db_url, "health", "--json")
    report = json.loads(out)
    assert code == 0 and report["last_success_at"] == an_hour_ago, out


def test_older_history_goes_in_before_a_fetched_version(corpus: Path, tmp_path: Path, db_url: str,
                                                        whole: tuple[dict, list[tuple]]) -> None:
    """A source fetched first and given its archived history afterwards: the history goes before the fetch,
    whose body (the same text as the newest archived version) is then an unchanged capture."""
    registry = tmp_path / "sources.yaml"
    registry.write_text(REGISTRY)
    page = tmp_path / "page.md"
    page.write_text(sorted((corpus / "genai-eu" / DOCUMENT).glob("*.md"))[-1].read_text())
    assert run("--db", db_url, "--sources", str(registry), "ingest", "mistral-commercial-terms", str(page),
               "--at", "2026-09-01T00:00:00Z")[0] == 0
    code, out = run("--db", db_url, "--sources", str(registry), "import", str(slice_of(corpus, tmp_path / "d", 1, 6)))
    assert code == 0 and "time order" in out, out
    fetched = history_of(db_url, "mistral-commercial-terms")
    assert [v["seq"] for v in fetched["versions"]] == [v["seq"] for v in whole[0]["versions"]]
    assert [v["observed_at"] for v in fetched["versions"]] == [v["observed_at"] for v in whole[0]["versions"]]
    assert fetched["attempts"] == {"ok": 6, "invalid": 1} and counts(db_url)[2] == 0


# ---------------------------------------------------------------- the example history


def test_the_example_history_loads_and_the_site_shows_it(tmp_path: Path, db_url: str) -> None:
    from starlette.testclient import TestClient

    from monitor.web.app import create_app

    code, out = run("--db", db_url, "import", "--example")
    assert code == 0 and "imported" in out, out
    code, out = run("--db", db_url, "changes", "--direction", "tightened", "--json")
    tightened = json.loads(out)
    assert {"mistral-commercial-terms", "meta-llama-api-terms-of-service", "meta-llama-acceptable-use-policy"} <= {
        event["source"] for event in tightened}  # real tightenings, the licence lineage's among them
    engine = connect(db_url)
    try:
        home = TestClient(create_app(engine)).get("/")
    finally:
        engine.dispose()
    assert home.status_code == 200 and "Mistral AI" in home.text and "Llama" in home.text
    code, out = run("--db", db_url, "import", "--example")
    assert code == 0 and out.count("nothing new") == 2, out


def test_import_takes_a_path_or_the_example(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cw.db'}"
    for args in ((), ("--example", str(tmp_path))):
        code, out = run("--db", db, "import", *args)
        assert code == 2 and "give a dataset PATH or --example" in out, out


def test_the_quick_start_shows_the_example_on_the_site() -> None:
    code, out = run("--help")
    assert code == 0 and "clausewatch import --example" in out and "clausewatch serve" in out
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    quick_start = readme[:readme.index("clausewatch serve") + 100]
    assert "clausewatch import --example" in quick_start


def test_a_history_named_twice_or_misspelt_is_one_clear_line(tmp_path: Path) -> None:
    entry = ("  - id: {id}\n    provider: P\n    title: T\n    url: https://example.com/{id}\n"
             "    history: {{service: \"Le Chat\", {field}: \"Commercial Terms\"}}\n")
    for text, message in (
            ("sources:\n" + entry.format(id="a", field="terms_type") + entry.format(id="b", field="terms_type"),
             "source 'b': field 'history': the same document as source 'a'"),
            ("sources:\n" + entry.format(id="a", field="type"), "source 'a': field 'history.terms_type': required field is missing")):
        registry = tmp_path / "sources.yaml"
        registry.write_text(text)
        code, out = run("--sources", str(registry), "sources", "--check")
        assert code == 2 and message in out and len(out.strip().splitlines()) == 1, out
