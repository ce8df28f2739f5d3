"""Web app: an engine in, a read-only Starlette app out (HTML pages, their JSON mirrors under /api, Atom feeds,
raw snapshot downloads). Every page renders from the plain dict its query function returns."""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.errors import UsageError
from monitor.store import history, session_scope
from monitor.store.health import PROMETHEUS_CONTENT_TYPE, UNHEALTHY, check_health, collect_metrics, prometheus_text
from monitor.web import diffs, overview, queries
from monitor.web.cache import DEFAULT_STAMP_TTL, ResponseCache
from monitor.web.feeds import render_feed
from monitor.web.queries import NotFound
from monitor.web.render import STATIC, Renderer, snapshot_suffix
from monitor.web.uses import USE_PAGE_SPECS

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# Version numbers are 32-bit integer columns: a larger number in a path is no version (and the drivers
# would raise on it rather than find nothing).
MAX_SEQ = 2**31 - 1

# Threads rendering pages at once. They share one interpreter lock, so more only add contention (a queue of 50
# requests behind 40 threads starved the event loop for seconds) and memory (an allocator arena per thread).
WORKER_THREADS = 8


def _seq_out_of_range(params: dict[str, Any]) -> str | None:
    seq = params.get("seq")
    if isinstance(seq, int) and not 0 <= seq <= MAX_SEQ:
        return f"no version {seq} of source {params.get('source_id')!r}"
    return None


def _diff_span(span: str) -> tuple[str, str]:
    before, sep, after = span.partition("..")
    if not sep or not before or not after:
        raise NotFound(f"{span!r} is not a version range (write FROM..TO, e.g. 2..5 or 2026-01-01..2026-03-01)")
    return before, after


@dataclass(frozen=True)
class Page:
    """One kind of page: its route, template, and how its data is built from path and query parameters."""

    path: str
    template: str
    build: Callable[[Session, dict[str, Any], dict[str, str]], dict[str, Any]]
    # False for pages that read more than the database (the "Can we…?" pages read the uses file)
    cached: bool = True


PAGES: dict[str, Page] = {
    "home": Page("/", "home.html", lambda s, p, q: queries.home_page(s)),
    "source": Page("/sources/{source_id}", "source.html", lambda s, p, q: queries.source_page(s, p["source_id"])),
    "version": Page("/sources/{source_id}/versions/{seq:int}", "version.html",
                    lambda s, p, q: queries.version_page(s, p["source_id"], p["seq"])),
    "as_of": Page("/sources/{source_id}/as-of/{date}", "version.html",
                  lambda s, p, q: queries.as_of_page(s, p["source_id"], p["date"])),
    "clause": Page("/sources/{source_id}/clauses/{key}", "clause.html",
                   lambda s, p, q: queries.clause_page(s, p["source_id"], p["key"])),
    "diff": Page("/sources/{source_id}/diff/{span}", "diff.html",
                 lambda s, p, q: queries.diff_page(s, p["source_id"], *_diff_span(p["span"]))),
    "search": Page("/search", "search.html",
                   lambda s, p, q: overview.search_page(s, q.get("q", ""), q.get("provider", ""),
                                                       q.get("category", ""), q.get("direction", ""),
                                                       bool(q.get("history")))),
    "matrix": Page("/matrix", "matrix.html", lambda s, p, q: overview.matrix_page(s, q.get("at") or None)),
    "trends": Page("/trends", "trends.html",
                   lambda s, p, q: overview.trends_page(s, q.get("by") if q.get("by") in ("category", "provider")
                                                       else None)),
}


# "Can we…?": the answers of every document to a planned use (monitor/web/uses.py)
PAGES.update({name: Page(*spec, cached=False) for name, spec in USE_PAGE_SPECS.items()})


def build_page(engine: Engine, name: str, params: dict[str, Any], query: dict[str, str] | None = None
               ) -> dict[str, Any]:
    """The data of one page (what its template renders and its /api mirror returns)."""
    with session_scope(engine) as session:
        return PAGES[name].build(session, params, query or {})


def create_app(engine: Engine, *, base_path: str = "/", stamp_ttl: float = DEFAULT_STAMP_TTL) -> Starlette:
    """The read-only site over `engine`; new data shows within `stamp_ttl` seconds (pages are kept until then)."""
    site = _Site(engine, Renderer(base_path=base_path), ResponseCache(lambda: _data_stamp(engine), stamp_ttl=stamp_ttl))
    return Starlette(routes=site.routes(), lifespan=_lifespan(engine, site.renderer))


class _Site:
    """The site's request handlers over one engine, renderer and response cache."""

    def __init__(self, engine: Engine, renderer: Renderer, cache: ResponseCache) -> None:
        self.engine = engine
        self.renderer = renderer
        self.cache = cache

    def routes(self) -> list[Any]:
        routes: list[Any] = [
            *health_routes(self.engine),
            Route("/sources/{source_id}/versions/{seq:int}/snapshot", self.snapshot),
            Route("/sources/{source_id}/as-of", self.as_of_form),
            Route("/sources/{source_id}/diff", self.diff_form),
            Route("/feeds/{name}", self.feed),
            Route("/favicon.ico", self.favicon),
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
            Route("/api", self.endpoint(PAGES["home"], True)),
        ]
        for page in PAGES.values():
            routes.append(Route(page.path, self.endpoint(page, False)))
            routes.append(Route("/api" + page.path if page.path != "/" else "/api/", self.endpoint(page, True)))
        return routes

    def error_response(self, request: Request, status: int, message: str, as_json: bool) -> Response:
        if as_json:
            return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)
        title = "Not found" if status == 404 else "Bad request"
        html = self.renderer.render("error.html", {"title": title, "error": message}, request.url.path)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def page_response(self, request: Request, page: Page, as_json: bool) -> tuple[Response, bool]:
        out_of_range = _seq_out_of_range(request.path_params)
        if out_of_range:
            return self.error_response(request, 404, out_of_range, as_json), False
        try:
            with session_scope(self.engine) as session:
                data = page.build(session, dict(request.path_params), dict(request.query_params))
        except NotFound as error:
            return self.error_response(request, 404, str(error), as_json), False
        except UsageError as error:
            return self.error_response(request, 400, str(error), as_json), False
        # a paragraph-level diff stands in while the word diff is computed: the next visitor gets the word diff
        keep = page.cached and data.get("word_level") is not False
        if as_json:
            return JSONResponse(data, headers=SECURITY_HEADERS), keep
        path = request.url.path
        api_path = "/api" + (path if path != "/" else "")
        if request.url.query:
            api_path += "?" + request.url.query
        return HTMLResponse(self.renderer.render(page.template, data, path, api_path=api_path),
                            headers=SECURITY_HEADERS), keep

    def endpoint(self, page: Page, as_json: bool) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            return await self.respond(request, lambda: self.page_response(request, page, as_json))
        return handle

    async def respond(self, request: Request, build: Callable[[], tuple[Response, bool]]) -> Response:
        """The stored response for this URL, else `build`'s (in a worker thread), kept when it says so."""
        key = str(request.url)  # the host too: feeds write absolute links
        stamp = await self.cache.stamp()
        entry = self.cache.get(key, stamp)
        if entry is None:
            response, keep = await anyio.to_thread.run_sync(build)
            if not keep or response.status_code != 200:
                return response
            headers = {k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")}
            entry = self.cache.put(key, stamp, bytes(response.body), response.media_type or "", headers)
        headers = {**entry.headers, "etag": entry.etag, "cache-control": "no-cache"}
        if request.headers.get("if-none-match") == entry.etag:
            return Response(status_code=304, headers=headers)
        return Response(entry.body, media_type=entry.media_type, headers=headers)

    def snapshot_response(self, request: Request) -> tuple[Response, bool]:
        source_id, seq = request.path_params["source_id"], request.path_params["seq"]
        out_of_range = _seq_out_of_range(request.path_params)
        if out_of_range:
            return self.error_response(request, 404, out_of_range, False), False
        try:
            with session_scope(self.engine) as session:
                raw = history.snapshot_of_version(session, source_id, seq)
        except NotFound as error:
            return self.error_response(request, 404, str(error), False), False
        filename = f"{source_id}-v{seq}-{raw['sha256'][:12]}{snapshot_suffix(raw['content_type'])}"
        return Response(raw["body"], media_type=raw["content_type"] or "application/octet-stream", headers={
            **SECURITY_HEADERS, "Content-Disposition": f"attachment; filename=\"{filename}\"",
            "ETag": f"\"{raw['sha256']}\"", "X-Content-SHA256": raw["sha256"]}), True

    async def snapshot(self, request: Request) -> Response:
        return await self.respond(request, lambda: self.snapshot_response(request))

    def feed_response(self, request: Request) -> tuple[Response, bool]:
        name = request.path_params["name"]
        if not name.endswith(".atom"):
            return self.error_response(request, 404, f"no feed {name!r} (feeds end in .atom)", False), False
        source_id = name[: -len(".atom")]
        try:
            with session_scope(self.engine) as session:
                data = queries.feed_page(session, None if source_id == "all" else source_id)
        except NotFound as error:
            return self.error_response(request, 404, str(error), False), False
        base = str(request.base_url).rstrip("/")
        body = render_feed(data, request.url.path,
                           lambda path: base + self.renderer.link_for("/")(path))
        return Response(body, media_type="application/atom+xml; charset=utf-8", headers=SECURITY_HEADERS), True

    async def feed(self, request: Request) -> Response:
        return await self.respond(request, lambda: self.feed_response(request))

    def as_of_form(self, request: Request) -> Response:
        date = request.query_params.get("date", "").strip()
        if not date:
            return self.error_response(request, 400, "choose a date (YYYY-MM-DD)", False)
        target = f"/sources/{quote(request.path_params['source_id'])}/as-of/{quote(date)}"
        return RedirectResponse(self.renderer.link_for(target)(target), status_code=303)

    def diff_form(self, request: Request) -> Response:
        before, after = request.query_params.get("from", ""), request.query_params.get("to", "")
        if not before or not after:
            return self.error_response(request, 400, "choose two versions to compare", False)
        target = f"/sources/{quote(request.path_params['source_id'])}/diff/{quote(before)}..{quote(after)}"
        return RedirectResponse(self.renderer.link_for(target)(target), status_code=303)

    def favicon(self, request: Request) -> Response:
        return Response(status_code=204)


def _data_stamp(engine: Engine) -> Any:
    with session_scope(engine) as session:
        return history.data_stamp(session)


def health_routes(engine: Engine) -> list[Route]:
    """/healthz (JSON; 200 when ok or degraded, 503 when unhealthy) and /metrics (Prometheus text format)."""
    def healthz(request: Request) -> Response:
        report = check_health(engine)
        return JSONResponse(report.as_dict(), status_code=503 if report.status == UNHEALTHY else 200,
                            headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})

    def metrics(request: Request) -> Response:
        return Response(prometheus_text(collect_metrics(engine)), media_type=PROMETHEUS_CONTENT_TYPE,
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})

    return [Route("/healthz", healthz), Route("/metrics", metrics)]


def warm_up(engine: Engine, renderer: Renderer) -> None:
    """Compile every template, fill the whole-history caches, and start the linked diffs in the background,
    so that the first visitor of each page gets it as fast as the next."""
    for template in renderer.env.list_templates():
        renderer.env.get_template(template)
    with session_scope(engine) as session:
        queries.home_page(session)
        overview.matrix_page(session)
        overview.trends_page(session)
        overview.search_page(session)
        pairs = queries.consecutive_diffs(session)
    diffs.start()
    diffs.prewarm(pairs)
    del pairs
    _release_free_memory()


def _release_free_memory() -> None:
    """Give the allocator's free pages back to the system (glibc; elsewhere nothing): the warm-up read every
    version's text once, and the memory it freed would otherwise stay counted against the server."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _lifespan(engine: Engine, renderer: Renderer):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        await anyio.to_thread.run_sync(warm_up, engine, renderer)
        try:
            yield
        finally:
            diffs.shutdown()
    return lifespan
