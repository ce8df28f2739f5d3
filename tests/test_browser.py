"""The browser fetcher on a page whose terms a script inserts: http sees no terms, the browser does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml


PAGE = """<!doctype html><html><head><title>Terms</title></head><body>
<div id="app">Loading…</div>
<script>
const items = [
  "use Output to develop models that compete with Example, except for a Permitted Exception;",
  "reverse engineer, decompile or disassemble the Services;",
  "use any automated means to scrape data from the Services."];
document.getElementById("app").innerHTML = "<main><h1>Terms of Use</h1><h2>3. Restrictions</h2>" +
  "<p>You may not:</p><ol type='a'>" + items.map(i => "<li>" + i + "</li>").join("") + "</ol>" +
  "<h2>4. Changes</h2><p>" + "We may update these Terms from time to time and will tell you. ".repeat(6) +
  "</p></main>";
</script></body></html>"""


def test_script_built_page_http_is_invalid_browser_extracts(chromium: str, local_server, tmp_path: Path,
                                                             db_url: str) -> None:
    url = local_server.serve("/terms", PAGE)
    common = {"provider": "Example", "title": "Terms of Use", "url": url, "select": ["main"],
              "expect": "Terms of Use", "allow_private": True, "respect_robots": False}
    sources = [{"id": "by-http", **common}, {"id": "by-browser", "fetcher": "browser", **common}]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
    run = subprocess.run([sys.executable, "-m", "monitor", "--db", db_url, "run", "--once"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=180)
    assert "Traceback" not in run.stderr
    assert run.returncode == 1  # the http source failed
    assert "by-http: invalid: selector 'main' matched nothing, and the text found automatically fails" in run.stderr
    assert "new versions 1" in run.stdout
    listed = subprocess.run([sys.executable, "-m", "monitor", "--db", db_url, "clauses", "by-browser", "--json"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    clauses = json.loads(listed.stdout)
    categories = {category for clause in clauses for category in clause["categories"]}
    assert {"output_training", "reverse_engineering", "automated_extraction"} <= categories
