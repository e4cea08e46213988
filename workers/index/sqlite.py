"""Standalone adapters over one SQLite file: the searchable index (FTS5), dead letters and dedupe claims.

The file is written by one process (settled decision 5); WAL lets readers run beside it. Never talks to
a network; never raises an FTS syntax error for what a person typed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.logs import get_logger
from workers.documents import Article, DeadLetter
from workers.errors import IndexUnavailable, ProcessingError
from workers.index.mapping import dead_letter_id
from workers.ports import IndexOutcome, SearchHit, SearchQuery

log = get_logger(__name__)

SCHEMA_COMPONENT = "workers.index"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5_000
# Column weights of bm25(), in FTS column order (title, text, summary): title^3 as in Elasticsearch.
_BM25 = "bm25(articles_fts, 3.0, 1.0, 1.0)"
# A search box, not a query language: enough words for any real query, bounded cost for any input.
MAX_QUERY_TERMS = 32
_WORD = re.compile(r"\w+")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS schema_version (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
-- pk is an explicit INTEGER PRIMARY KEY because FTS5 links rows by rowid, and VACUUM may
-- renumber implicit rowids; `id` (the document id) is the key everything else uses.
CREATE TABLE IF NOT EXISTS articles (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    cluster_id TEXT NOT NULL,
    source TEXT NOT NULL,
    language TEXT,
    published_at TEXT,  -- ISO 8601 in UTC, so text order is time order
    document TEXT NOT NULL,
    -- The full text lives once, in the JSON; FTS5 reads it through these virtual columns.
    title TEXT GENERATED ALWAYS AS (json_extract(document, '$.title')) VIRTUAL,
    text TEXT GENERATED ALWAYS AS (json_extract(document, '$.text')) VIRTUAL,
    summary TEXT GENERATED ALWAYS AS (json_extract(document, '$.summary')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS articles_cluster ON articles (cluster_id);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published_at);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
    title, text, summary, content='articles', content_rowid='pk'
);
-- Triggers keep the external-content FTS table in step with every write to `articles`.
CREATE TRIGGER IF NOT EXISTS articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, text, summary)
    VALUES (new.pk, new.title, new.text, new.summary);
END;
CREATE TRIGGER IF NOT EXISTS articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text, summary)
    VALUES ('delete', old.pk, old.title, old.text, old.summary);
END;
CREATE TRIGGER IF NOT EXISTS articles_fts_update AFTER UPDATE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text, summary)
    VALUES ('delete', old.pk, old.title, old.text, old.summary);
    INSERT INTO articles_fts (rowid, title, text, summary)
    VALUES (new.pk, new.title, new.text, new.summary);
END;
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    failed_at TEXT NOT NULL,  -- ISO 8601 in UTC
    letter TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_failed_at ON dead_letters (failed_at);
CREATE TABLE IF NOT EXISTS dedupe (
    content_hash TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL
);
INSERT OR IGNORE INTO schema_version (component, version) VALUES ('{SCHEMA_COMPONENT}', {SCHEMA_VERSION});
"""

# ON CONFLICT DO UPDATE, never INSERT OR REPLACE: REPLACE deletes the old row without firing the
# delete trigger (recursive_triggers is off), which would leave stale terms in the FTS index.
_UPSERT_ARTICLE = """
INSERT INTO articles (id, cluster_id, source, language, published_at, document)
VALUES (:id, :cluster_id, :source, :language, :published_at, :document)
ON CONFLICT (id) DO UPDATE SET
    cluster_id = excluded.cluster_id,
    source = excluded.source,
    language = excluded.language,
    published_at = excluded.published_at,
    -- A re-crawl updates the document but not when it was first seen.
    document = json_set(
        excluded.document, '$.first_seen_at', json_extract(articles.document, '$.first_seen_at')
    )
"""


class SchemaError(ProcessingError):
    """The SQLite file was written by a newer newsingest: refuse rather than corrupt it."""


def open_database(path: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) the standalone database, in autocommit mode with WAL and a busy timeout.

    The connection may be handed between threads, but calls on it must not overlap: the one owning
    process serializes its writes (settled decision 5).
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we open transactions ourselves (see _transaction), never implicitly.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    # Safe with WAL (a crash loses at most the last commits, never consistency) and much faster.
    conn.execute("PRAGMA synchronous = NORMAL")
    ensure_schema(conn)
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the tables idempotently; refuse a file whose schema is newer than this code."""
    with _unavailable_on_sqlite_errors("create schema"):
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nCOMMIT;")
        except sqlite3.Error:
            # executescript stops at the failing statement and leaves our transaction open.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        row = conn.execute(
            "SELECT version FROM schema_version WHERE component = ?", (SCHEMA_COMPONENT,)
        ).fetchone()
    if int(row[0]) > SCHEMA_VERSION:
        raise SchemaError(
            f"the database schema is version {row[0]}, newer than this newsingest ({SCHEMA_VERSION}): upgrade"
        )


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, so busy_timeout applies here and not mid-batch.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def _unavailable_on_sqlite_errors(action: str) -> Iterator[None]:
    """Locked, full or unreadable database -> IndexUnavailable (transient), with the cause chained."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise IndexUnavailable(f"sqlite {action} failed: {exc}") from exc


def _utc_iso(moment: object) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):  # only a model_construct()ed article gets here
        raise ValueError(f"not a datetime: {moment!r}")
    # A naive time is taken as UTC, as everywhere else in the pipeline.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def fts_query(text: str) -> str | None:
    """A person's words as an FTS5 query: every word must match (AND), nothing is syntax.

    Each word is a quoted string, so `AND`, `NEAR`, `(`, `*`, `"` and `:` are plain text.
    Returns None when the text has no words at all.
    """
    terms = _WORD.findall(text)[:MAX_QUERY_TERMS]
    if not terms:
        return None
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


class SqliteIndex:
    """IndexBackend over the `articles` table and its FTS5 index, ranked by bm25 (title weighted 3)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def ensure_ready(self) -> None:
        ensure_schema(self._conn)

    def bulk_index(self, articles: Sequence[Article]) -> list[IndexOutcome]:
        outcomes: list[IndexOutcome] = []
        with _unavailable_on_sqlite_errors("bulk index"), _transaction(self._conn):
            for article in articles:
                outcomes.append(self._upsert(article))
        return outcomes

    def _upsert(self, article: Article) -> IndexOutcome:
        try:
            row = _article_row(article)
            self._conn.execute(_UPSERT_ARTICLE, row)
        except (ValueError, TypeError, sqlite3.IntegrityError) as exc:
            # One bad document is refused alone; its statement rolls back, the batch goes on.
            log.warning("sqlite_document_rejected", doc_id=article.id, error_type=type(exc).__name__)
            return IndexOutcome(article.id, "rejected", f"{type(exc).__name__}: {exc}")
        return IndexOutcome(article.id, "indexed")

    def search(self, query: SearchQuery) -> list[SearchHit]:
        if query.limit <= 0:
            return []
        with _unavailable_on_sqlite_errors("search"):
            if not query.text.strip():
                rows = self._newest(query)
            else:
                match = fts_query(query.text)
                rows = [] if match is None else self._matching(match, query)
        return [SearchHit(Article.model_validate_json(document), float(score)) for document, score in rows]

    def _filters(self, query: SearchQuery) -> tuple[str, dict[str, Any]]:
        clauses, params = [], {}
        if query.source is not None:
            clauses.append("a.source = :source")
            params["source"] = query.source
        if query.language is not None:
            clauses.append("a.language = :language")
            params["language"] = query.language
        return "".join(f" AND {clause}" for clause in clauses), params

    def _matching(self, match: str, query: SearchQuery) -> list[tuple[str, float]]:
        filters, params = self._filters(query)
        hits = f"""
            SELECT a.document AS document, a.id AS id, a.cluster_id AS cluster_id, -{_BM25} AS score
            FROM articles_fts JOIN articles AS a ON a.pk = articles_fts.rowid
            WHERE articles_fts MATCH :match{filters}
        """
        return self._ranked(hits, {"match": match, **params}, query, order="score DESC, id")

    def _newest(self, query: SearchQuery) -> list[tuple[str, float]]:
        # No words: newest first, as Elasticsearch's match_all sorted by published_at.
        filters, params = self._filters(query)
        hits = f"""
            SELECT a.document AS document, a.id AS id, a.cluster_id AS cluster_id,
                   a.published_at AS published_at, 0.0 AS score
            FROM articles AS a WHERE 1 = 1{filters}
        """
        return self._ranked(hits, params, query, order="published_at DESC NULLS LAST, id")

    def _ranked(
        self, hits: str, params: dict[str, Any], query: SearchQuery, order: str
    ) -> list[tuple[str, float]]:
        if query.collapse:
            # The best hit of each story (cluster_id), like Elasticsearch's field collapsing.
            hits = f"""
                SELECT * FROM (
                    SELECT *, ROW_NUMBER() OVER (
                        PARTITION BY cluster_id ORDER BY id = cluster_id DESC, {order}
                    ) AS nth
                    FROM ({hits})
                ) WHERE nth = 1
            """
        sql = f"SELECT document, score FROM ({hits}) ORDER BY {order} LIMIT :limit"
        rows = self._conn.execute(sql, {**params, "limit": query.limit}).fetchall()
        return [(str(document), float(score)) for document, score in rows]

    def get(self, doc_id: str) -> Article | None:
        with _unavailable_on_sqlite_errors("get"):
            row = self._conn.execute("SELECT document FROM articles WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else Article.model_validate_json(row[0])

    def count(self) -> int:
        with _unavailable_on_sqlite_errors("count"):
            (total,) = self._conn.execute("SELECT count(*) FROM articles").fetchone()
        return int(total)

    def refresh(self) -> None:
        """Nothing to do: a committed write is searchable at once (kept for parity with ElasticIndex)."""

    def close(self) -> None:
        # The connection belongs to whoever opened it (the dedupe and dead-letter stores share it).
        with _unavailable_on_sqlite_errors("optimize"):
            self._conn.execute("PRAGMA optimize")


def _article_row(article: Article) -> dict[str, Any]:
    """The row of one article; ValueError when its values do not fit (it bypassed validation)."""
    # warnings=False: a document that bypassed validation is judged by the checks below and the
    # table's constraints, like Elasticsearch's mapping judges it, not by a serializer warning.
    document = article.model_dump_json(warnings=False)
    return {
        "id": article.id,
        "cluster_id": article.cluster_id,
        "source": article.source,
        "language": article.language,
        "published_at": _utc_iso(article.published_at),
        "document": document,
    }


class SqliteDeadLetters:
    """DeadLetterStore over the `dead_letters` table; the same failure recorded twice is kept once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def record(self, letters: Sequence[DeadLetter]) -> None:
        rows = [
            (dead_letter_id(letter), _utc_iso(letter.failed_at), letter.model_dump_json()) for letter in letters
        ]
        with _unavailable_on_sqlite_errors("record dead letters"), _transaction(self._conn):
            self._conn.executemany(
                "INSERT OR REPLACE INTO dead_letters (id, failed_at, letter) VALUES (?, ?, ?)", rows
            )

    def recent(self, limit: int = 50) -> list[DeadLetter]:
        with _unavailable_on_sqlite_errors("read dead letters"):
            rows = self._conn.execute(
                "SELECT letter FROM dead_letters ORDER BY failed_at DESC, id LIMIT ?", (limit,)
            ).fetchall()
        return [DeadLetter.model_validate_json(letter) for (letter,) in rows]


class SqliteDedupeStore:
    """DedupeStore over the `dedupe` table: the first document to claim a content hash holds it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def claim(self, content_hash: str, doc_id: str) -> str:
        # INSERT OR IGNORE is atomic, and a holder is never replaced, so the SELECT after it
        # names the one winner even if another connection raced us.
        with _unavailable_on_sqlite_errors("dedupe claim"):
            self._conn.execute(
                "INSERT OR IGNORE INTO dedupe (content_hash, doc_id) VALUES (?, ?)", (content_hash, doc_id)
            )
            row = self._conn.execute(
                "SELECT doc_id FROM dedupe WHERE content_hash = ?", (content_hash,)
            ).fetchone()
        return str(row[0])
