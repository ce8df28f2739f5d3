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

from monitor.errors import UsageError
from monitor.store import history, session_scope
from monitor.web import overview, queries
from monitor.web.app import PAGES, SECURITY_HEADERS
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
    renderer = Renderer(static=True)
    summary = ExportSummary()
    out.mkdir(parents=True, exist_ok=True)
    (out / "static").mkdir(exist_ok=True)
    shutil.copy2(STATIC / "site.css", out / "static" / "site.css")
    inside = out.resolve()

    def write(path: str, content: str | bytes) -> None:
        target = _inside(inside, static_file(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    def page(name: str, path: str, data: dict[str, Any]) -> None:
        api_path = "/api" + (path if path != "/" else "")
        write(path, _with_csp(renderer.render(PAGES[name].template, data, path, api_path=api_path)))
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
        page("matrix", "/matrix", overview.matrix_page(session))
        page("trends", "/trends", overview.trends_page(session))
        page("search", "/search", overview.search_page(session))
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
                    target = _inside(inside, snapshot_path.lstrip("/") + download_suffix(raw["content_type"]))
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
