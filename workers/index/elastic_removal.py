"""Removing documents from Elasticsearch without delete-by-query: the requests behind ElasticIndex's
removal methods, and the tombstone index `{alias}-tombstones` beside the alias.

Matching documents are read with a point in time + search_after (ElasticIndex.select_pages), then
removed with bulk `delete` actions; story moves are bulk `update` actions with a partial `doc`, so a
promotion never bumps `version`. Raises the client's own errors: ElasticIndex translates them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from workers.errors import TransientError
from workers.ports import ClusterChange, DocumentRef, DocumentSelection, Tombstone

REF_FIELDS = (
    "id", "url", "canonical_url", "source", "title", "cluster_id", "duplicate_of", "first_seen_at", "content_hash",
)
_PAGE = 1000
_CHUNK = 500
_SHARD_SETTINGS: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
TOMBSTONE_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "doc_id": {"type": "keyword"},
        "url": {"type": "keyword", "ignore_above": 2048},
        "deleted_at": {"type": "date"},
        "reason": {"type": "keyword"},
    },
}


def selection_query(selection: DocumentSelection) -> dict[str, Any]:
    """The selection as a query; an empty one matches nothing."""
    if selection.empty:
        return {"match_none": {}}
    filters: list[dict[str, Any]] = []
    if selection.urls or selection.doc_ids:
        either: list[dict[str, Any]] = []
        if selection.doc_ids:
            either.append({"ids": {"values": list(selection.doc_ids)}})
        if selection.urls:
            either += [{"terms": {"url": list(selection.urls)}}, {"terms": {"canonical_url": list(selection.urls)}}]
        filters.append({"bool": {"should": either, "minimum_should_match": 1}})
    if selection.source is not None:
        filters.append({"term": {"source": selection.source}})
    if selection.domain is not None:
        filters.append({"term": {"domain": selection.domain}})
    if selection.first_seen_before is not None:
        filters.append({"range": {"first_seen_at": {"lt": selection.first_seen_before.astimezone(UTC).isoformat()}}})
    query: dict[str, Any] = {"filter": filters}
    if selection.except_sources:
        query["must_not"] = [{"terms": {"source": list(selection.except_sources)}}]
    return {"bool": query}


def ref_of(source: dict[str, Any]) -> DocumentRef:
    first_seen = datetime.fromisoformat(str(source["first_seen_at"]))
    return DocumentRef(
        id=str(source["id"]), url=str(source["url"]), canonical_url=str(source["canonical_url"]),
        source=str(source["source"]), title=source.get("title"), cluster_id=str(source["cluster_id"]),
        duplicate_of=source.get("duplicate_of"),
        first_seen_at=first_seen if first_seen.tzinfo else first_seen.replace(tzinfo=UTC),
        content_hash=str(source["content_hash"]),
    )


def references(client: Elasticsearch, alias: str, doc_ids: Sequence[str]) -> list[DocumentRef]:
    if not doc_ids:
        return []
    found = client.mget(index=alias, ids=list(doc_ids), source_includes=list(REF_FIELDS))  # real time
    return [ref_of(doc["_source"]) for doc in found["docs"] if doc.get("found")]


def story_members(client: Elasticsearch, alias: str, cluster_ids: Collection[str]) -> list[DocumentRef]:
    """Searched, so the caller refreshes after moving or deleting documents (ElasticIndex does)."""
    members: list[DocumentRef] = []
    ordered = sorted(cluster_ids)
    for start in range(0, len(ordered), _CHUNK):
        after: list[Any] | None = None
        while True:
            response = client.search(
                index=alias, query={"terms": {"cluster_id": ordered[start : start + _CHUNK]}},
                source_includes=list(REF_FIELDS), sort=[{"id": "asc"}], size=_PAGE, search_after=after,
                track_total_hits=False,
            )
            hits = response["hits"]["hits"]
            members += [ref_of(hit["_source"]) for hit in hits]
            if len(hits) < _PAGE:
                break
            after = hits[-1]["sort"]
    return members


def set_clusters(client: Elasticsearch, alias: str, changes: Sequence[ClusterChange]) -> int:
    operations: list[dict[str, Any]] = []
    for change in changes:
        operations += [
            {"update": {"_id": change.doc_id, "retry_on_conflict": 3}},
            {"doc": {"cluster_id": change.cluster_id, "duplicate_of": change.duplicate_of}},
        ]
    return _bulk(client, alias, operations, "update")


def delete(client: Elasticsearch, alias: str, doc_ids: Sequence[str]) -> int:
    return _bulk(client, alias, [{"delete": {"_id": doc_id}} for doc_id in doc_ids], "delete")


def _bulk(client: Elasticsearch, alias: str, operations: list[dict[str, Any]], action: str) -> int:
    """Items done; a missing document (404) is not an error here: another removal got there first."""
    if not operations:
        return 0
    response = client.bulk(index=alias, operations=operations, require_alias=True)
    done, failed = 0, []
    for item in response["items"]:
        result = item[action]
        status = int(result["status"])
        if status < 300:
            done += 1
        elif status != 404:
            failed.append(result)
    if failed:  # 429/5xx or a conflict: the whole removal can run again, idempotently
        raise TransientError(f"{len(failed)} {action}s failed on {alias}: {failed[0].get('error')}")
    return done


def ensure_tombstone_index(client: Elasticsearch, index: str) -> None:
    try:
        client.indices.create(index=index, mappings=TOMBSTONE_MAPPINGS, settings=_SHARD_SETTINGS)
    except ApiError as exc:
        if exc.message != "resource_already_exists_exception":
            raise


def add_tombstones(client: Elasticsearch, index: str, tombstones: Sequence[Tombstone]) -> None:
    if not tombstones:
        return
    ensure_tombstone_index(client, index)
    operations: list[dict[str, Any]] = []
    for stone in tombstones:
        operations += [
            {"index": {"_id": stone.doc_id}},
            {"doc_id": stone.doc_id, "url": stone.url, "deleted_at": stone.deleted_at.astimezone(UTC).isoformat(),
             "reason": stone.reason},
        ]
    response = client.bulk(index=index, operations=operations, refresh="wait_for")
    failed = [item["index"] for item in response["items"] if item["index"]["status"] >= 300]
    if failed:
        raise TransientError(f"{len(failed)} tombstones not recorded in {index}: {failed[0].get('error')}")


def tombstoned(client: Elasticsearch, index: str, doc_ids: Sequence[str]) -> frozenset[str]:
    if not doc_ids:
        return frozenset()
    try:
        found = client.mget(index=index, ids=list(doc_ids), source=False)  # real time: no refresh needed
    except NotFoundError as exc:
        if exc.message == "index_not_found_exception":
            return frozenset()  # nothing was ever deleted for good
        raise
    return frozenset(str(doc["_id"]) for doc in found["docs"] if doc.get("found"))
