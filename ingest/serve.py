"""`newsingest serve`: a read-only HTTP API and the web console over the index of the configured mode (aiohttp).

Search with the CLI's filters, one article by id, stats, health (/healthz, /readyz) and an OpenAPI
description, under /api/v1/ (DESIGN decision 11); the console's pages at / (ingest/console). It never
writes to the index (the console's sign-in form is the only POST).
Index calls are blocking, so they run on a worker thread (one, for SQLite's single connection).
Behind ingest/http_guard.py (tokens, bind rule, rate limit, CORS, headers); an index error reaches the
client without the index's address (the log keeps the full reason).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, TypeVar

from aiohttp import web

from ingest.cli_search import EXIT_OK, EXIT_USAGE, open_index
from ingest.console.pages import STATIC_FILES, Console, public_reason
from ingest.console.signin import LOGIN_PATH, add_signin_routes
from ingest.http_guard import GUARD, SERVER_ARGS, UnsafeBind, check_bind, error_response, guarded_app
from ingest.logs import get_logger
from ingest.openapi import SPEC
from ingest.search_output import hit_document, shown, stats_document
from ingest.settings import Settings
from workers.errors import IndexMissing, IndexOutdated, IndexUnavailable, InvalidQuery
from workers.index.query import build_query
from workers.ports import IndexBackend

log = get_logger(__name__)
T = TypeVar("T")

_FILTER_PARAMS = {"source": "source", "domain": "domain", "lang": "language", "tag": "tag", "entity": "entity", "story": "story"}
_SEARCH_PARAMS = frozenset({"q", "since", "until", "sort", "all_copies", "limit", "offset", *_FILTER_PARAMS})
_STATS_PARAMS = frozenset({"q", "since", "until", "top", *_FILTER_PARAMS})
MAX_TOP = 100


def register(commands: Any, _sources_commands: Any) -> None:
    serve = commands.add_parser("serve", help="web console and read-only HTTP API: search, articles, sources, stats")
    serve.add_argument("--host", help="address to listen on (default: NEWSINGEST_INDEX__SERVE_HOST)")
    serve.add_argument("--port", type=int, help="port (default: NEWSINGEST_INDEX__SERVE_PORT)")
    serve.add_argument(
        "--public", action="store_true",
        help="serve without access tokens on a non-loopback address, on purpose (NEWSINGEST_API__PUBLIC)",
    )
    serve.set_defaults(command=_serve)


class IndexReader:
    """The index, opened on first use (it may not exist when the server starts), on one thread."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # SQLite: one connection, whose calls must not overlap; Elasticsearch's client is thread-safe.
        workers = 4 if settings.elasticsearch_url else 1
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="index-reader")
        self._stack = ExitStack()
        self._backend: IndexBackend | None = None

    def _open(self) -> IndexBackend:
        if self._backend is None:
            self._backend = self._stack.enter_context(open_index(self._settings))
        return self._backend

    async def call(self, action: Callable[[IndexBackend], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: action(self._open()))

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._stack.close)
        self._executor.shutdown(wait=True)


def make_app(settings: Settings) -> web.Application:
    index = IndexReader(settings)
    api = settings.api
    static = frozenset(f"/static/{name}" for name in STATIC_FILES)
    app = guarded_app(api, middlewares=[_errors_as_json], open_paths=static | {LOGIN_PATH}, login_path=LOGIN_PATH,
                      unlimited_paths=static)
    guard = app[GUARD]
    console = Console(settings, index, signed_in=guard.signed_in)
    console.add_routes(app)
    if guard.needs_token:
        add_signin_routes(app, console)

    async def close_index(_app: web.Application) -> None:
        await index.close()

    app.on_cleanup.append(close_index)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        documents = await index.call(lambda backend: backend.count())
        return web.json_response({"status": "ready", "documents": documents})

    async def search(request: web.Request) -> web.Response:
        params = _params(request, _SEARCH_PARAMS)
        limit = _integer(params.get("limit", "10"), "limit")
        offset = _integer(params.get("offset", "0"), "offset")
        _check_page(settings, limit, offset)
        query = build_query(
            _text(settings, params),
            since=params.get("since"),
            until=params.get("until"),
            sort=params.get("sort", "relevance"),
            all_copies=_boolean(params.get("all_copies", "false"), "all_copies"),
            limit=limit,
            offset=offset,
            filters={field: params.get(name) for name, field in _FILTER_PARAMS.items()},
        )
        hits = await index.call(lambda backend: backend.search(query))
        return web.json_response({"hits": [hit_document(hit) for hit in hits]})

    async def article(request: web.Request) -> web.Response:
        doc_id = request.match_info["id"]
        found = await index.call(lambda backend: backend.get(doc_id))
        if found is None:
            return web.json_response({"error": f"no article with id {doc_id!r}"}, status=404)
        return web.json_response(shown(found).to_source())

    async def stats(request: web.Request) -> web.Response:
        params = _params(request, _STATS_PARAMS)
        top = _integer(params.get("top", "10"), "top")
        if not 1 <= top <= MAX_TOP:
            raise InvalidQuery(f"top must be between 1 and {MAX_TOP}, not {top}")
        query = build_query(
            _text(settings, params),
            since=params.get("since"),
            until=params.get("until"),
            filters={field: params.get(name) for name, field in _FILTER_PARAMS.items()},
        )
        result = await index.call(lambda backend: backend.stats(query, top=top))
        return web.json_response(stats_document(result))

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(SPEC)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/v1/search", search)
    app.router.add_get("/api/v1/articles/{id}", article)
    app.router.add_get("/api/v1/stats", stats)
    app.router.add_get("/api/v1/openapi.json", openapi)
    return app


@web.middleware
async def _errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """What went wrong, as one line of JSON with the right status; never a stack trace."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except InvalidQuery as exc:
        return error_response(400, str(exc))
    except (IndexMissing, IndexOutdated, IndexUnavailable) as exc:
        # The full reason names the Elasticsearch URL or the SQLite path: the log keeps it, the client
        # gets what it can act on.
        log.warning("api_index_unavailable", path=request.path, error_type=type(exc).__name__, error=str(exc))
        return error_response(503, public_reason(exc))


def _text(settings: Settings, params: dict[str, str]) -> str:
    text = params.get("q", "")
    if len(text) > settings.api.max_query_chars:
        raise InvalidQuery(f"q is {len(text)} characters long; the most is {settings.api.max_query_chars}")
    return text


def _check_page(settings: Settings, limit: int, offset: int) -> None:
    api = settings.api
    if not 1 <= limit <= api.max_page_size:
        raise InvalidQuery(f"limit must be between 1 and {api.max_page_size}, not {limit}")
    if offset < 0:
        raise InvalidQuery(f"offset must be 0 or more, not {offset}")
    if offset + limit > api.max_result_window:
        raise InvalidQuery(
            f"offset + limit must be at most {api.max_result_window} (got {offset + limit}): narrow the query instead"
        )


def _params(request: web.Request, allowed: frozenset[str]) -> dict[str, str]:
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise InvalidQuery(f"unknown parameter {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return {key: request.query[key] for key in request.query}


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidQuery(f"{name} must be a whole number, not {value!r}") from None


def _boolean(value: str, name: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no", ""):
        return False
    raise InvalidQuery(f"{name} must be true or false, not {value!r}")


def console_address(host: str, port: int) -> str:
    """The address a person opens: every-address binds are reached through loopback on this machine."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.index.serve_host
    port = args.port or settings.index.serve_port
    try:
        check_bind(host, settings.api, public=args.public, surface="`newsingest serve`")
        app = make_app(settings)
    except UnsafeBind as exc:
        print(f"newsingest serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    log.info("serve_starting", host=host, port=port, mode=settings.mode, api="/api/v1/", openapi="/api/v1/openapi.json")
    print(f"newsingest serve: the console is at {console_address(host, port)} (the API under /api/v1/)", flush=True)
    web.run_app(app, host=host, port=port, print=None, handle_signals=True, **SERVER_ARGS)
    return EXIT_OK
