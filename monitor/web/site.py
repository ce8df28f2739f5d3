"""Static export: an engine and a folder in, the site's pages as static HTML (plus Atom feeds, JSON mirrors
and raw snapshots) out, rendered by the same templates from the same page data as the server.

What the database holds is not trusted to be harmless: every file is written inside OUT or not at all,
raw snapshots are downloads (`.html.txt`, never a page that a static host would serve as HTML on the
site's own origin), and each page carries `serve`'s Content-Security-Policy as a <meta> tag.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor.errors import UsageError
from monitor.store import history, session_scope
from monitor.web import overview, queries
from monitor.web.app import PAGES, SECURITY_HEADERS
from monitor.web.feeds import render_feed
from monitor.web.render import STATIC, Renderer, download_suffix, static_file

CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{SECURITY_HEADERS["Content-Security-Policy"]}">'


@dataclass
class ExportSummary:
    pages: int = 0
    feeds: int = 0
    snapshots: int = 0
    json: int = 0

    def line(self, out: Path) -> str:
        return (f"wrote {self.pages} pages, {self.feeds} feeds, {self.snapshots} raw snapshots and "
                f"{self.json} JSON files to {out}")


def export_site(engine: Engine, out: Path, site_url: str | None = None, with_json: bool = True) -> ExportSummary:
    """Write the whole site under `out`; links are relative, so it works from any folder of any host.

    `site_url` (e.g. https://example.org/clausewatch) makes the Atom feeds' links absolute.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "static").mkdir(exist_ok=True)
    shutil.copy2(STATIC / "site.css", out / "static" / "site.css")
    writer = _SiteWriter(out.resolve(), site_url, with_json)
    with session_scope(engine) as session:
        writer.page("home", "/", queries.home_page(session))
        writer.page("matrix", "/matrix", overview.matrix_page(session))
        writer.page("trends", "/trends", overview.trends_page(session))
        writer.page("search", "/search", overview.search_page(session))
        writer.feed("/feeds/all.atom", queries.feed_page(session))
        keys_by_source = _clause_keys(session)
        for source in history.list_sources(session):
            writer.source(session, source["id"], keys_by_source.get(source["id"], set()))
    return writer.summary


def _clause_keys(session: Session) -> dict[str, set[str]]:
    """Source id -> the keys of its clauses that get a page: every watched clause and every clause with an event."""
    keys_by_source: dict[str, set[str]] = {}
    for clause in history.watched_clauses_everywhere(session):
        keys_by_source.setdefault(clause["source"], set()).add(clause["key"])
    for event in history.events(session):
        keys_by_source.setdefault(event["source"], set()).add(event["key"])
    return keys_by_source


class _SiteWriter:
    """Writes the pages (and their JSON), feeds and raw snapshots of the static site under one folder, counting them."""

    def __init__(self, inside: Path, site_url: str | None, with_json: bool) -> None:
        self.renderer = Renderer(static=True)
        self.summary = ExportSummary()
        self.inside = inside
        self.site_url = site_url
        self.with_json = with_json

    def write(self, path: str, content: str | bytes) -> None:
        target = _inside(self.inside, static_file(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    def page(self, name: str, path: str, data: dict[str, Any]) -> None:
        api_path = "/api" + (path if path != "/" else "")
        self.write(path, _with_csp(self.renderer.render(PAGES[name].template, data, path, api_path=api_path)))
        self.summary.pages += 1
        if self.with_json:
            self.write(api_path, json.dumps(data, ensure_ascii=False, indent=1))
            self.summary.json += 1

    def feed(self, feed_path: str, data: dict[str, Any]) -> None:
        self.write(feed_path, render_feed(data, feed_path, self.absolute(feed_path)))
        self.summary.feeds += 1

    def absolute(self, page_path: str) -> Any:
        site_url = self.site_url
        if site_url:
            return lambda path: site_url.rstrip("/") + path
        return self.renderer.link_for(page_path)

    def source(self, session: Session, source_id: str, clause_keys: set[str]) -> None:
        """A source's page and feed, each version's page and raw snapshot, the diffs between them and its clauses."""
        self.page("source", f"/sources/{source_id}", queries.source_page(session, source_id))
        self.feed(f"/feeds/{source_id}.atom", queries.feed_page(session, source_id))
        versions = history.versions_of(session, source_id)
        for version in versions:
            seq = version["seq"]
            self.page("version", f"/sources/{source_id}/versions/{seq}", queries.version_page(session, source_id, seq))
            if version["snapshot"]:
                self.snapshot(session, source_id, seq)
        for older, newer in zip(versions, versions[1:]):
            span = f"{older['seq']}..{newer['seq']}"
            self.page("diff", f"/sources/{source_id}/diff/{span}",
                      queries.diff_page(session, source_id, str(older["seq"]), str(newer["seq"]), budget=None))
        for key in sorted(clause_keys):
            self.page("clause", f"/sources/{source_id}/clauses/{key}", queries.clause_page(session, source_id, key))

    def snapshot(self, session: Session, source_id: str, seq: int) -> None:
        raw = history.snapshot_of_version(session, source_id, seq)
        snapshot_path = f"/sources/{source_id}/versions/{seq}/snapshot"
        target = _inside(self.inside, snapshot_path.lstrip("/") + download_suffix(raw["content_type"]))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw["body"])
        self.summary.snapshots += 1


def _inside(out: Path, relative: str) -> Path:
    """`out / relative`, refused (UsageError) unless it stays inside `out` (ids with ../ or / in them)."""
    target = (out / relative).resolve()
    if not target.is_relative_to(out) or target == out:
        raise UsageError(f"refused to write {relative!r}: it leads outside {out} (a tampered source id?)")
    return target


def _with_csp(html: str) -> str:
    head = "<head>"
    if head not in html:
        raise ValueError("a page template has no <head>")
    return html.replace(head, head + "\n" + CSP_META, 1)
