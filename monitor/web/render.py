"""Rendering: a template name and a page's data dict in, HTML (or Atom) out; shared by the server and the
static export, which differ only in how a site path becomes a link."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from monitor.web.words import CATEGORY_LABELS, DIRECTION_SYMBOLS, reason_in_words
from monitor.web.svg import trend_chart

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

_FILE_SUFFIXES = (".css", ".atom", ".json", ".md", ".html", ".txt", ".pdf", ".bin")
SNAPSHOT_SUFFIXES = {"text/markdown": ".md", "text/html": ".html", "text/plain": ".txt", "application/pdf": ".pdf"}


def snapshot_suffix(content_type: str | None) -> str:
    return SNAPSHOT_SUFFIXES.get((content_type or "").split(";")[0].strip().lower(), ".bin")


def download_suffix(content_type: str | None) -> str:
    """The suffix of a raw snapshot in the static export: never one a web host serves as a page."""
    suffix = snapshot_suffix(content_type)
    return suffix + ".txt" if suffix == ".html" else suffix


def static_file(path: str) -> str:
    """The file a site path is written to in the static export (`/sources/x` → `sources/x/index.html`)."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    if path.endswith(_FILE_SUFFIXES):
        return path.lstrip("/")
    if path.startswith("/api"):
        stripped = path.strip("/")
        return "api/index.json" if stripped == "api" else stripped + ".json"
    stripped = path.strip("/")
    return f"{stripped}/index.html" if stripped else "index.html"


class Renderer:
    """Renders pages; `static=True` makes every link relative to the page (works from any folder or file://)."""

    def __init__(self, *, static: bool = False, base_path: str = "/") -> None:
        self.static = static
        self.base_path = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
        self.env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(CATEGORY_LABELS=CATEGORY_LABELS, DIRECTION_SYMBOLS=DIRECTION_SYMBOLS,
                                trend_chart=self._chart, static_site=static,
                                snapshot_suffix=download_suffix if static else snapshot_suffix)
        self.env.filters["day"] = lambda iso: (iso or "")[:10]
        self.env.filters["in_words"] = reason_in_words

    @staticmethod
    def _chart(rows: list[dict[str, Any]], title: str, chart_id: str) -> Any:
        return Markup(trend_chart(rows, title, chart_id))  # noqa: S704 (svg.py escapes every text it writes)

    def link_for(self, page_path: str) -> Any:
        def link(path: str, suffix: str = "") -> str:
            if not self.static:
                return self.base_path + path.lstrip("/")
            if "?" in path:  # a filtered view needs the server; the static site links the unfiltered page
                path = path.split("?", 1)[0]
            target = static_file(path) if not suffix else path.lstrip("/") + suffix
            here = posixpath.dirname(static_file(page_path))
            return posixpath.relpath(target, here or ".")
        return link

    def render(self, template: str, data: dict[str, Any], page_path: str, **extra: Any) -> str:
        return self.env.get_template(template).render(data=data, link=self.link_for(page_path),
                                                      page_path=page_path, **extra)
