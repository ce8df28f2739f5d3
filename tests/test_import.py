"""`clausewatch import`: Open Terms Archive dataset folders and versions git repositories, on real history."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.importer import find_versions, source_for
from monitor.timestamps import parse_stamp

# imported history keeps its folder names: no registry entry takes it over
NO_SOURCES = str(Path(__file__).resolve().parent / "data" / "no-sources.yaml")


def clausewatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def copy_documents(corpus: Path, tmp_path: Path, *documents: str) -> Path:
    dataset = tmp_path / "dataset"
    for document in documents:
        shutil.copytree(corpus / "genai-eu" / document, dataset / document)
    return dataset


def test_dataset_folder_becomes_sources_named_after_the_folders(corpus: Path, tmp_path: Path, db_url: str) -> None:
    dataset = copy_documents(corpus, tmp_path, "Le Chat/Commercial Terms")
    db = db_url
    done = clausewatch("--db", db, "--sources", NO_SOURCES, "import", str(dataset), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    files = len(list((dataset / "Le Chat" / "Commercial Terms").glob("*.md")))
    assert f"imported {files} recorded versions of 1 documents" in done.stdout
    clauses = json.loads(clausewatch("--db", db, "clauses", "--json", cwd=tmp_path).stdout)
    assert clauses and {(c["provider"], c["title"]) for c in clauses} == {("Le Chat", "Commercial Terms")}
    assert all(c["categories"] and c["observed_at"].endswith("Z") for c in clauses)
    changes = json.loads(clausewatch("--db", db, "changes", "--json", cwd=tmp_path).stdout)
    assert changes == sorted(changes, key=lambda e: e["observed_at"])
    required = {"id", "source", "provider", "title", "version", "observed_at", "key", "path", "kind",
                "categories", "direction", "reason", "before", "after", "diff"}
    assert all(required <= set(event) for event in changes)
    # the December 2025 rewrite: the new ban on trading API keys is a tightening seen on 15 December
    api_keys = [e for e in changes if "API keys" in e["after"] and "API keys" not in e["before"]]
    assert api_keys and api_keys[0]["direction"] == "tightened"
    assert api_keys[0]["observed_at"].startswith("2025-12-15")


def test_error_page_versions_make_no_events(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """The Llama API terms alternate with a 'This page isn't available' page (43 of 96 versions)."""
    dataset = copy_documents(corpus, tmp_path, "Llama API/Terms of Service")
    db = db_url
    assert clausewatch("--db", db, "--sources", NO_SOURCES, "import", str(dataset), cwd=tmp_path).returncode == 0
    history = json.loads(clausewatch("--db", db, "history", "llama-api-terms-of-service", "--json",
                                     cwd=tmp_path).stdout)
    assert history["attempts"].get("invalid", 0) == 43
    changes = json.loads(clausewatch("--db", db, "changes", "--json", cwd=tmp_path).stdout)
    removed = [e for e in changes if e["kind"] == "removed"]
    assert removed and all(e["observed_at"][:10] == "2026-07-08" for e in removed)
    # every event belongs to one of the real rewrites, never to a switch to or from the error page
    assert {e["observed_at"][:10] for e in changes} == {"2026-07-08", "2026-08-05", "2026-08-22"}


def test_versions_git_repository(corpus: Path, tmp_path: Path) -> None:
    """Each commit of each file is a version at the commit time."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "versions"
    (repo / "Le Chat").mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    versions = sorted((corpus / "genai-eu" / "Le Chat" / "Commercial Terms").glob("*.md"))[:4]
    for version in versions:
        shutil.copy(version, repo / "Le Chat" / "Commercial Terms.md")
        when = parse_stamp(version.stem).isoformat()
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(repo), "commit", "-qm", version.stem, "--allow-empty"], check=True,
                       env={**env, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when})
    found = find_versions(repo)
    assert len({v.read_bytes() for v in versions}) == len(versions), "the slice must be four distinct texts"
    assert [v.recorded_at for v in found] == [parse_stamp(v.stem) for v in versions]
    assert {(v.service, v.terms_type) for v in found} == {("Le Chat", "Commercial Terms")}
    assert found[0].read() == versions[0].read_bytes()


def test_bad_paths_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = clausewatch("--db", f"sqlite:///{tmp_path / 'cw.db'}", "import", str(tmp_path / "empty"),
                       cwd=tmp_path)
    assert done.returncode == 2 and "found no versions" in done.stderr


def test_source_ids_are_slugs_of_service_and_type() -> None:
    source = source_for("Claude.ai", "Commercial Terms", "file:///x")
    assert source.id == "claude-ai-commercial-terms"
    assert (source.provider, source.title) == ("Claude.ai", "Commercial Terms")


def test_meta_llama_licence_lineage(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """Llama 3 -> 3.1: the ban on using outputs to improve other models becomes a naming duty (loosened);
    Llama 3.2's use policy withholds multimodal rights in the EU (tightened); the 700 million user
    threshold is in every version and never changes."""
    dataset = tmp_path / "lineage"
    shutil.copytree(corpus / "licenses-lineage" / "Meta Llama", dataset / "Meta Llama")
    db = db_url
    assert clausewatch("--db", db, "import", str(dataset), cwd=tmp_path).returncode == 0
    changes = json.loads(clausewatch("--db", db, "changes", "--json", cwd=tmp_path).stdout)

    def events(day: str, category: str) -> list[dict]:
        return [e for e in changes if e["observed_at"].startswith(day) and category in e["categories"]]

    llama31 = "2024-07-08"
    assert any(e["direction"] == "loosened" and e["kind"] == "removed" and "improve any other large language model"
               in e["before"] for e in events(llama31, "output_training"))
    naming = events(llama31, "attribution_naming")
    assert any(e["direction"] == "loosened" and "output_training_permission" in e["categories"] for e in naming)
    eu = events("2024-09-25", "geographic_restriction")
    assert [e["direction"] for e in eu] == ["tightened"] and "European Union" in eu[0]["after"]
    thresholds = [e for e in changes if "scale_threshold" in e["categories"]]
    assert thresholds and all(e["direction"] == "reworded" for e in thresholds)
    clauses = json.loads(clausewatch("--db", db, "clauses", "meta-llama-community-license", "--category",
                                     "scale_threshold", "--json", cwd=tmp_path).stdout)
    assert clauses and all("700 million monthly active users" in c["text"] for c in clauses)
    for seq in range(1, 7):
        at_version = json.loads(clausewatch("--db", db, "clauses", "meta-llama-community-license", "--category",
                                            "scale_threshold", "--at", _stamp_of(corpus, seq), "--json",
                                            cwd=tmp_path).stdout)
        assert any("700 million" in c["text"] for c in at_version), f"version {seq} lost the threshold"


def _stamp_of(corpus: Path, seq: int) -> str:
    files = sorted((corpus / "licenses-lineage" / "Meta Llama" / "Community License").glob("*.md"))
    return files[seq - 1].stem
