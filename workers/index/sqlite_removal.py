"""Removing documents from the standalone index: selection, story moves, deletes and tombstones.

The SQL behind SqliteIndex's removal methods (workers.removal drives them). Each call is one short
transaction, so the retention job never holds the write lock for long. Never decides what to remove.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from workers.ports import ClusterChange, DocumentRef, DocumentSelection, Tombstone

# Bound parameters per statement: far below SQLite's limit (32,766).
_CHUNK = 500
_REF_COLUMNS = """a.id, json_extract(a.document, '$.url'), json_extract(a.document, '$.canonical_url'), a.source,
    json_extract(a.document, '$.title'), a.cluster_id, a.duplicate_of, a.first_seen_at,
    json_extract(a.document, '$.content_hash')"""


def selection_sql(selection: DocumentSelection) -> tuple[str, dict[str, Any]]:
    """SQL conditions over `a` (articles) for the selection, and their parameters."""
    if selection.empty:
        return "0 = 1", {}
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if selection.urls or selection.doc_ids:
        either = []
        if selection.doc_ids:
            either.append(f"a.id IN ({_marks('id', selection.doc_ids, params)})")
        if selection.urls:
            urls = _marks("url", selection.urls, params)
            either.append(f"json_extract(a.document, '$.url') IN ({urls})")
            either.append(f"json_extract(a.document, '$.canonical_url') IN ({urls})")
        clauses.append("(" + " OR ".join(either) + ")")
    if selection.source is not None:
        clauses.append("a.source = :source")
        params["source"] = selection.source
    if selection.domain is not None:
        clauses.append("json_extract(a.document, '$.domain') = :domain")
        params["domain"] = selection.domain
    if selection.first_seen_before is not None:
        # Text order is time order for the UTC times the pipeline stores ("...T12:00:00Z"); the
        # articles_first_seen index serves the range. Compared to the second.
        clauses.append("a.first_seen_at < :before")
        params["before"] = selection.first_seen_before.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if selection.except_sources:
        clauses.append(f"a.source NOT IN ({_marks('except', selection.except_sources, params)})")
    return " AND ".join(clauses), params


def _marks(name: str, values: Sequence[str], params: dict[str, Any]) -> str:
    for n, value in enumerate(values):
        params[f"{name}{n}"] = value
    return ", ".join(f":{name}{n}" for n in range(len(values)))


def select_pages(conn: sqlite3.Connection, selection: DocumentSelection, page_size: int) -> Iterator[list[DocumentRef]]:
    """Pages in row order, keyset on pk: deleting a page before reading the next one is safe."""
    where, params = selection_sql(selection)
    after = 0
    while True:
        rows = conn.execute(
            f"SELECT a.pk, {_REF_COLUMNS} FROM articles AS a WHERE {where} AND a.pk > :after ORDER BY a.pk LIMIT :page",
            {**params, "after": after, "page": page_size},
        ).fetchall()
        if not rows:
            return
        after = int(rows[-1][0])
        yield [_ref(row[1:]) for row in rows]


def references(conn: sqlite3.Connection, doc_ids: Sequence[str]) -> list[DocumentRef]:
    return _refs_where(conn, "a.id", list(doc_ids))


def story_members(conn: sqlite3.Connection, cluster_ids: Collection[str]) -> list[DocumentRef]:
    return _refs_where(conn, "a.cluster_id", sorted(cluster_ids))  # the articles_cluster index serves it


def _refs_where(conn: sqlite3.Connection, column: str, values: list[str]) -> list[DocumentRef]:
    found: list[DocumentRef] = []
    for chunk in _chunks(values):
        sql = f"SELECT {_REF_COLUMNS} FROM articles AS a WHERE {column} IN ({','.join('?' * len(chunk))})"
        found += [_ref(row) for row in conn.execute(sql, chunk)]
    return found


def set_clusters(conn: sqlite3.Connection, changes: Sequence[ClusterChange]) -> int:
    """In the document and its cluster_id column; json_set leaves version and updated_at alone."""
    # rowcount, not total_changes: the FTS triggers' own changes must not count.
    return conn.executemany(
        "UPDATE articles SET cluster_id = :cluster, "
        "document = json_set(document, '$.cluster_id', :cluster, '$.duplicate_of', :duplicate_of) WHERE id = :id",
        [{"id": c.doc_id, "cluster": c.cluster_id, "duplicate_of": c.duplicate_of} for c in changes],
    ).rowcount


def delete(conn: sqlite3.Connection, doc_ids: Sequence[str]) -> int:
    # A plain DELETE fires the trigger that takes the row out of the FTS index.
    return conn.executemany("DELETE FROM articles WHERE id = ?", [(doc_id,) for doc_id in doc_ids]).rowcount


def add_tombstones(conn: sqlite3.Connection, tombstones: Sequence[Tombstone]) -> None:
    conn.executemany(
        "INSERT INTO tombstones (doc_id, url, deleted_at, reason) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (doc_id) DO UPDATE SET url = excluded.url, deleted_at = excluded.deleted_at, "
        "reason = excluded.reason",
        [(t.doc_id, t.url, t.deleted_at.astimezone(UTC).isoformat(), t.reason) for t in tombstones],
    )


def tombstoned(conn: sqlite3.Connection, doc_ids: Sequence[str]) -> frozenset[str]:
    found: set[str] = set()
    for chunk in _chunks(list(doc_ids)):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(f"SELECT doc_id FROM tombstones WHERE doc_id IN ({marks})", chunk)
        found.update(str(row[0]) for row in rows)
    return frozenset(found)


def _ref(row: Sequence[Any]) -> DocumentRef:
    doc_id, url, canonical, source, title, cluster, duplicate_of, first_seen, digest = row
    return DocumentRef(
        id=str(doc_id), url=str(url), canonical_url=str(canonical), source=str(source),
        title=None if title is None else str(title), cluster_id=str(cluster),
        duplicate_of=None if duplicate_of is None else str(duplicate_of),
        first_seen_at=_aware(datetime.fromisoformat(str(first_seen))), content_hash=str(digest),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
