"""Fetch throughput, CPU per fetch and peak RSS of the fetching daemon, next to a bare aiohttp loop.

A local aiohttp origin (its own process, so its CPU is not counted) serves realistic feeds and
the seed article pages. Politeness delays are off. Both sides fetch the same URLs in the same
run; the figures that matter are the ratios. Then 10,000 sources are configured and polled
once for peak RSS, and the scheduler's accuracy at 10,000 sources is measured on an injected
clock (polls take random time; how late is each poll against its interval?). Last, the real
daemon runs in real time against many loopback hosts 127.0.x.y (so per-host politeness, left
on at its default, does not serialize them), and the origin records when each feed was asked
for: the share of polls that came within ±10% of the source's interval after the previous one.

The bare loop only GETs and reads each body. The daemon does what a poller must on top: a
body hash for unchanged feeds (no parse), robots.txt, per-host pacing, state; in the first
round it also parses each feed (fastfeedparser, ~0.07 ms per entry; feedparser, which most
pollers use, costs ~0.35 ms, twice the bare loop's whole cost per page), which the article
figure includes. So articles are also compared with a second baseline: the bare loop that runs
feedparser on each feed before GETting its pages.

    .venv/bin/python bench/fetch_throughput.py [--feeds 200] [--pages-per-feed 5] [--sources 10000]
        [--rt-sources 3000] [--rt-hosts 150] [--rt-seconds 100] [--feedparser-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import feedparser
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.local_web import serve_forever  # noqa: E402
from ingest.client import HttpClient  # noqa: E402
from ingest.daemon import Daemon  # noqa: E402
from ingest.handoff import DrainReport  # noqa: E402
from ingest.jobs import ArticleJob  # noqa: E402
from ingest.logs import configure_logging  # noqa: E402
from ingest.scheduler import Schedule  # noqa: E402
from ingest.settings import HttpSettings, PollingSettings, Settings  # noqa: E402
from ingest.sources import Source  # noqa: E402
from ingest.state import SqliteFeedState  # noqa: E402

PAGE = (ROOT / "seeds/pages/worldwire/2016/08/putin-erdogan-repair-ties.html").read_bytes()
CONCURRENCY = 16
REPEATS = 5  # short measurements (poll rounds, bare loops) are repeated and their median taken


def _feed(n: int, pages: int, base: str) -> bytes:
    items = "".join(
        f"<item><title>Story {n}-{k}: council approves the tram line</title><link>{base}/page/{n}/{k}.html</link>"
        f"<guid>{n}-{k}</guid><pubDate>Wed, 10 Aug 2016 09:15:00 GMT</pubDate>"
        f"<description>The council voted on the new line after three sessions of debate.</description>"
        f"<category>Local</category></item>"
        for k in range(pages)
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Feed {n}</title>{items}</channel></rss>".encode()


def _serve(port_out: multiprocessing.connection.Connection, pages: int) -> None:
    async def feed(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        base = f"http://{request.host}"
        return web.Response(body=_feed(n, pages, base), content_type="application/rss+xml")

    async def page(_request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/feed/{n}.xml", feed)
    app.router.add_get("/page/{n}/{k}.html", page)
    serve_forever(app, port_out)


def _serve_hosts(port_out: multiprocessing.connection.Connection, hosts: list[str]) -> None:
    """Unchanging empty feeds on every host in `hosts` (one port), recording when each was asked for."""
    asked: dict[str, list[float]] = {}

    async def feed(request: web.Request) -> web.Response:
        asked.setdefault(f"{request.host}{request.path}", []).append(time.time())
        return web.Response(body=_feed(0, 0, ""), content_type="application/rss+xml")

    async def stats(_request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(asked), content_type="application/json")

    app = web.Application()
    app.router.add_get("/feed/{n}.xml", feed)
    app.router.add_get("/stats", stats)
    serve_forever(app, port_out, hosts)


async def _real_time_accuracy(
    sources: int, hosts: int, seconds: float, interval_s: int = 30
) -> tuple[tuple[float, int, float], tuple[float, int, float]]:
    """Run the daemon forever (stopped after `seconds`) over `sources` feeds on `hosts` loopback
    addresses, politeness at its defaults. For all gaps between polls of a source, and for the
    steady ones (each source's first gap is the start-up spread, ±10% by design plus the time
    the start-up rush queued): the share within ±10% of the interval, how many, the worst lateness."""
    addresses = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(hosts)]
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(target=_serve_hosts, args=(send, addresses), daemon=True)
    server.start()
    port = receive.recv()
    try:
        feeds = [
            Source.model_validate({
                "name": f"rt{n}", "url": f"http://{addresses[n % hosts]}:{port}/feed/{n}.xml",
                "allow_hosts": [f"127.0.0.0/8:{port}"], "poll_interval": f"{interval_s}s",
                "min_interval": f"{interval_s}s", "max_interval": f"{interval_s}s",  # fixed: no adaptation
            })
            for n in range(sources)
        ]
        settings = Settings(poll_concurrency=CONCURRENCY, fetch_concurrency=CONCURRENCY)  # default politeness
        with tempfile.TemporaryDirectory() as tmp:
            owner = ThreadPoolExecutor(1)
            state = SqliteFeedState(Path(tmp) / "rt.sqlite3", owner)
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(seconds, stop.set)
            async with HttpClient(settings.http) as client:
                await Daemon(settings, feeds, client, state, Recorder()).run_forever(stop)
            await state.close()
        async with aiohttp.ClientSession() as session, session.get(f"http://{addresses[0]}:{port}/stats") as resp:
            asked: dict[str, list[float]] = await resp.json()
    finally:
        server.kill()
    every = [[b - a for a, b in zip(times, times[1:])] for times in asked.values()]

    def figures(gaps: list[float]) -> tuple[float, int, float]:
        within = sum(1 for g in gaps if abs(g - interval_s) <= 0.1 * interval_s) / max(len(gaps), 1)
        return within, len(gaps), max((g - interval_s for g in gaps), default=0.0)

    return figures([g for gaps in every for g in gaps]), figures([g for gaps in every for g in gaps[1:]])


class Recorder:
    def __init__(self) -> None:
        self.jobs = 0

    async def submit(self, jobs: Sequence[ArticleJob]) -> None:
        self.jobs += len(jobs)

    async def wait_ready(self) -> None:
        return None

    async def drain(self, timeout_s: float) -> DrainReport:
        return DrainReport(0, 0, 0, 0)

    async def close(self) -> None:
        return None


def _settings() -> Settings:
    return Settings(
        poll_concurrency=CONCURRENCY,
        fetch_concurrency=CONCURRENCY,
        http=HttpSettings(concurrency=CONCURRENCY, per_host_concurrency=CONCURRENCY),
        polling=PollingSettings(host_delay_s=0),
    )


def _sources(port: int, count: int) -> list[Source]:
    allow = [f"127.0.0.0/8:{port}"]
    return [
        Source.model_validate({"name": f"s{n}", "url": f"http://127.0.0.1:{port}/feed/{n}.xml", "allow_hosts": allow})
        for n in range(count)
    ]


async def _daemon_round(sources: list[Source], state: SqliteFeedState) -> tuple[float, float, int]:
    recorder = Recorder()
    async with HttpClient(_settings().http) as client:
        wall, cpu = time.perf_counter(), time.process_time()
        await Daemon(_settings(), sources, client, state, recorder).run_once()
        return time.perf_counter() - wall, time.process_time() - cpu, recorder.jobs


async def _bare_with_feedparser(feed_urls: list[str]) -> tuple[float, float, int]:
    """The least any feedparser-based poller does: GET each feed, feedparser.parse it, GET every
    page it lists; no state, no politeness, no guard. Returns wall, CPU and pages fetched."""
    slots = asyncio.Semaphore(CONCURRENCY)
    pages = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def page(url: str) -> None:
            async with slots, session.get(url) as resp:
                await resp.read()

        async def feed(url: str) -> None:
            nonlocal pages
            async with slots, session.get(url) as resp:
                body = await resp.read()
            links = [entry.link for entry in feedparser.parse(body).entries]
            pages += len(links)
            await asyncio.gather(*(page(link) for link in links))

        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(feed(u) for u in feed_urls))
        return time.perf_counter() - wall, time.process_time() - cpu, pages


def _median_pair(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """(wall, cpu) of the run with the median wall time."""
    return sorted(runs)[len(runs) // 2]


async def _bare(urls: list[str]) -> tuple[float, float]:
    slots = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def one(url: str) -> None:
            async with slots, session.get(url) as resp:
                await resp.read()

        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(u) for u in urls))
        return time.perf_counter() - wall, time.process_time() - cpu


def _scheduler_accuracy(sources: int, interval_s: float, rounds: int) -> tuple[float, float]:
    """Share of polls that start within ±10% of their interval after the previous one, and the
    worst lateness, on an injected clock with polls of random length and a bounded worker pool."""
    rng = random.Random(1)
    schedule = Schedule({f"s{i}": interval_s for i in range(sources)}, now=0.0, rng=rng)
    last: dict[str, float] = {}
    gaps: list[float] = []
    now, end = 0.0, interval_s * rounds
    busy_until: list[float] = [0.0] * 256  # workers
    while now < end:
        for name in schedule.due(now):
            worker = min(range(len(busy_until)), key=busy_until.__getitem__)
            start = max(now, busy_until[worker])
            busy_until[worker] = start + rng.uniform(0.01, 0.5)
            if name in last:
                gaps.append(start - last[name])
            last[name] = start
            schedule.reschedule(name, busy_until[worker])
        wait = schedule.seconds_until_next(now)
        now += max(wait or 1.0, 0.01)
    within = sum(1 for g in gaps if abs(g - interval_s) <= 0.1 * interval_s + 0.5) / len(gaps)
    return within, max(g - interval_s for g in gaps)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--pages-per-feed", type=int, default=5)
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--rt-sources", type=int, default=3000, help="real-time scheduler run: sources")
    parser.add_argument("--rt-hosts", type=int, default=150, help="real-time scheduler run: loopback hosts")
    parser.add_argument("--rt-seconds", type=float, default=100, help="real-time scheduler run: duration (0: skip)")
    parser.add_argument(
        "--feedparser-only", action="store_true", help="read every feed with feedparser, the fast path off (to compare)"
    )
    args = parser.parse_args()
    if args.feedparser_only:
        import ingest.feeds

        ingest.feeds._fast_path_reads = lambda *_args, **_kwargs: False  # the fast path declines every body
    configure_logging("WARNING")
    rss_at_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(send, args.pages_per_feed), daemon=True)
    server.start()
    port = receive.recv()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            owner = ThreadPoolExecutor(1)
            state = SqliteFeedState(Path(tmp) / "state.sqlite3", owner)
            sources = _sources(port, args.feeds)
            first_wall, first_cpu, articles = await _daemon_round(sources, state)
            # Unchanged feeds: polls only. A round of a few thousand polls lasts a fraction of a
            # second, so each side is run REPEATS times and its median taken.
            polls = [await _daemon_round(sources, state) for _ in range(REPEATS)]
            polls_wall, polls_cpu = _median_pair([(w, c) for w, c, _ in polls])
            await state.close()
            feed_urls = [s.url for s in sources]
            page_urls = [f"http://127.0.0.1:{port}/page/{n}/{k}.html" for n in range(args.feeds) for k in range(args.pages_per_feed)]
            bare_feed_wall, bare_feed_cpu = _median_pair([await _bare(feed_urls) for _ in range(REPEATS)])
            bare_page_wall, bare_page_cpu = await _bare(page_urls)
            parse_wall, parse_cpu, parse_pages = await _bare_with_feedparser(feed_urls)
            # The daemon's first round fetched feeds and pages: pages alone ~ first round minus a poll round.
            page_wall = max(first_wall - polls_wall, 1e-9)
            page_cpu = max(first_cpu - polls_cpu, 1e-9)
            daemon_polls_s, bare_polls_s = args.feeds / polls_wall, args.feeds / bare_feed_wall
            daemon_pages_s, bare_pages_s = articles / page_wall, len(page_urls) / bare_page_wall
            print(f"feeds={args.feeds} pages={articles} concurrency={CONCURRENCY} (politeness delays off)")
            print(f"{'':24}{'daemon':>12}{'bare loop':>12}{'ratio':>8}")
            print(f"{'feed polls/s':24}{daemon_polls_s:12.0f}{bare_polls_s:12.0f}{daemon_polls_s / bare_polls_s:8.2f}")
            print(f"{'article fetches/s':24}{daemon_pages_s:12.0f}{bare_pages_s:12.0f}{daemon_pages_s / bare_pages_s:8.2f}")
            print(f"{'CPU ms per feed poll':24}{polls_cpu / args.feeds * 1000:12.2f}{bare_feed_cpu / args.feeds * 1000:12.2f}")
            print(f"{'CPU ms per article':24}{page_cpu / max(articles, 1) * 1000:12.2f}{bare_page_cpu / len(page_urls) * 1000:12.2f}")
            # The same loop that also runs feedparser on each feed: pages ~ that run minus its feed GETs.
            fp_pages_s = parse_pages / max(parse_wall - bare_feed_wall, 1e-9)
            fp_cpu = (parse_cpu - bare_feed_cpu) / max(parse_pages, 1) * 1000
            print(f"{'':24}{'daemon':>12}{'loop+parse':>12}{'ratio':>8}   (bare loop that also runs feedparser)")
            print(f"{'article fetches/s':24}{daemon_pages_s:12.0f}{fp_pages_s:12.0f}{daemon_pages_s / fp_pages_s:8.2f}")
            print(f"{'CPU ms per article':24}{page_cpu / max(articles, 1) * 1000:12.2f}{fp_cpu:12.2f}")

            owner = ThreadPoolExecutor(1)
            state = SqliteFeedState(Path(tmp) / "many.sqlite3", owner)
            many = _sources(port, args.sources)
            wall, _cpu, _ = await _daemon_round(many, state)  # every source polled once, pages fetched
            await state.close()
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{args.sources} sources polled once in {wall:.1f}s; peak RSS of the daemon process {peak_mb:.0f} MB (target < 300; {rss_at_start:.0f} MB after imports)")
    finally:
        server.kill()
    await _scraper_path(args.feeds)
    within, worst = _scheduler_accuracy(args.sources, interval_s=300, rounds=4)
    print(f"scheduler, {args.sources} sources every 300s, injected clock: {within:.1%} of polls within ±10% "
          f"of the interval (worst {worst:+.1f}s)")
    if args.rt_seconds > 0:
        every, steady = await _real_time_accuracy(args.rt_sources, args.rt_hosts, args.rt_seconds)
        print(f"scheduler, real time: {args.rt_sources} sources on {args.rt_hosts} loopback hosts every 30s for "
              f"{args.rt_seconds:.0f}s, politeness on:")
        for label, (within, gaps, worst) in (("all gaps", every), ("after each source's first", steady)):
            print(f"  {label:26} {within:.1%} of {gaps} polls within ±10% of the interval (worst {worst:+.1f}s)")


# -- the scraper path (page sources), next to the feed path ------------------------------------

LISTING = (ROOT / "tests/fixtures/sites/harbour-gazette/index.html").read_text(encoding="utf-8")


def _serve_scrape(port_out: multiprocessing.connection.Connection) -> None:
    """Per source n: a listing page /s{n}/ (the fixture front page, its links under /s{n}/) and a feed
    /f{n}.xml with as many items as the listing has articles; both change on every request (a
    counter), so every poll goes all the way: parse, decide, look up what is new."""
    counter = 0

    async def listing(request: web.Request) -> web.Response:
        nonlocal counter
        counter += 1
        n = request.match_info["n"]
        body = LISTING.replace('href="/', f'href="/s{n}/') + f"<!-- {counter} -->"
        return web.Response(text=body, content_type="text/html")

    async def feed(request: web.Request) -> web.Response:
        nonlocal counter
        counter += 1
        n = int(request.match_info["n"])
        body = _feed(n, 8, f"http://{request.host}").replace(b"<title>Feed", f"<title>Feed {counter}".encode())
        return web.Response(body=body, content_type="application/rss+xml")

    async def page(_request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/s{n}/", listing)
    app.router.add_get("/f{n}.xml", feed)
    app.router.add_get("/s{n}/{tail:.*}", page)
    app.router.add_get("/page/{n}/{k}.html", page)
    serve_forever(app, port_out)


async def _scraper_path(count: int) -> None:
    """Page sources against feeds in the same run: polls per second and CPU per poll when every
    body changed but nothing is new (the detection path: fetch, parse, decide each link, look up
    the seen state), and the parse-and-decide cost alone, per listing page and per link."""
    from ingest.feeds import parse_feed
    from ingest.listing import read_listing

    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(target=_serve_scrape, args=(send,), daemon=True)
    server.start()
    port = receive.recv()
    allow = [f"127.0.0.0/8:{port}"]
    pages = [
        Source.model_validate({"name": f"p{n}", "kind": "page", "url": f"http://127.0.0.1:{port}/s{n}/", "allow_hosts": allow})
        for n in range(count)
    ]
    feeds = [
        Source.model_validate({"name": f"f{n}", "url": f"http://127.0.0.1:{port}/f{n}.xml", "allow_hosts": allow})
        for n in range(count)
    ]
    figures = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for label, sources in (("feed", feeds), ("page", pages)):
                owner = ThreadPoolExecutor(1)
                state = SqliteFeedState(Path(tmp) / f"{label}.sqlite3", owner)
                first_wall, _cpu, articles = await _daemon_round(sources, state)  # everything new
                wall, cpu, _ = await _daemon_round(sources, state)  # every body changed, nothing new
                await state.close()
                figures[label] = (count / wall, cpu / count * 1000, articles / first_wall, articles)
    finally:
        server.kill()
    page_url = "https://harbour-gazette.example/"
    links = len(read_listing(LISTING, page_url).decisions)
    feed_body = _feed(0, 8, "https://feeds.example")
    rounds = 200
    cpu = time.process_time()
    for _ in range(rounds):
        read_listing(LISTING, page_url)
    listing_ms = (time.process_time() - cpu) / rounds * 1000
    cpu = time.process_time()
    for _ in range(rounds):
        parse_feed(feed_body, "https://feeds.example/f.xml", "rss")
    feed_ms = (time.process_time() - cpu) / rounds * 1000
    (page_polls, page_cpu, page_first, page_articles), (feed_polls, feed_cpu, feed_first, feed_articles) = figures["page"], figures["feed"]
    print(f"scraper path: {count} page sources (a {len(LISTING) // 1024} KB listing, {links} links, "
          f"{page_articles // count} articles) next to {count} feeds ({feed_articles // count} items), same origin")
    print(f"{'':34}{'page':>10}{'feed':>10}{'ratio':>8}")
    print(f"{'polls/s, body changed, none new':34}{page_polls:10.0f}{feed_polls:10.0f}{page_polls / feed_polls:8.2f}")
    print(f"{'CPU ms per poll, detection':34}{page_cpu:10.2f}{feed_cpu:10.2f}{page_cpu / feed_cpu:8.2f}")
    print(f"{'first round, articles/s':34}{page_first:10.0f}{feed_first:10.0f}{page_first / feed_first:8.2f}")
    print(f"{'parse+decide CPU ms per document':34}{listing_ms:10.2f}{feed_ms:10.2f}{listing_ms / feed_ms:8.2f}")
    print(f"{'  per link decided / feed item':34}{listing_ms / links:10.3f}{feed_ms / 8:10.3f}")


if __name__ == "__main__":
    asyncio.run(main())
