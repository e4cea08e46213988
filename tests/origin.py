"""A real aiohttp server on 127.0.0.1 that serves seeds/ and misbehaves on purpose.

Runs on its own event loop in a thread, so subprocesses (the real CLI) can reach it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
FIXTURES = ROOT / "tests" / "fixtures"

SLOW_PAGE_DELAY_S = 30.0
HITS = web.AppKey("hits", dict[str, int])


def _app() -> web.Application:
    app = web.Application()

    async def server_error(_request: web.Request) -> web.Response:
        return web.Response(status=500, text="internal error: feed generator crashed")

    async def not_xml(_request: web.Request) -> web.Response:
        return web.Response(text="<html><body><h1>Welcome</h1><p>No feed here.</body>", content_type="text/html")

    async def slow_page(_request: web.Request) -> web.StreamResponse:
        # Headers at once, then nothing: only a whole-request deadline stops the wait.
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(_request)
        await response.write(b"<html><head><title>slow")
        await asyncio.sleep(SLOW_PAGE_DELAY_S)
        return response

    app.router.add_get("/broken/500.xml", server_error)
    app.router.add_get("/broken/not-xml.xml", not_xml)
    app.router.add_get("/slow/page.html", slow_page)
    app.router.add_static("/fixtures/", FIXTURES)
    app.router.add_static("/", SEEDS)
    return app


def site_app(root: Path, redirects: Mapping[str, str] | None = None) -> web.Application:
    """A site folder served at the origin's root, as a CMS would: `/dir/` is dir/index.html, `/x` is
    x.html, `/dir/?page=N` is dir/page-N.html; `redirects` maps a path to a Location. Every request is
    counted in `app[HITS]` by path and query."""
    app = web.Application()
    hits: dict[str, int] = {}
    app[HITS] = hits

    async def page(request: web.Request) -> web.StreamResponse:
        hits[request.path_qs] = hits.get(request.path_qs, 0) + 1
        if redirects and request.path in redirects:
            raise web.HTTPFound(redirects[request.path])
        relative = request.path.strip("/")
        if ".." in relative.split("/"):
            raise web.HTTPNotFound()
        number = request.query.get("page", "1")
        if request.path.endswith("/") or not relative:
            name = "index.html" if number in ("", "1") else f"page-{number}.html"
            candidates = [root / relative / name]
        else:
            candidates = [root / relative, root / f"{relative}.html"]
        for candidate in candidates:
            if candidate.is_file():
                return web.FileResponse(candidate)
        raise web.HTTPNotFound()

    app.router.add_get("/{tail:.*}", page)
    return app


class Origin:
    def __init__(self, app: Callable[[], web.Application] = _app) -> None:
        self._make_app = app
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="origin", daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_sources(self, path: Path, name: str = "worldwire") -> Path:
        """A sources file with one source: this origin's seed feed, its loopback host allowed."""
        path.write_text(
            f"sources:\n  - name: {name}\n    url: {self.base}/feed.xml\n    allow_hosts: [\"{self.host}\"]\n",
            encoding="utf-8",
        )
        return path

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self.app = self._make_app()
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets if site._server else []  # the port the OS picked
        self.port = sockets[0].getsockname()[1]

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("origin server did not start")

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


    @property
    def hits(self) -> dict[str, int]:
        """Requests by path and query (sites only)."""
        return self.app[HITS]


@contextmanager
def running_site(root: Path, redirects: Mapping[str, str] | None = None) -> Iterator[Origin]:
    """A fixture site (tests/fixtures/sites/<name>, or a copy of one) on its own 127.0.0.1 port."""
    origin = Origin(lambda: site_app(root, redirects))
    origin.start()
    try:
        yield origin
    finally:
        origin.stop()


@contextmanager
def running_origin() -> Iterator[Origin]:
    origin = Origin()
    origin.start()
    try:
        yield origin
    finally:
        origin.stop()
