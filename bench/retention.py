"""Retention job cost: documents deleted per second, wall and CPU time, SQLite and Elasticsearch alike.

Loads N synthetic documents (bench/corpus.py, every 4th a syndicated copy, so some stories lose their lead
and get a new one) into each backend, then runs the retention job (workers/retention.py: point in time +
search_after + bulk deletes on Elasticsearch, keyset pages in short transactions on SQLite) with a keep
that expires the oldest fraction. The baseline in the same run is loading the same N documents (bulk
index; for Elasticsearch with the refresh and force-merge bench/indexes.py does). The dedupe state is a
fresh one (SQLite tables beside the index; Redis under a key prefix of the run's own, deleted after); no
raw archive. CPU is this process's (the client side): Elasticsearch's own CPU is not in it.

    .venv/bin/python bench/retention.py [--documents 20000] [--expire 0.5] [--url http://127.0.0.1:9200]
        [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from bench.corpus import articles  # noqa: E402
from bench.indexes import elastic_with, sqlite_with  # noqa: E402
from ingest.logs import configure_logging  # noqa: E402
from workers.dedupe_state import RedisStoryState  # noqa: E402
from workers.documents import Article  # noqa: E402
from workers.removal import RemovalReport, RemovalStores  # noqa: E402
from workers.retention import expire, retention_selections  # noqa: E402
from workers.state_sqlite import SqliteStoryState  # noqa: E402


def _timed_load(loader: AbstractContextManager[Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    index = loader.__enter__()
    return index, time.perf_counter() - started


def _expire(stores: RemovalStores, docs: list[Article], fraction: float) -> RemovalReport:
    ordered = sorted(docs, key=lambda a: a.first_seen_at)
    cutoff = ordered[int(len(ordered) * fraction)].first_seen_at
    newest = ordered[-1].first_seen_at
    keep_s = int((newest - cutoff).total_seconds())
    return expire(retention_selections(keep_s, {}, newest), stores)


def _row(name: str, report: RemovalReport, load_s: float, count: int) -> str:
    rate = report.documents / report.wall_s if report.wall_s else 0.0
    return (f"{name:<14} deleted {report.documents:>7,} of {count:,} in {report.wall_s:6.2f}s wall, "
            f"{report.cpu_s:6.2f}s CPU = {rate:8,.0f} docs/s (promoted {report.promoted}, moved {report.moved}) | "
            f"baseline: bulk-indexing {count:,} took {load_s:6.2f}s = {count / load_s:8,.0f} docs/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--expire", type=float, default=0.5, help="fraction of the documents past their keep")
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--skip-elastic", action="store_true")
    args = parser.parse_args()
    configure_logging("WARNING")
    docs = articles(args.documents, syndicated_every=4)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        loader = sqlite_with(Path(folder) / "bench.sqlite3", docs)
        index, load_s = _timed_load(loader)
        try:
            conn = index._conn  # the state's tables live in the same file, as in standalone mode
            report = _expire(RemovalStores(index, SqliteStoryState(conn)), docs, args.expire)
            rows.append(_row("sqlite", report, load_s, len(docs)))
        finally:
            loader.__exit__(None, None, None)
    if not args.skip_elastic:
        client = redis.Redis.from_url(args.redis)
        prefix = f"bench-{uuid.uuid4().hex[:8]}:"
        loader = elastic_with(args.url, docs)
        index, load_s = _timed_load(loader)
        try:
            report = _expire(RemovalStores(index, RedisStoryState(client, prefix)), docs, args.expire)
            rows.append(_row("elasticsearch", report, load_s, len(docs)))
        finally:
            loader.__exit__(None, None, None)
            keys: Iterator[Any] = client.scan_iter(match=prefix + "*")
            for key in keys:
                client.delete(key)
            client.close()
    print(f"retention job, {args.documents:,} documents, {args.expire:.0%} expired:")
    for row in rows:
        print("  " + row)


if __name__ == "__main__":
    main()
