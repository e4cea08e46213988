"""The benchmarks' indexes: the same documents in a SQLite file and in an Elasticsearch index of their own
(deleted afterwards), loaded in batches with progress on stderr; and how figures are summed up."""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from elasticsearch import Elasticsearch

from workers.documents import Article
from workers.index.elastic import ElasticIndex
from workers.index.mapping import index_name, template_name
from workers.index.sqlite import SqliteIndex, open_database

BATCH = 2_000


def _load(index: ElasticIndex | SqliteIndex, docs: Sequence[Article], name: str) -> None:
    started = time.perf_counter()
    for start in range(0, len(docs), BATCH):
        index.bulk_index(docs[start : start + BATCH])
        if (start // BATCH) % 10 == 9:
            print(f"{name}: {start + BATCH:,} of {len(docs):,} loaded", file=sys.stderr)
    print(f"{name}: loaded {len(docs):,} in {time.perf_counter() - started:.0f}s", file=sys.stderr)


@contextmanager
def sqlite_with(path: Path, docs: Sequence[Article]) -> Iterator[SqliteIndex]:
    """A SQLite index file at `path` holding `docs`; its connection is closed at the end, the file kept."""
    conn = open_database(path)
    try:
        index = SqliteIndex(conn)
        _load(index, docs, "sqlite")
        yield index
    finally:
        conn.close()


@contextmanager
def elastic_with(url: str, docs: Sequence[Article]) -> Iterator[ElasticIndex]:
    """An Elasticsearch index of its own holding `docs`, merged like a settled index, deleted at the end."""
    client = Elasticsearch(url, request_timeout=120)
    elastic = ElasticIndex(client, f"bench-{uuid.uuid4().hex[:8]}")
    try:
        elastic.ensure_ready()
        _load(elastic, docs, "elasticsearch")
        elastic.refresh()
        client.indices.forcemerge(index=elastic.alias, max_num_segments=1)
        yield elastic
    finally:
        client.indices.delete(index=index_name(elastic.alias), ignore_unavailable=True)
        client.options(ignore_status=404).indices.delete_index_template(name=template_name(elastic.alias))
        client.close()


def p50_p95(timings: Sequence[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(timings, n=100)
    return cuts[49], cuts[94]
