"""Web console page times, p50/p95, at 100,000 documents on both backends: the search page and the
overview page, each against a baseline measured in the same run (the JSON API's search for the same words).

The real `serve` application on 127.0.0.1, asked over HTTP one request at a time after a warm-up, so a
figure is what a person waits for a page (index queries, HTML rendering, the network stack), not a
browser's own drawing. The documents end today, so the overview's 30-, 7-day and 24-hour windows hold
articles; one in ten is a syndicated copy, so search results have copies to list.

    .venv/bin/python bench/console_render.py [--documents 100000] [--requests 100] [--backend both]
        [--url http://127.0.0.1:9200]   (Elasticsearch runs: scripts/services.sh up; Redis too, for the
                                         overview's queue figure in distributed mode)
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import SOURCES, articles, queries, start_ending_at  # noqa: E402
from bench.indexes import elastic_with, p50_p95, sqlite_with  # noqa: E402
from ingest.http_guard import SERVER_ARGS  # noqa: E402
from ingest.logs import configure_logging  # noqa: E402
from ingest.serve import make_app  # noqa: E402
from ingest.settings import ApiSettings, Settings  # noqa: E402
from workers.documents import Article  # noqa: E402

WARM_UP = 10
# The bench asks faster than a person: the rate limit would answer 429.
UNLIMITED = ApiSettings(rate_limit_per_minute=10**9, rate_limit_burst=10**9)


def search_paths(words: list[str]) -> list[str]:
    """The search page as people use it: words, words and a source, newest first, a second page, the
    blank page (newest stories), in turn."""
    shapes: list[Callable[[int, str], str]] = [
        lambda n, w: f"/?q={w}",
        lambda n, w: f"/?q={w}&source={SOURCES[n % len(SOURCES)]}",
        lambda n, w: f"/?q={w}&sort=newest",
        lambda n, w: f"/?q={w}&page=2",
        lambda n, w: "/",
    ]
    return [shapes[n % len(shapes)](n, text.replace(" ", "+")) for n, text in enumerate(words)]


def api_paths(words: list[str]) -> list[str]:
    return [f"/api/v1/search?q={text.replace(' ', '+')}&limit=20" for text in words]


def overview_paths(count: int) -> list[str]:
    return ["/overview" if n % 2 else "/overview?days=7" for n in range(count)]


async def _timings_ms(session: aiohttp.ClientSession, base: str, paths: list[str]) -> list[float]:
    for path in paths[:WARM_UP]:
        async with session.get(base + path) as response:
            await response.read()
    timings = []
    for path in paths:
        started = time.perf_counter()
        async with session.get(base + path) as response:
            await response.read()
            if response.status != 200:
                raise SystemExit(f"{path}: HTTP {response.status}: {(await response.text())[:300]}")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def _measure(settings: Settings, requests: int) -> dict[str, list[float]]:
    runner = web.AppRunner(make_app(settings), access_log=None, **SERVER_ARGS)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"  # port 0 asked: the OS picked a free one
    words = queries(requests, seed=23)
    try:
        async with aiohttp.ClientSession() as session:
            return {
                "api search (baseline)": await _timings_ms(session, base, api_paths(words)),
                "search page": await _timings_ms(session, base, search_paths(words)),
                "overview page": await _timings_ms(session, base, overview_paths(requests)),
            }
    finally:
        await runner.cleanup()


@contextmanager
def _standalone(docs: list[Article], tmp: Path) -> Iterator[Settings]:
    settings = Settings(data_dir=tmp / "standalone", api=UNLIMITED)
    settings.data_dir.mkdir()
    with sqlite_with(settings.sqlite_path, docs):
        pass  # loaded and closed: serve opens the file itself
    yield settings


@contextmanager
def _distributed(docs: list[Article], tmp: Path, url: str, redis_url: str) -> Iterator[Settings]:
    with elastic_with(url, docs) as elastic:
        yield Settings(
            elasticsearch_url=url, redis_url=redis_url, index_alias=elastic.alias, key_prefix=f"{elastic.alias}:",
            data_dir=tmp / "distributed", api=UNLIMITED,
        )


def _report(backend: str, figures: dict[str, list[float]]) -> None:
    base50, base95 = p50_p95(figures["api search (baseline)"])
    for page, timings in figures.items():
        p50, p95 = p50_p95(timings)
        print(f"{backend:<15}{page:<24}{len(timings):>6}{p50:>10.1f}{p95:>10.1f}{p50 / base50:>10.2f}{p95 / base95:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100, help="requests per page kind")
    parser.add_argument("--backend", choices=("sqlite", "elasticsearch", "both"), default="both")
    parser.add_argument("--url", default="http://127.0.0.1:9200", help="Elasticsearch")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    configure_logging("WARNING")
    # Articles ending now, whatever their number: the overview's 30-day, 7-day and 24-hour windows hold some.
    start = start_ending_at(args.documents, datetime.now(UTC))
    docs = articles(args.documents, start=start, syndicated_every=10)
    print(f"{len(docs):,} documents; {args.requests} requests per page kind and backend", file=sys.stderr)

    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if args.backend in ("sqlite", "both"):
            with _standalone(docs, tmp) as settings:
                results["sqlite"] = asyncio.run(_measure(settings, args.requests))
        if args.backend in ("elasticsearch", "both"):
            with _distributed(docs, tmp, args.url, args.redis_url) as settings:
                results["elasticsearch"] = asyncio.run(_measure(settings, args.requests))

    print(f"{'backend':<15}{'page':<24}{'count':>6}{'p50 ms':>10}{'p95 ms':>10}{'p50 x':>10}{'p95 x':>10}")
    for backend, figures in results.items():
        _report(backend, figures)
    print("(x: the page's time over the API search baseline's, same backend, same run)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (this process: corpus, index client, server): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
