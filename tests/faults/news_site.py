"""A local news web for the fault tests: a newspaper, its section feed and a wire that syndicates it.

Real HTTP on two loopback hosts (127.0.0.1 and 127.0.0.2, one port), served by aiohttp on its own
event loop in a thread, so the daemon under test (another process) fetches it like any site:

* the Harbour Times (127.0.0.1): `STORIES` stories in `/feed.xml`; every seventh link carries
  tracking parameters; `/section/port.xml` lists the first `SECTION` stories again, every link with
  other tracking parameters (same pages, so no new documents);
* the Coast Wire (127.0.0.2): republishes every seventh story under its own URL and layout (a copy:
  its own document, clustered with the original).

`expected_documents` is what a correct run leaves in the index. `hits` counts requests per path;
`page_delay_s` slows every article page (to catch a daemon mid-poll).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

STORIES = 200
SECTION = 40
SYNDICATED_EVERY = 7
HOSTS = ("127.0.0.1", "127.0.0.2")
_WORDS = (
    "harbour council tram budget river bridge school library market festival museum station ferry "
    "mayor report vote plan weather storm summer winter farmers rail workers union strike talks "
    "minister hospital nurses doctors police court judge gallery concert theatre football league "
    "season coach players village town city region border trade export grain port ships pier crew"
).split()


def _paragraphs(n: int) -> list[str]:
    rng = random.Random(n)
    return [" ".join(rng.choice(_WORDS) for _ in range(40)).capitalize() + "." for _ in range(5)]


def _headline(n: int) -> str:
    rng = random.Random(-n - 1)
    return f"{' '.join(rng.choice(_WORDS) for _ in range(6)).capitalize()} ({n})"


def harbour_page(n: int) -> str:
    body = "".join(f"<p>{p}</p>" for p in _paragraphs(n))
    related = "".join(f'<li><a href="/news/{(n + k) % STORIES}.html">{_headline((n + k) % STORIES)}</a></li>' for k in (1, 2, 3))
    return (
        f"<!doctype html><html lang='en'><head><title>{_headline(n)} | Harbour Times</title></head><body>"
        "<header><nav><a href='/'>Home</a> <a href='/section/port'>Port</a> <a href='/sport'>Sport</a></nav></header>"
        f"<main><article><h1>{_headline(n)}</h1><p class='byline'>By the harbour desk</p>{body}"
        "<p>Advertisement</p></article>"
        f"<aside><h2>Related</h2><ul>{related}</ul></aside><div class='share'>Share</div></main>"
        "<footer>Harbour Times, 1 Quay Street</footer></body></html>"
    )


def wire_page(n: int) -> str:
    body = "".join(f"<p>{p}</p>" for p in _paragraphs(n))
    return (
        f"<!doctype html><html lang='en'><head><title>{_headline(n)} - Coast Wire</title></head><body>"
        "<div id='top'><a href='/'>Coast Wire</a></div>"
        f"<div class='story'><h1>{_headline(n)}</h1><p class='credit'>Harbour Times via Coast Wire</p>{body}</div>"
        "<div class='more'><a href='/wire/latest'>More from the wire</a></div></body></html>"
    )


def _rss(title: str, items: list[tuple[str, str, str]]) -> str:
    entries = "".join(
        f"<item><title>{headline}</title><link>{link}</link><guid isPermaLink='false'>{guid}</guid>"
        f"<pubDate>Wed, 25 Nov 2026 {8 + i // 60 % 10:02d}:{i % 60:02d}:00 +0000</pubDate></item>"
        for i, (headline, link, guid) in enumerate(items)
    )
    return f"<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>{title}</title>{entries}</channel></rss>"


@dataclass
class NewsSite:
    port: int = 0
    page_delay_s: float = 0.0
    hits: Counter[str] = field(default_factory=Counter)

    @property
    def syndicated(self) -> int:
        return len(range(0, STORIES, SYNDICATED_EVERY))

    @property
    def expected_documents(self) -> int:
        return STORIES + self.syndicated

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    def sources_yaml(self, interval: str = "1h") -> str:
        allow = ", ".join(f'"{host}:{self.port}"' for host in HOSTS)
        feeds = (
            ("harbour", self.url(HOSTS[0], "/feed.xml")),
            ("harbour-port", self.url(HOSTS[0], "/section/port.xml")),
            ("coast-wire", self.url(HOSTS[1], "/wire.xml")),
        )
        return "sources:\n" + "".join(
            f"  - name: {name}\n    url: {url}\n    kind: rss\n    poll_interval: {interval}\n    allow_hosts: [{allow}]\n"
            for name, url in feeds
        )

    def write_sources(self, path: Path, interval: str = "1h") -> Path:
        path.write_text(self.sources_yaml(interval), encoding="utf-8")
        return path

    # -- the app -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/robots.txt", self._robots)
        app.router.add_get("/feed.xml", self._front_feed)
        app.router.add_get("/section/port.xml", self._section_feed)
        app.router.add_get("/wire.xml", self._wire_feed)
        app.router.add_get("/news/{n:\\d+}.html", self._harbour_page)
        app.router.add_get("/wire/{n:\\d+}.html", self._wire_page)
        return app

    async def _robots(self, request: web.Request) -> web.Response:
        self.hits[f"{request.host}{request.path}"] += 1
        return web.Response(text="User-agent: *\nDisallow: /admin\n")

    def _feed(self, request: web.Request, xml: str) -> web.Response:
        self.hits[f"{request.host}{request.path}"] += 1
        return web.Response(text=xml, content_type="application/rss+xml")

    async def _front_feed(self, request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        items = []
        for n in range(STORIES):
            tracking = "?utm_source=rss&utm_medium=feed" if n % SYNDICATED_EVERY == 3 else ""
            items.append((_headline(n), f"{base}/news/{n}.html{tracking}", f"harbour-{n}"))
        return self._feed(request, _rss("Harbour Times", items))

    async def _section_feed(self, request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        items = [
            (_headline(n), f"{base}/news/{n}.html?utm_campaign=port-section&fbclid=IwAR{n:04d}", f"port-{n}")
            for n in range(SECTION)
        ]
        return self._feed(request, _rss("Harbour Times: Port", items))

    async def _wire_feed(self, request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        items = [(_headline(n), f"{base}/wire/{n}.html", f"wire-{n}") for n in range(0, STORIES, SYNDICATED_EVERY)]
        return self._feed(request, _rss("Coast Wire", items))

    async def _page(self, request: web.Request, html: str) -> web.Response:
        self.hits[f"{request.host}{request.path}"] += 1
        if self.page_delay_s:
            await asyncio.sleep(self.page_delay_s)
        return web.Response(text=html, content_type="text/html")

    async def _harbour_page(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n >= STORIES:
            raise web.HTTPNotFound()
        return await self._page(request, harbour_page(n))

    async def _wire_page(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n >= STORIES or n % SYNDICATED_EVERY:
            raise web.HTTPNotFound()
        return await self._page(request, wire_page(n))


@contextmanager
def serving(site: NewsSite) -> Iterator[NewsSite]:
    """Serve `site` on every host in HOSTS (one port) until the block ends."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(site.app(), access_log=None)

    async def start() -> None:
        await runner.setup()
        first = web.TCPSite(runner, HOSTS[0], 0)
        await first.start()
        site.port = first._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        for host in HOSTS[1:]:
            await web.TCPSite(runner, host, site.port).start()

    thread = threading.Thread(target=loop.run_forever, name="news-site", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield site
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
