"""Indexing throughput of newsingest's ElasticIndex.bulk_index against plain `elasticsearch.helpers.bulk`.

Same synthetic documents, same server, same run, fresh index each round (the current mapping on both).
The baseline is what a plain client user would write: helpers.bulk with chunk_size=500, index ops, ids
given, documents dumped from the same Article objects inside the timed region. Ours adds the revision
read (mget), conditional writes (create / if_seq_no), per-item classification and byte bounds.
Two cases: first indexing (nothing stored) and a re-crawl of the same documents (everything stored).

    .venv/bin/python bench/index_throughput.py [--documents 20000] [--rounds 3] [--url http://127.0.0.1:9200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import articles as make_articles  # noqa: E402
from ingest.logs import configure_logging  # noqa: E402
from workers.documents import Article  # noqa: E402
from workers.index.elastic import ElasticIndex  # noqa: E402
from workers.index.mapping import index_name, template_name  # noqa: E402


def _fresh(client: Elasticsearch) -> ElasticIndex:
    index = ElasticIndex(client, f"bench-{uuid.uuid4().hex[:8]}")
    index.ensure_ready()
    return index


def _drop(client: Elasticsearch, index: ElasticIndex) -> None:
    client.indices.delete(index=index_name(index.alias), ignore_unavailable=True)
    client.options(ignore_status=404).indices.delete_index_template(name=template_name(index.alias))


def _plain(client: Elasticsearch, index: ElasticIndex, docs: list[Article]) -> None:
    actions = ({"_index": index.alias, "_id": a.id, "_source": a.to_source()} for a in docs)
    helpers.bulk(client, actions, chunk_size=500, max_retries=3)


def _ours(_client: Elasticsearch, index: ElasticIndex, docs: list[Article]) -> None:
    outcomes = index.bulk_index(docs)
    assert all(o.result == "indexed" for o in outcomes)


def _measure(client: Elasticsearch, docs: list[Article], write: Callable[[Elasticsearch, ElasticIndex, list[Article]], None], again: bool) -> float:
    """Documents per second of one round on a fresh index (the second write when `again`)."""
    index = _fresh(client)
    try:
        if again:
            write(client, index, docs)
            index.refresh()
        started = time.perf_counter()
        write(client, index, docs)
        index.refresh()  # both pay for making the documents searchable
        elapsed = time.perf_counter() - started
        assert index.count() == len(docs), "documents went missing"
        return len(docs) / elapsed
    finally:
        _drop(client, index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    args = parser.parse_args()
    configure_logging("WARNING")
    docs = make_articles(args.documents)
    client = Elasticsearch(args.url, request_timeout=120)
    print(f"{len(docs)} documents, {args.rounds} rounds per case (median), server {args.url}", file=sys.stderr)
    print(f"{'case':<34}{'helpers.bulk docs/s':>20}{'newsingest docs/s':>19}{'ratio':>8}")
    for case, again in (("first indexing", False), ("re-crawl (all stored)", True)):
        plain, ours = [], []
        for _ in range(args.rounds):  # interleaved, so drift in the machine hits both alike
            plain.append(_measure(client, docs, _plain, again))
            ours.append(_measure(client, docs, _ours, again))
        base, mine = statistics.median(plain), statistics.median(ours)
        print(f"{case:<34}{base:>20.0f}{mine:>19.0f}{mine / base:>8.2f}")
    client.close()


if __name__ == "__main__":
    main()
