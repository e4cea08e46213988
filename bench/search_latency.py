"""Search latency p50/p95 at 100,000 documents, SQLite FTS5 and Elasticsearch, same documents and queries.

Each backend answers the same query mix: words by relevance collapsed to stories (the default), the same
sorted newest, with a source filter, and with a --since window. Figures are per query, after a warm-up.

    .venv/bin/python bench/search_latency.py [--documents 100000] [--queries 200] [--url http://127.0.0.1:9200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import START, articles, queries  # noqa: E402
from bench.indexes import elastic_with, p50_p95, sqlite_with  # noqa: E402
from ingest.logs import configure_logging  # noqa: E402
from workers.ports import IndexBackend, SearchQuery  # noqa: E402


def _mix(texts: list[str]) -> list[SearchQuery]:
    since = START + timedelta(days=60)
    variants = (
        lambda t: SearchQuery(t),
        lambda t: SearchQuery(t, sort="newest"),
        lambda t: SearchQuery(t, source="coastwire"),
        lambda t: SearchQuery(t, since=since),
    )
    return [variants[n % len(variants)](text) for n, text in enumerate(texts)]


def _latencies_ms(index: IndexBackend, mix: list[SearchQuery]) -> list[float]:
    for query in mix[:20]:  # warm-up: caches, JIT, page cache
        index.search(query)
    timings = []
    for query in mix:
        started = time.perf_counter()
        index.search(query)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _report(name: str, timings: list[float]) -> None:
    p50, p95 = p50_p95(timings)
    print(f"{name:<16}{p50:>10.1f}{p95:>10.1f}{max(timings):>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    args = parser.parse_args()
    configure_logging("WARNING")
    docs = articles(args.documents)
    mix = _mix(queries(args.queries))
    print(f"{len(docs)} documents, {len(mix)} queries per backend", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        with sqlite_with(Path(tmp) / "bench.sqlite3", docs) as sqlite:
            sqlite_ms = _latencies_ms(sqlite, mix)

    with elastic_with(args.url, docs) as elastic:
        elastic_ms = _latencies_ms(elastic, mix)

    print(f"{'backend':<16}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    _report("sqlite (fts5)", sqlite_ms)
    _report("elasticsearch", elastic_ms)


if __name__ == "__main__":
    main()
