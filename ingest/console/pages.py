"""The console's pages: search, article, sources and overview, rendered on the server (Jinja2, autoescaped).

Every page works without JavaScript (forms, links, <details>); console.js only adds shortcuts. Pages ask
the index through the same SearchQuery and backend calls as the CLI and the API, on the API's reader
thread(s). Errors become a page that says what to do, never a stack trace or an internal address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from importlib import resources
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined

from ingest.console.charts import daily_chart, ranking_chart
from ingest.console.views import (
    COPIES_ON_ARTICLE,
    COPIES_SHOWN,
    PAGE_SIZE,
    SOURCE_CHART_DAYS,
    STATUS_ORDER,
    STATUS_WORDS,
    HitView,
    SearchForm,
    paragraphs,
    reuse_flags,
    safe_link,
    source_rows,
)
from ingest.errors import SourcesFileError
from ingest.feed_records import load_records
from ingest.logs import get_logger
from ingest.settings import Settings
from ingest.sources import load_sources
from workers.errors import IndexMissing, IndexOutdated, IndexUnavailable, InvalidQuery, TransientError
from workers.index.query import build_query
from workers.ports import IndexBackend, SearchHit, SearchQuery

log = get_logger(__name__)
T = TypeVar("T")

# Scripts and styles only from our own /static/ (no inline script, no inline style), forms only to us.
HTML_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript", "favicon.svg": "image/svg+xml"}
SOURCES_PAGE_SIZE = 100  # rows of the sources page: thousands of sources stay a light page, worst first
OVERVIEW_DAYS = (30, 7, 90, 365)  # the periods the overview offers, the default first
TOP = 10
INDEX_ERRORS = (IndexMissing, IndexOutdated, IndexUnavailable)
_CHECK_LABELS = {
    "queue": "Queue",
    "ledger": "Accepted, not yet indexed",
    "dead_letters": "Dead letters",
    "last_index_write": "Last index write",
    "daemon": "Daemon",
}


class IndexCaller(Protocol):
    async def call(self, action: Callable[[IndexBackend], T]) -> T: ...


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("ingest.console", "templates"),
        autoescape=True,  # every template is HTML: whatever an article brings is text, never markup
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = lambda value: f"{int(value):,}"
    env.globals["safe_link"] = safe_link
    return env


class Console:
    def __init__(self, settings: Settings, index: IndexCaller, *, signed_in: Callable[[web.Request], bool]) -> None:
        self._settings = settings
        self._index = index
        self._signed_in = signed_in
        self._env = _environment()
        package = resources.files("ingest.console") / "static"
        self._static = {name: (package / name).read_bytes() for name in STATIC_FILES}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._page(self.search))
        app.router.add_get("/articles/{id}", self._page(self.article))
        app.router.add_get("/sources", self._page(self.sources))
        app.router.add_get("/overview", self._page(self.overview))
        app.router.add_get("/static/{name}", self.static)

    def render(self, request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
        html = self._env.get_template(template).render(
            mode=self._settings.mode, signed_in=self._signed_in(request), **context
        )
        return web.Response(text=html, status=status, content_type="text/html",
                            headers={"Content-Security-Policy": HTML_CSP})

    def message(self, request: web.Request, status: int, heading: str, message: str) -> web.Response:
        return self.render(request, "message.html", status=status, page="", heading=heading, message=message)

    def _page(self, handler: Callable[[web.Request], Awaitable[web.Response]]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def run(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except INDEX_ERRORS as exc:
                log.warning("console_index_unavailable", path=request.path, error_type=type(exc).__name__, error=str(exc))
                return self.message(request, 503, "The index is not available", public_reason(exc))

        return run

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._static:
            raise web.HTTPNotFound()
        return web.Response(body=self._static[name], content_type=STATIC_FILES[name],
                            headers={"Cache-Control": "public, max-age=300"})

    # -- search ------------------------------------------------------------------------------------

    async def search(self, request: web.Request) -> web.Response:
        api = self._settings.api
        form = SearchForm()
        context: dict[str, Any] = {"hits": [], "more": False, "error": None}
        try:
            form = SearchForm.from_params(request.query)
            if any(not value.strip() for value in request.query.values()):
                # A plain form sends its empty fields too: answer with the short, shareable address.
                return web.Response(status=303, headers={"Location": form.url(page=form.page)})
            query = form.query(max_chars=api.max_query_chars, max_window=api.max_result_window)
            hits = await self._index.call(lambda backend: _with_copies(backend, query))
            context.update(hits=hits, more=len(hits) == PAGE_SIZE and query.offset + 2 * PAGE_SIZE <= api.max_result_window)
        except InvalidQuery as exc:
            context["error"] = str(exc)
        return self.render(
            request, "search.html", status=400 if context["error"] else 200, page="search", form=form,
            page_size=PAGE_SIZE, max_chars=api.max_query_chars, source_names=self._source_names(), **context,
        )

    def _source_names(self) -> list[str]:
        try:
            return [s.name for s in load_sources(self._settings.sources).sources]
        except SourcesFileError:
            return []  # the sources page says what is wrong; search works without the list

    # -- article -----------------------------------------------------------------------------------

    async def article(self, request: web.Request) -> web.Response:
        doc_id = request.match_info["id"]

        def read(backend: IndexBackend) -> tuple[Any, list[SearchHit]]:
            found = backend.get(doc_id)
            if found is None:
                return None, []
            story = SearchQuery(story=found.cluster_id, collapse=False, sort="newest", limit=COPIES_ON_ARTICLE + 1)
            return found, backend.search(story)

        found, copies = await self._index.call(read)
        if found is None:
            return self.message(request, 404, "No such article", f"There is no article with the id {doc_id!r} in the index.")
        return self.render(
            request, "article.html", page="article", article=found, original=safe_link(found.url),
            paragraphs=paragraphs(found.text), copies=copies[:COPIES_ON_ARTICLE],
            copies_cut=len(copies) > COPIES_ON_ARTICLE, reuse_flags=reuse_flags(found),
            reservations=reuse_flags(found, reserving_only=True),
        )

    # -- sources -----------------------------------------------------------------------------------

    async def sources(self, request: web.Request) -> web.Response:
        path = self._settings.sources
        page_text = request.query.get("page", "1")
        if not page_text.isdigit() or int(page_text) < 1:
            return self.message(request, 400, "No such page", f"page must be a whole number from 1, not {page_text!r}.")
        page = int(page_text)
        try:
            configured = load_sources(path).sources
        except SourcesFileError as exc:
            return self.message(request, 500, "The sources file has problems", str(exc))
        names = [s.name for s in configured]
        records = await load_records(self._settings, names)
        health = await asyncio.to_thread(self._health, names)
        now = datetime.now(UTC)
        since = datetime.combine(now.date() - timedelta(days=SOURCE_CHART_DAYS - 1), time(), UTC)  # whole days
        daily = await self._index.call(lambda backend: _daily_or_nothing(backend, since))
        rows = source_rows(configured, records, health, daily or {}, now=now.timestamp(), today=now.date())
        counts = [(status, n) for status in STATUS_ORDER if (n := sum(row.status == status for row in rows))]
        first = (page - 1) * SOURCES_PAGE_SIZE
        return self.render(
            request, "sources.html", page="sources", rows=rows[first : first + SOURCES_PAGE_SIZE], counts=counts,
            words=STATUS_WORDS, chart_days=SOURCE_CHART_DAYS, sources_file=path.name, page_no=page,
            more=len(rows) > first + SOURCES_PAGE_SIZE, first=first, total=len(rows),
            error=None if daily is not None else "no index yet: the charts fill once articles are ingested",
        )

    def _health(self, names: list[str]) -> dict[str, Any]:
        from workers.health_report import source_health  # the drift rules pull in the pipeline: only here

        try:
            return source_health(self._settings, names)
        except TransientError as exc:
            log.warning("console_health_unavailable", error=str(exc))
            return {}

    # -- overview ----------------------------------------------------------------------------------

    async def overview(self, request: web.Request) -> web.Response:
        days_text = request.query.get("days", str(OVERVIEW_DAYS[0]))
        if days_text not in {str(days) for days in OVERVIEW_DAYS}:
            choices = ", ".join(str(days) for days in sorted(OVERVIEW_DAYS))
            return self.message(request, 400, "No such period", f"days must be one of {choices}, not {days_text!r}.")
        days = int(days_text)
        now = datetime.now(UTC)
        # Whole days, so the chart's first bar is a full day like the others.
        period_start = datetime.combine(now.date() - timedelta(days=days - 1), time(), UTC).isoformat()
        month_q, week_q, day_q = (build_query(since=since, now=now) for since in (period_start, "7d", "24h"))

        def read(backend: IndexBackend) -> tuple[Any, ...]:
            return (backend.stats(month_q, top=TOP), backend.stats(week_q, top=TOP), backend.stats(day_q, top=TOP),
                    backend.count())

        month, week, day, total = await self._index.call(read)
        pipeline = await asyncio.to_thread(self._pipeline)
        periods = [
            {"key": key, "label": label, "entities": ranking_chart(stats.top_entities, what="mentions"),
             "keywords": ranking_chart(stats.top_keywords, what="articles")}
            for key, label, stats in (("day", "last 24 hours", day), ("week", "last 7 days", week))
        ]
        return self.render(
            request, "overview.html", page="overview", days=days, choices=sorted(OVERVIEW_DAYS), month=month,
            total=total, per_day=daily_chart(month.per_day, now.date(), days, width=720, height=160),
            per_source=ranking_chart(month.per_source), per_language=ranking_chart(month.per_language),
            periods=periods, pipeline=pipeline,
            source_link=lambda name: f"/?source={quote(name)}&sort=newest",
            language_link=lambda lang: f"/?lang={quote(lang)}&sort=newest",
            entity_link=lambda entity: f"/?entity={quote(entity)}&since=7d",
            keyword_link=lambda keyword: f"/?q={quote(keyword)}&since=7d",
        )

    def _pipeline(self) -> list[dict[str, Any]]:
        from ingest.cli_status import pipeline_checks

        rows = []
        for check in pipeline_checks(self._settings):
            detail = check.detail
            if not check.ok and check.name == "daemon":
                detail = "not running"  # a console may well run without it; the reason names a file
            elif not check.ok and check.value is None:
                # The reason names files, hosts or ports: the log keeps it, the page says what it means.
                log.warning("console_check_failed", check=check.name, detail=detail)
                detail = "could not be checked: the server log says why"
            for folder in {str(self._settings.data_dir.resolve()), str(self._settings.data_dir)}:
                detail = detail.replace(folder, "the data directory")
            rows.append({"label": _CHECK_LABELS.get(check.name, check.name), "ok": check.ok, "detail": detail})
        return rows


def _with_copies(backend: IndexBackend, query: SearchQuery) -> list[HitView]:
    """The page of hits, each with its story's matching copies (one more query per story that has any)."""
    views = []
    for hit in backend.search(query):
        copies: tuple[SearchHit, ...] = ()
        if hit.copies > 1:
            story = replace(query, story=hit.article.cluster_id, collapse=False, sort="newest", offset=0,
                            limit=COPIES_SHOWN)
            copies = tuple(backend.search(story))
        views.append(HitView(hit, copies))
    return views


def _daily_or_nothing(backend: IndexBackend, since: datetime) -> dict[str, tuple[tuple[str, int], ...]] | None:
    try:
        return backend.daily_per_source(since)
    except IndexMissing:
        return None


def public_reason(exc: Exception) -> str:
    """What a client may know of an index error (the log keeps the address and the full reason)."""
    if isinstance(exc, IndexMissing):
        return "there is no index yet: ingest something first (`newsingest run --once`)"
    if isinstance(exc, IndexOutdated):
        return "the index is on an older mapping: run `newsingest index migrate`"
    return "the index is unavailable right now: try again later"
