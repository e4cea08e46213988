"""From first poll to searchable: the whole product next to the script a user might write instead.

A local news web (its own process) serves feeds and article pages on several loopback hosts
127.0.1.x. Each run starts from an empty index and a fresh data directory:

* minimal: aiohttp fetches the feeds and pages, feedparser reads the feeds, trafilatura extracts
  in a process pool of W workers, `helpers.bulk` writes to Elasticsearch. No politeness, no
  safety caps, no dedupe, no state, no retries;
* standalone: `newsingest run --once` with a pool of W processes and the SQLite index;
* distributed: `newsingest worker --concurrency W` already running (as in production), then
  `newsingest run --once` on Redis and Elasticsearch.

Every run is a subprocess timed from launch (interpreter start-up and imports included on both
sides) until every article is searchable; "steady" is the rate between the 10th and 90th
percentile of searchable times (start-up left out, as a long-running daemon sees it). Worker CPU
counts from the daemon's launch (a worker's own start-up is paid once, not per run). A sampler reads which documents are searchable every
0.2 s, for latency from each page's fetch to searchable, and the RSS of every process involved.
Politeness delays are off (the minimal script has none); robots.txt, caps, per-host limits and
everything else stay on. Target (issue 8): at least 80% of the minimal script's throughput.

    .venv/bin/python bench/e2e_throughput.py [--articles 1000] [--hosts 8] [--workers 1 2]
        [--modes minimal standalone distributed]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = (ROOT / "seeds" / "truth" / "putin-erdogan.txt").read_text(encoding="utf-8").split()
PER_FEED = 20
CONCURRENCY = 16
REDIS_URL = os.environ.get("NEWSINGEST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ES_URL = os.environ.get("NEWSINGEST_BENCH_ELASTICSEARCH_URL", "http://127.0.0.1:9200")


# -- the local news web ------------------------------------------------------------------------


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS).strip(".,'\"()") or "news" for _ in range(rng.randint(9, 22))]
    return " ".join(words).capitalize() + "."


SECTIONS = ("World", "Europe", "Politics", "Business", "Markets", "Technology", "Science", "Health", "Climate",
            "Sport", "Football", "Culture", "Books", "Film", "Music", "Travel", "Food", "Opinion", "Letters",
            "Obituaries", "Weather", "Local", "Harbour", "Transport", "Education", "Property", "Cars", "Puzzles")


def _headline(rng: random.Random, words: int = 8) -> str:
    return " ".join(rng.choice(WORDS).strip(".,'\"()") or "news" for _ in range(words)).capitalize()


def article_html(n: int, k: int, host: str) -> str:
    """One distinct article (seeded by its numbers) in a full newsroom page, about the size and
    shape of a real one (~20 KB): styles, scripts, a long menu, ticker, figure, share bar, tags,
    most-read and footer link lists around 8-12 paragraphs of story."""
    rng = random.Random(n * 10_000 + k)
    title = _headline(rng)
    paragraphs = ["".join(f"{_sentence(rng)} " for _ in range(rng.randint(3, 5))).strip() for _ in range(rng.randint(8, 12))]
    body = []
    for i, paragraph in enumerate(paragraphs):
        body.append(f"<p>{paragraph}</p>")
        if i == 2:
            body.append("<div class='ad-slot' data-slot='inline-1'><span>Advertisement</span></div>")
        if i == 4:
            body.append(f"<p class='read-more'>Read more: <a href='/a/{n}/{(k + 1) % PER_FEED}.html'>{_headline(rng, 6)}</a></p>")
    menu = "".join(f"<li><a href='/{name.lower()}/'>{name}</a></li>" for name in SECTIONS)
    ticker = "".join(f"<li><a href='/a/{(n + j) % 50}/{j}.html'>{_headline(rng, 7)}</a></li>" for j in range(5))
    most_read = "".join(f"<li><span>{j + 1}</span><a href='/a/{(n + j) % 50}/{(k + j) % PER_FEED}.html'>{_headline(rng)}</a></li>" for j in range(10))
    footer = "".join(
        f"<div class='col'><h4>{SECTIONS[c]}</h4><ul>" + "".join(f"<li><a href='/{SECTIONS[c + j].lower()}/'>{SECTIONS[c + j]}</a></li>" for j in range(8)) + "</ul></div>"
        for c in (0, 6, 12, 18)
    )
    tags = "".join(f"<a rel='tag' href='/tag/{_headline(rng, 1).lower()}/'>#{j}</a> " for j in range(5))
    published = f"2026-11-{1 + k % 24:02d}T08:{k % 60:02d}:00Z"
    style = "body{font:16px/1.5 Georgia,serif;margin:0}.nav a{padding:4px 8px}.ad-slot{min-height:250px}" * 8
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title} | Harbour Wire</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><meta property='og:title' content='{title}'>"
        f"<meta property='og:type' content='article'><meta name='author' content='Desk {n % 7}'>"
        f"<meta property='article:published_time' content='{published}'><link rel='canonical' href='http://{host}/a/{n}/{k}.html'>"
        f"<style>{style}</style><script>window.dataLayer=window.dataLayer||[];dataLayer.push({{page:'{n}-{k}'}});</script>"
        f"<script type='application/ld+json'>{{\"@type\":\"NewsArticle\",\"headline\":\"{title}\",\"datePublished\":\"{published}\"}}</script>"
        f"</head><body><header class='masthead'><a class='logo' href='/'>Harbour Wire</a>"
        f"<form class='search' action='/search'><input name='q' placeholder='Search'><button>Go</button></form>"
        f"<nav class='nav'><ul>{menu}</ul></nav><div class='ticker'><strong>Breaking</strong><ul>{ticker}</ul></div></header>"
        f"<main><nav class='crumbs'><a href='/'>Home</a> › <a href='/world/'>World</a></nav><article>"
        f"<h1>{title}</h1><p class='standfirst'>{_sentence(rng)}</p>"
        f"<p class='byline'>By Desk {n % 7} · <time datetime='{published}'>{published[:10]}</time></p>"
        f"<figure><img src='/img/{n}-{k}.jpg' alt='{title}'><figcaption>{_sentence(rng)} Photo: Harbour Wire</figcaption></figure>"
        f"{''.join(body)}<div class='share'><span>Share</span><a href='#'>Facebook</a><a href='#'>X</a>"
        f"<a href='#'>LinkedIn</a><a href='#'>Email</a><a href='#'>Copy link</a></div><div class='tags'>{tags}</div></article>"
        f"<aside><h2>Most read</h2><ol>{most_read}</ol><form class='newsletter'><label>Get the morning briefing"
        f"<input type='email' name='email'></label><button>Sign up</button></form></aside></main>"
        f"<footer>{footer}<p>© 2026 Harbour Wire · <a href='/about'>About</a> · <a href='/privacy'>Privacy</a> · "
        f"<a href='/login'>Sign in</a> · {host}</p></footer><script src='/static/app.js' defer></script></body></html>"
    )


def feed_xml(n: int, base: str) -> str:
    items = "".join(
        f"<item><title>Story {n}-{k}</title><link>{base}/a/{n}/{k}.html</link><guid>{base}/a/{n}/{k}</guid>"
        f"<pubDate>Wed, {1 + k % 24:02d} Nov 2026 08:00:00 GMT</pubDate><description>Desk report {k}.</description></item>"
        for k in range(PER_FEED)
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Wire {n}</title>{items}</channel></rss>"


def _serve(port_out: multiprocessing.connection.Connection, hosts: list[str]) -> None:
    from aiohttp import web

    from local_web import serve_forever

    async def feed(request: web.Request) -> web.Response:
        return web.Response(text=feed_xml(int(request.match_info["n"]), f"http://{request.host}"), content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        n, k = int(request.match_info["n"]), int(request.match_info["k"])
        return web.Response(text=article_html(n, k, request.host), content_type="text/html")

    async def robots(_request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /login\n")

    app = web.Application()
    app.router.add_get("/feed/{n}.xml", feed)
    app.router.add_get("/a/{n}/{k}.html", page)
    app.router.add_get("/robots.txt", robots)
    serve_forever(app, port_out, hosts)


# -- the script a user might write instead (run as `e2e_throughput.py --minimal ...`) ----------


def _extract(html: str) -> str | None:
    import trafilatura

    text: str | None = trafilatura.extract(html)
    return text


def minimal(feed_urls: list[str], workers: int, index: str) -> None:
    import asyncio
    from concurrent.futures import ProcessPoolExecutor
    from datetime import UTC

    import aiohttp
    import feedparser
    from elasticsearch import Elasticsearch, helpers

    async def run() -> list[dict[str, object]]:
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(CONCURRENCY)
        docs: list[dict[str, object]] = []
        with ProcessPoolExecutor(workers) as pool, Elasticsearch(ES_URL) as es:
            async with aiohttp.ClientSession() as session:

                async def get(url: str) -> str:
                    async with slots, session.get(url) as resp:
                        return await resp.text()

                async def article(url: str) -> None:
                    html = await get(url)
                    fetched_at = datetime.now(UTC).isoformat()
                    text = await loop.run_in_executor(pool, _extract, html)
                    if text:
                        docs.append({"_index": index, "_id": url, "url": url, "text": text, "fetched_at": fetched_at})
                    if len(docs) >= 100:
                        batch = docs[:]
                        docs.clear()
                        await loop.run_in_executor(None, lambda: helpers.bulk(es, batch))

                async def feed(url: str) -> None:
                    parsed = feedparser.parse(await get(url))
                    await asyncio.gather(*(article(entry.link) for entry in parsed.entries))

                await asyncio.gather(*(feed(u) for u in feed_urls))
            helpers.bulk(es, docs)
            es.indices.refresh(index=index)
        return docs

    asyncio.run(run())


# -- measuring ------------------------------------------------------------------------------------


@dataclass
class Watch:
    """Samples, every 0.2 s, which documents are searchable and the RSS of the watched processes."""

    searchable: Callable[[], dict[str, str]]  # id -> fetched_at (ISO)
    pids: Callable[[], dict[str, list[int]]]  # role -> process ids
    first_seen: dict[str, float] = field(default_factory=dict)
    fetched: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    tree_cpu_s: dict[str, float] = field(default_factory=dict)  # the most each live tree was seen to use
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(0.2)

    def sample(self) -> None:
        now = time.time()
        try:
            found = self.searchable()
        except Exception:  # the index may not exist yet
            found = {}
        for doc_id, fetched_at in found.items():
            if doc_id not in self.first_seen:
                self.first_seen[doc_id] = now
                self.fetched[doc_id] = datetime.fromisoformat(fetched_at).timestamp()
        for role, pids in self.pids().items():
            rss = max((_rss_mb(pid) for pid in pids), default=0.0)
            self.peak_mb[role] = max(self.peak_mb.get(role, 0.0), rss)
            cpu = _pids_cpu_s(pids)
            self.tree_cpu_s[role] = max(self.tree_cpu_s.get(role, 0.0), cpu)

    def stop(self) -> None:
        self._stop.set()
        self.sample()

    def latencies(self) -> list[float]:
        return sorted(self.first_seen[d] - self.fetched[d] for d in self.first_seen)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a live process tree (its own and its live children's)."""
    return _pids_cpu_s(_tree(pid))


def _pids_cpu_s(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for member in pids:
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _tree(pid: int) -> list[int]:
    """pid and its descendants (prefork children, pool processes)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                stack += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def _es_searchable(index: str) -> Callable[[], dict[str, str]]:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(ES_URL)

    def read() -> dict[str, str]:
        es.indices.refresh(index=index)
        hits = es.search(index=index, size=10_000, source_includes=["fetched_at"], query={"match_all": {}})["hits"]["hits"]
        return {hit["_id"]: hit["_source"]["fetched_at"] for hit in hits}

    return read


def _sqlite_searchable(path: Path) -> Callable[[], dict[str, str]]:
    def read() -> dict[str, str]:
        if not path.exists():
            return {}
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            rows = db.execute("SELECT id, json_extract(document, '$.fetched_at') FROM articles").fetchall()
        return {doc_id: fetched for doc_id, fetched in rows}

    return read


@dataclass
class Result:
    label: str
    articles: int
    wall_s: float
    cpu_s: dict[str, float]
    latencies: list[float]
    peak_mb: dict[str, float]
    searchable_at: list[float] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.articles / self.wall_s

    @property
    def steady_per_s(self) -> float:
        """Between the 10th and the 90th percentile of searchable times: start-up and the last
        stragglers left out, as a daemon that runs for months sees it."""
        times = sorted(self.searchable_at)
        if len(times) < 10:
            return float("nan")
        low, high = times[len(times) // 10], times[(9 * len(times)) // 10]
        return (0.8 * len(times)) / max(high - low, 1e-9)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wait_searchable(watch: Watch, expected: int, deadline_s: float, process: subprocess.Popen[bytes] | None) -> None:
    end = time.monotonic() + deadline_s
    while len(watch.first_seen) < expected and time.monotonic() < end:
        if process is not None and process.poll() is not None and process.returncode != 0:
            raise SystemExit(f"the run failed with exit code {process.returncode}")
        time.sleep(0.1)
    if len(watch.first_seen) < expected:
        print(f"  warning: only {len(watch.first_seen)} of {expected} searchable after {deadline_s:.0f}s", flush=True)


def run_minimal(feed_urls: list[str], workers: int, expected: int, tmp: Path) -> Result:
    index = f"bench-minimal-{os.getpid()}-{workers}"
    urls_file = tmp / f"feeds-{workers}.json"
    urls_file.write_text(json.dumps(feed_urls))
    cpu_before = _children_cpu()
    started = time.time()
    process = subprocess.Popen([sys.executable, __file__, "--minimal", str(urls_file), str(workers), index])
    watch = Watch(_es_searchable(index), lambda: {"script": _tree(process.pid)})
    watch.start()
    _wait_searchable(watch, expected, 600, process)
    wall = max(watch.first_seen.values(), default=time.time()) - started
    process.wait()
    watch.stop()
    cpu = _children_cpu() - cpu_before
    _delete_indices(index)
    return Result(
        f"minimal, {workers} worker(s)", len(watch.first_seen), wall, {"script": cpu}, watch.latencies(), watch.peak_mb,
        list(watch.first_seen.values()),
    )


def _env(tmp: Path, sources: Path, workers: int, distributed: bool, tag: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(
        PYTHONPATH=str(ROOT),
        NEWSINGEST_DATA_DIR=str(tmp / f"data-{tag}"),
        NEWSINGEST_SOURCES=str(sources),
        NEWSINGEST_POLLING__HOST_DELAY_S="0",
        NEWSINGEST_POLL_CONCURRENCY=str(CONCURRENCY),
        NEWSINGEST_FETCH_CONCURRENCY=str(CONCURRENCY),
        NEWSINGEST_PROCESSING_WORKERS=str(workers),
    )
    if distributed:
        env.update(
            NEWSINGEST_REDIS_URL=REDIS_URL,
            NEWSINGEST_ELASTICSEARCH_URL=ES_URL,
            NEWSINGEST_INDEX_ALIAS=f"bench-{tag}",
            NEWSINGEST_KEY_PREFIX=f"bench-{tag}:",
            NEWSINGEST_CELERY__QUEUE=f"bench-{tag}",
        )
    return env


def run_product(sources: Path, workers: int, expected: int, tmp: Path, distributed: bool) -> Result:
    tag = f"{'dist' if distributed else 'alone'}-{os.getpid()}-{workers}"
    env = _env(tmp, sources, workers, distributed, tag)
    cli = [sys.executable, "-m", "ingest.cli", "--log-level", "WARNING"]
    worker: subprocess.Popen[bytes] | None = None
    if distributed:
        log_path = tmp / f"worker-{tag}.log"
        with log_path.open("wb") as log:
            worker = subprocess.Popen([*cli[:-2], "--log-level", "INFO", "worker", "--concurrency", str(workers)], env=env, cwd=tmp, stderr=log, stdout=log)
        _wait_for_line(log_path, "ready", 120)
        searchable = _es_searchable(f"bench-{tag}")
    else:
        searchable = _sqlite_searchable(tmp / f"data-{tag}" / "newsingest.sqlite3")
    cpu_before = _children_cpu()
    worker_cpu_before = _tree_cpu_s(worker.pid) if worker else 0.0  # its start-up is not this run's
    started = time.time()
    daemon = subprocess.Popen([*cli, "run", "--once"], env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pids: Callable[[], dict[str, list[int]]] = lambda: {  # noqa: E731
        "daemon": _tree(daemon.pid),
        **({"worker": _tree(worker.pid)} if worker else {}),
    }
    watch = Watch(searchable, pids)
    watch.start()
    _wait_searchable(watch, expected, 900, daemon)
    wall = max(watch.first_seen.values(), default=time.time()) - started
    _, stderr = daemon.communicate()
    if daemon.returncode != 0:
        print(stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    watch.stop()
    # A pool's processes may be reaped by a fork server the daemon never waits for: take the larger of
    # what the daemon's exit reported and what its live tree was last seen to have used.
    cpu = {"daemon": max(_children_cpu() - cpu_before, watch.tree_cpu_s.get("daemon", 0.0))}
    if worker is not None:
        cpu["workers"] = _tree_cpu_s(worker.pid) - worker_cpu_before
        worker.terminate()
        worker.wait(60)
        _delete_indices(f"bench-{tag}")
        _delete_keys(f"bench-{tag}*")
    label = f"{'distributed' if distributed else 'standalone'}, {workers} worker(s)"
    return Result(label, len(watch.first_seen), wall, cpu, watch.latencies(), watch.peak_mb, list(watch.first_seen.values()))


def _wait_for_line(path: Path, needle: str, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if needle in path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise SystemExit(f"the worker did not say '{needle}' within {timeout_s:.0f}s: see {path}")


def _delete_indices(prefix: str) -> None:
    """Every index and index template named `prefix...` (deletes must name indices: no wildcards)."""
    from elasticsearch import Elasticsearch

    with Elasticsearch(ES_URL) as es:
        names = list(es.options(ignore_status=404).indices.get(index=f"{prefix}*", expand_wildcards="all").body)
        if names:
            es.indices.delete(index=",".join(names))
        templates = es.options(ignore_status=404).indices.get_index_template(name=f"{prefix}*").body
        for template in templates.get("index_templates", []) if isinstance(templates, dict) else []:
            es.indices.delete_index_template(name=template["name"])


def _delete_keys(pattern: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=pattern, count=1000):
        client.delete(key)
    client.close()


def _print(results: list[Result], baseline: dict[int, Result]) -> None:
    print(f"\n{'run':28}{'articles':>9}{'art/s':>8}{'vs min':>8}{'steady':>8}{'vs min':>8}{'p50 s':>7}{'p95 s':>7}"
          "  CPU ms/article          peak RSS MB")
    for r in results:
        workers = int(r.label.split(", ")[1].split()[0])
        ratio = r.per_s / baseline[workers].per_s if workers in baseline else float("nan")
        steady = r.steady_per_s / baseline[workers].steady_per_s if workers in baseline else float("nan")
        p50 = statistics.median(r.latencies) if r.latencies else float("nan")
        p95 = r.latencies[int(0.95 * (len(r.latencies) - 1))] if r.latencies else float("nan")
        cpu = ", ".join(f"{k} {v / max(r.articles, 1) * 1000:.1f}" for k, v in r.cpu_s.items())
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r.peak_mb.items())
        print(f"{r.label:28}{r.articles:9d}{r.per_s:8.1f}{ratio:8.2f}{r.steady_per_s:8.1f}{steady:8.2f}{p50:7.2f}{p95:7.2f}"
              f"  {cpu:24} {rss}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--modes", nargs="+", default=["minimal", "standalone", "distributed"])
    parser.add_argument("--minimal", nargs=3, metavar=("FEEDS_JSON", "WORKERS", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.minimal:
        feeds_json, workers, index = args.minimal
        minimal(json.loads(Path(feeds_json).read_text()), int(workers), index)
        return
    feeds = max(1, args.articles // PER_FEED)
    hosts = [f"127.0.1.{1 + i}" for i in range(args.hosts)]
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(send, hosts), daemon=True)
    server.start()
    port = receive.recv()
    feed_urls = [f"http://{hosts[n % len(hosts)]}:{port}/feed/{n}.xml" for n in range(feeds)]
    expected = feeds * PER_FEED
    results: list[Result] = []
    baseline: dict[int, Result] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            sources = tmp / "sources.yaml"
            sources.write_text(
                "sources:\n"
                + "".join(
                    f"  - name: wire{n}\n    url: {url}\n    allow_hosts: ['127.0.1.0/24:{port}']\n"
                    for n, url in enumerate(feed_urls)
                ),
                encoding="utf-8",
            )
            print(f"{expected} articles in {feeds} feeds on {len(hosts)} hosts; concurrency {CONCURRENCY}; "
                  f"politeness delays off", flush=True)
            for workers in args.workers:
                for mode in args.modes:
                    print(f"- {mode}, {workers} worker(s)...", flush=True)
                    if mode == "minimal":
                        result = baseline[workers] = run_minimal(feed_urls, workers, expected, tmp)
                    else:
                        result = run_product(sources, workers, expected, tmp, distributed=mode == "distributed")
                    results.append(result)
                    print(f"  {result.articles} searchable in {result.wall_s:.1f}s", flush=True)
    finally:
        server.kill()
    _print(results, baseline)


if __name__ == "__main__":
    main()
