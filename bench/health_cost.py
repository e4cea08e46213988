"""What recording extraction health (the layout-change monitor) adds to the cost of an article, same run.

The pages: the fixture corpus (48 pages) and the two layout fixture sites (48 more), each batch of 20 from
one source. Per round, in turns (so the machine's load hits them alike):

* prepare: the CPU stages, once per article (identical with or without the monitor);
* store: store_prepared on fresh standalone state (boilerplate counts, dedupe, an in-memory SQLite index);
* store + health (sqlite): the same, recording every page's health and judging drift (each source's ring
  of 220 pages full beforehand: the steady state);
* store + health (redis): the same with the Redis store (only with --redis URL; keys under a bench prefix,
  deleted afterwards).

It prints CPU ms per article (of this process: Redis's own CPU is not counted, its round trips are one
read and one write per source and batch) and the monitor's added cost as a ratio of the whole pipeline
without it, (prepare + store + health) / (prepare + store), the median of the per-round ratios.

    .venv/bin/python bench/health_cost.py [--rounds 15] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.score_corpus import load_corpus  # noqa: E402
from ingest.jobs import ArticleJob, SourceSnapshot  # noqa: E402
from workers.batch import prepare_safely, store_prepared  # noqa: E402
from workers.health import PageHealth  # noqa: E402
from workers.health_state import RedisExtractionHealth, SqliteExtractionHealth  # noqa: E402
from workers.index.sqlite import SqliteDeadLetters, SqliteIndex, open_database  # noqa: E402
from workers.state_sqlite import SqliteStoryState  # noqa: E402

SITES = ROOT / "tests" / "fixtures" / "sites"
BATCH = 20
FULL_RING = 220  # recent_pages + history_pages by default


def _jobs() -> list[ArticleJob]:
    pages = [(page.url, page.page.read_text(encoding="utf-8"), "corpus") for page in load_corpus()]
    for site in ("template-change", "template-stable"):
        for path in sorted((SITES / site / "articles").glob("*.html")):
            pages.append((f"https://{site}.example/news/{path.stem}", path.read_text(encoding="utf-8"), site))
    return [
        ArticleJob(
            url=url, final_url=url, fetched_at=datetime.now(UTC), status=200, html=html,
            source=SourceSnapshot(name=source, kind="rss", url=f"https://{source}.example/feed.xml"),
        )
        for url, html, source in pages
    ]


def _store_pass(prepared: list[tuple[ArticleJob, Any]], health: Callable[[Any], Any] | None) -> float:
    """CPU seconds of store_prepared over every batch, on fresh state."""
    db = open_database(":memory:")
    dedupe, index, letters = SqliteStoryState(db), SqliteIndex(db), SqliteDeadLetters(db)
    index.ensure_ready()
    monitor = health(db) if health else None
    if monitor is not None:
        # Steady state: every source's ring already full, so each page is judged against a whole history.
        sources = {job.source.name for job, _ in prepared}
        monitor.record([PageHealth(s, False, 500, False, 12, 1) for s in sources for _ in range(FULL_RING)], datetime.now(UTC))
    start = time.process_time()
    for n in range(0, len(prepared), BATCH):
        store_prepared(prepared[n : n + BATCH], dedupe, index, letters, health=monitor)
    spent = time.process_time() - start
    db.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--redis", help="also measure the Redis store at this URL")
    args = parser.parse_args()
    import structlog

    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())  # logging is not what is measured
    jobs = _jobs()
    redis_client, prefix = None, f"bench:{uuid.uuid4().hex[:8]}:"
    workloads: dict[str, Callable[[Any], Any] | None] = {
        "store": None,
        "store + health (sqlite)": lambda db: SqliteExtractionHealth(db),
    }
    if args.redis:
        import redis

        redis_client = redis.Redis.from_url(args.redis)
        workloads["store + health (redis)"] = lambda _db: RedisExtractionHealth(redis_client, prefix)
    print(f"{len(jobs)} articles in batches of {BATCH}, {args.rounds} rounds", file=sys.stderr)
    prepare_s: list[float] = []
    store_s: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(args.rounds):
        start = time.process_time()
        prepared = [(job, prepare_safely(job)) for job in jobs]
        prepare_s.append(time.process_time() - start)
        for name, health in workloads.items():
            store_s[name].append(_store_pass(prepared, health))
    if redis_client is not None:
        keys = list(redis_client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            redis_client.delete(*keys)
    per_article = 1000 / len(jobs)
    print(f"{'':28}{'CPU ms/article':>16}{'whole pipeline vs without':>28}")
    print(f"{'prepare':28}{statistics.median(prepare_s) * per_article:16.3f}")
    for name in workloads:
        ratio = statistics.median(
            (p + mine) / (p + base) for p, mine, base in zip(prepare_s, store_s[name], store_s["store"], strict=True)
        )
        added = statistics.median(mine - base for mine, base in zip(store_s[name], store_s["store"], strict=True))
        note = "" if name == "store" else f"   (+{added * per_article:.3f} ms/article)"
        print(f"{name:28}{statistics.median(store_s[name]) * per_article:16.3f}{ratio:27.3f}x{note}")


if __name__ == "__main__":
    main()
