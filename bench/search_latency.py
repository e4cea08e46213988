"""Search latency p50/p95 at 100,000 documents, SQLite FTS5 and Elasticsearch, same documents and queries.

Each backend answers the same query mix: words by relevance collapsed to stories (the default), the same
sorted newest, with a source filter, and with a --since window. Figures are per query, after a warm-up.

    .venv/bin/python bench/search_latency.py [--documents 100000] [--queries 200] [--url http://127.0.0.1:9200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from elasticsearch import Elasticsearch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import START, articles, queries  # noqa: E402
from ingest.logs import configure_logging  # noqa: E402
from workers.index.elastic import ElasticIndex  # noqa: E402
from workers.index.mapping import index_name, template_name  # noqa: E402
from workers.index.sqlite import SqliteIndex, open_database  # noqa: E402
from workers.ports import SearchQuery  # noqa: E402

BATCH = 2_000


def _mix(texts: list[str]) -> list[SearchQuery]:
    since = START + timedelta(days=60)
    variants = (
        lambda t: SearchQuery(t),
        lambda t: SearchQuery(t, sort="newest"),
        lambda t: SearchQuery(t, source="coastwire"),
        lambda t: SearchQuery(t, since=since),
    )
    return [variants[n % len(variants)](text) for n, text in enumerate(texts)]


def _latencies_ms(index: ElasticIndex | SqliteIndex, mix: list[SearchQuery]) -> list[float]:
    for query in mix[:20]:  # warm-up: caches, JIT, page cache
        index.search(query)
    timings = []
    for query in mix:
        started = time.perf_counter()
        index.search(query)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _report(name: str, timings: list[float]) -> None:
    cuts = statistics.quantiles(timings, n=100)
    print(f"{name:<16}{cuts[49]:>10.1f}{cuts[94]:>10.1f}{max(timings):>10.1f}")


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
        conn = open_database(Path(tmp) / "bench.sqlite3")
        sqlite = SqliteIndex(conn)
        started = time.perf_counter()
        for start in range(0, len(docs), BATCH):
            sqlite.bulk_index(docs[start : start + BATCH])
        print(f"sqlite: loaded in {time.perf_counter() - started:.0f}s", file=sys.stderr)
        sqlite_ms = _latencies_ms(sqlite, mix)
        conn.close()

    client = Elasticsearch(args.url, request_timeout=120)
    elastic = ElasticIndex(client, f"bench-{uuid.uuid4().hex[:8]}")
    try:
        elastic.ensure_ready()
        started = time.perf_counter()
        for start in range(0, len(docs), BATCH):
            elastic.bulk_index(docs[start : start + BATCH])
        elastic.refresh()
        client.indices.forcemerge(index=elastic.alias, max_num_segments=1)  # as a settled index would be
        print(f"elasticsearch: loaded in {time.perf_counter() - started:.0f}s", file=sys.stderr)
        elastic_ms = _latencies_ms(elastic, mix)
    finally:
        client.indices.delete(index=index_name(elastic.alias), ignore_unavailable=True)
        client.options(ignore_status=404).indices.delete_index_template(name=template_name(elastic.alias))
        client.close()

    print(f"{'backend':<16}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    _report("sqlite (fts5)", sqlite_ms)
    _report("elasticsearch", elastic_ms)


if __name__ == "__main__":
    main()
