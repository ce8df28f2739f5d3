"""Static export: an engine and a folder in, the site's pages as static HTML (plus Atom feeds, JSON mirrors
and raw snapshots) out, rendered by the same templates from the same page data as the server."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from monitor.store import history, session_scope
from monitor.web import queries
from monitor.web.app import PAGES
from monitor.web.render import STATIC, Renderer, snapshot_suffix, static_file


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
    renderer = Renderer(static=True)
    summary = ExportSummary()
    out.mkdir(parents=True, exist_ok=True)
    (out / "static").mkdir(exist_ok=True)
    shutil.copy2(STATIC / "site.css", out / "static" / "site.css")

    def write(path: str, content: str | bytes) -> None:
        target = out / static_file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    def page(name: str, path: str, data: dict[str, Any]) -> None:
        api_path = "/api" + (path if path != "/" else "")
        write(path, renderer.render(PAGES[name].template, data, path, api_path=api_path))
        summary.pages += 1
        if with_json:
            write(api_path, json.dumps(data, ensure_ascii=False, indent=1))
            summary.json += 1

    def absolute(page_path: str) -> Any:
        if site_url:
            return lambda path: site_url.rstrip("/") + path
        return renderer.link_for(page_path)

    with session_scope(engine) as session:
        page("home", "/", queries.home_page(session))
        page("matrix", "/matrix", queries.matrix_page(session))
        page("trends", "/trends", queries.trends_page(session))
        page("search", "/search", queries.search_page(session))
        feed_path = "/feeds/all.atom"
        write(feed_path, renderer.render("feed.atom", queries.feed_page(session), feed_path,
                                         absolute=absolute(feed_path)))
        summary.feeds += 1
        keys_by_source: dict[str, set[str]] = {}
        for clause in history.watched_clauses_everywhere(session):
            keys_by_source.setdefault(clause["source"], set()).add(clause["key"])
        for event in history.events(session):
            keys_by_source.setdefault(event["source"], set()).add(event["key"])
        for source in history.list_sources(session):
            source_id = source["id"]
            page("source", f"/sources/{source_id}", queries.source_page(session, source_id))
            feed_path = f"/feeds/{source_id}.atom"
            write(feed_path, renderer.render("feed.atom", queries.feed_page(session, source_id), feed_path,
                                             absolute=absolute(feed_path)))
            summary.feeds += 1
            versions = history.versions_of(session, source_id)
            for version in versions:
                seq = version["seq"]
                page("version", f"/sources/{source_id}/versions/{seq}", queries.version_page(session, source_id, seq))
                if version["snapshot"]:
                    raw = history.snapshot_of_version(session, source_id, seq)
                    snapshot_path = f"/sources/{source_id}/versions/{seq}/snapshot"
                    target = out / (snapshot_path.lstrip("/") + snapshot_suffix(raw["content_type"]))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(raw["body"])
                    summary.snapshots += 1
            for older, newer in zip(versions, versions[1:]):
                span = f"{older['seq']}..{newer['seq']}"
                page("diff", f"/sources/{source_id}/diff/{span}",
                     queries.diff_page(session, source_id, str(older["seq"]), str(newer["seq"]), budget=None))
            for key in sorted(keys_by_source.get(source_id, ())):
                page("clause", f"/sources/{source_id}/clauses/{key}", queries.clause_page(session, source_id, key))
    return summary
