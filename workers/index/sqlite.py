"""Standalone adapters over one SQLite file: the searchable index (FTS5), dead letters and dedupe claims.

The file is written by one process (settled decision 5); WAL lets readers run beside it. Never talks to
a network; never raises an FTS syntax error for what a person typed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from ingest.logs import get_logger
from workers.documents import Article, DeadLetter
from workers.errors import IndexUnavailable, InvalidQuery, ProcessingError, TransientError
from workers.index.mapping import dead_letter_id
from workers.index.revisions import STORED_FIELDS, Stored, next_revision
from workers.index import sqlite_removal as removal
from workers.ports import HIGHLIGHT_END, HIGHLIGHT_START, IndexOutcome, IndexStats, SearchHit, SearchQuery
from workers.ports import ClusterChange, DocumentRef, DocumentSelection, Tombstone

log = get_logger(__name__)

T = TypeVar("T")

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
-- Documents deleted for good (`newsingest delete`): a later fetch of one is dropped (workers.batch).
CREATE TABLE IF NOT EXISTS tombstones (
    doc_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    deleted_at TEXT NOT NULL,  -- ISO 8601 in UTC
    reason TEXT NOT NULL
);
INSERT OR IGNORE INTO schema_version (component, version) VALUES ('{SCHEMA_COMPONENT}', {SCHEMA_VERSION});
"""

# Fields the aggregations read, as columns generated from the document, so that an index can hold them:
# counting by first-seen day or by story then reads the index, never the JSON. Added to older files
# when they are opened (virtual columns: no rewrite of the table, only the indexes are built).
_GENERATED_COLUMNS = {
    "first_seen_at": "json_extract(document, '$.first_seen_at')",
    "duplicate_of": "json_extract(document, '$.duplicate_of')",
}
_AGGREGATION_INDEXES = (
    "CREATE INDEX IF NOT EXISTS articles_first_seen ON articles (first_seen_at, source)",
    # Serves every published_at range and order, and covers counting documents, copies and stories in one.
    "CREATE INDEX IF NOT EXISTS articles_published_story ON articles (published_at, cluster_id, duplicate_of)",
    "DROP INDEX IF EXISTS articles_published",  # the older, narrower index this one replaces
)

# A plain UPDATE, never INSERT OR REPLACE: REPLACE deletes the old row without firing the delete
# trigger (recursive_triggers is off), which would leave stale terms in the FTS index. The WHERE
# clause is the compare-and-set: it only overwrites the revision that was read.
_INSERT_ARTICLE = """
INSERT INTO articles (id, cluster_id, source, language, published_at, document)
VALUES (:id, :cluster_id, :source, :language, :published_at, :document)
"""
_UPDATE_ARTICLE = """
UPDATE articles SET cluster_id = :cluster_id, source = :source, language = :language,
    published_at = :published_at, document = :document
WHERE id = :id AND json_extract(document, '$.version') = :read_version
    AND json_extract(document, '$.fetched_at') = :read_fetched_at
"""
_READ_STORED = (
    "SELECT "
    + ", ".join(f"json_extract(document, '$.{name}')" for name in STORED_FIELDS)
    + " FROM articles WHERE id = ?"
)
# Filter name on SearchQuery -> SQL over `a` (articles), compared case-insensitively as in Elasticsearch.
_FILTERS = {
    "source": "lower(a.source) = lower(:source)",
    "language": "lower(a.language) = lower(:language)",
    "domain": "lower(json_extract(a.document, '$.domain')) = lower(:domain)",
    "tag": "EXISTS (SELECT 1 FROM json_each(a.document, '$.tags') WHERE lower(value) = lower(:tag))",
    "entity": "EXISTS (SELECT 1 FROM json_each(a.document, '$.entities') WHERE lower(value) = lower(:entity))",
    "story": "a.cluster_id = lower(:story)",  # ids are lower-case hex: the column's index stays usable
}
SNIPPET_CHARS = 200
EXPORT_PAGE_SIZE = 500


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
        if _missing_columns(conn) or not _has_indexes(conn):
            with _transaction(conn):
                # Asked again under the write lock: another process may have just added them.
                for name, sql in _missing_columns(conn).items():
                    conn.execute(f"ALTER TABLE articles ADD COLUMN {name} TEXT GENERATED ALWAYS AS ({sql}) VIRTUAL")
                for statement in _AGGREGATION_INDEXES:
                    conn.execute(statement)
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


def _missing_columns(conn: sqlite3.Connection) -> dict[str, str]:
    present = {str(column[1]) for column in conn.execute("PRAGMA table_xinfo(articles)")}
    return {name: sql for name, sql in _GENERATED_COLUMNS.items() if name not in present}


def _has_indexes(conn: sqlite3.Connection) -> bool:
    names = {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    return {"articles_first_seen", "articles_published_story"} <= names


@contextmanager
def _unavailable_on_sqlite_errors(action: str) -> Iterator[None]:
    """Locked, full or unreadable database -> IndexUnavailable (transient), with the cause chained."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if str(exc).startswith("fts5: ") or str(exc) == "unterminated string":
            # fts_query() quotes every word, so this is a bug of ours; still the asker's one line, not an outage.
            raise InvalidQuery("the search text could not be understood: use plain words") from exc
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
        """Upsert each article in one transaction: the newer fetch wins, first_seen_at is kept,
        changed content bumps `version` (see revisions.py)."""
        outcomes: list[IndexOutcome] = []
        with _unavailable_on_sqlite_errors("bulk index"), _transaction(self._conn):
            for article in articles:
                outcomes.append(self._upsert(article))
        return outcomes

    def _upsert(self, article: Article) -> IndexOutcome:
        # The transaction holds the write lock, so the compare-and-set below cannot lose; the loop
        # keeps it honest should another writer ever share the file.
        for _ in range(3):
            stored = self._read_stored(article.id)
            document = next_revision(stored, article)
            if document is None:
                return IndexOutcome(article.id, "skipped", "the index holds a newer fetch")
            try:
                row = _article_row(document)
                if stored is None:
                    self._conn.execute(_INSERT_ARTICLE, row)
                    return IndexOutcome(article.id, "indexed")
                written = self._conn.execute(
                    _UPDATE_ARTICLE,
                    {**row, "read_version": stored.version, "read_fetched_at": stored.fetched_at_text},
                ).rowcount
            except (ValueError, TypeError, sqlite3.IntegrityError) as exc:
                # One bad document is refused alone; its statement rolls back, the batch goes on.
                log.warning("sqlite_document_rejected", doc_id=article.id, error_type=type(exc).__name__)
                return IndexOutcome(article.id, "rejected", f"{type(exc).__name__}: {exc}")
            if written:
                return IndexOutcome(article.id, "indexed")
        raise TransientError(f"document {article.id} kept changing under us", article.url)

    def _read_stored(self, doc_id: str) -> _SqliteStored | None:
        row = self._conn.execute(_READ_STORED, (doc_id,)).fetchone()
        if row is None:
            return None
        source = dict(zip(STORED_FIELDS, row, strict=True))
        return _SqliteStored(**vars(Stored.from_source(source)), fetched_at_text=str(source["fetched_at"]))

    # -- reads

    def _where(self, query: SearchQuery) -> tuple[str, dict[str, Any]]:
        """SQL conditions over `a` for the query's filters and words (ANDed), and their parameters."""
        clauses, params = ["1 = 1"], {}
        for option, clause in _FILTERS.items():
            value = getattr(query, option)
            if value is not None:
                clauses.append(clause)
                params[option] = value
        if query.since is not None:
            clauses.append("a.published_at >= :since")
            params["since"] = _utc_iso(query.since)
        if query.until is not None:
            clauses.append("a.published_at < :until")
            params["until"] = _utc_iso(query.until)
        if query.text.strip():
            match = fts_query(query.text)
            if match is None:
                clauses.append("0 = 1")  # words were asked for, but none could be searched
            else:
                clauses.append("a.pk IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH :match)")
                params["match"] = match
        return " AND ".join(clauses), params

    def search(self, query: SearchQuery) -> list[SearchHit]:
        if query.limit <= 0:
            return []
        with _unavailable_on_sqlite_errors("search"):
            match = fts_query(query.text) if query.text.strip() else None
            if query.text.strip() and match is None:
                return []
            rows = self._ranked(query, match)
            snippets = self._snippets(match, [pk for pk, *_ in rows]) if match else {}
        return [
            SearchHit(
                article := Article.model_validate_json(document),
                float(score),
                snippet=snippets.get(pk) or _leading_snippet(article.text),
                copies=int(copies),
            )
            for pk, document, score, copies in rows
        ]

    def _ranked(self, query: SearchQuery, match: str | None) -> list[tuple[int, str, float, int]]:
        filters, params = self._where(replace(query, text=""))
        # Ranking and collapsing move only these small columns; the documents (kilobytes each) are read for
        # the one page of hits at the end: a blank search over 100,000 documents went from ~1.9 s to far less.
        if match is None:
            hits = f"""
                SELECT a.pk AS pk, a.id AS id, a.cluster_id AS cluster_id, a.published_at AS published_at, 0.0 AS score
                FROM articles AS a WHERE {filters}
            """
        else:
            hits = f"""
                SELECT a.pk AS pk, a.id AS id, a.cluster_id AS cluster_id,
                       a.published_at AS published_at, -{_BM25} AS score
                FROM articles_fts JOIN articles AS a ON a.pk = articles_fts.rowid
                WHERE articles_fts MATCH :match AND {filters}
            """
            params["match"] = match
        newest = match is None or query.sort == "newest"
        order = _hit_order(newest)
        if query.collapse:
            # The best hit of each story (cluster_id), like Elasticsearch's field collapsing; by relevance
            # the original wins, as its boost makes it win there.
            best = order if newest else f"id = cluster_id DESC, {order}"
            hits = f"""
                SELECT * FROM (
                    SELECT *, ROW_NUMBER() OVER (PARTITION BY cluster_id ORDER BY {best}) AS nth,
                              COUNT(*) OVER (PARTITION BY cluster_id) AS copies
                    FROM ({hits})
                ) WHERE nth = 1
            """
        else:
            hits = f"SELECT *, 1 AS copies FROM ({hits})"
        page = f"SELECT pk, id, published_at, score, copies FROM ({hits}) ORDER BY {order} LIMIT :limit OFFSET :offset"
        sql = f"""SELECT hit.pk, a.document, hit.score, hit.copies FROM ({page}) AS hit
                  JOIN articles AS a ON a.pk = hit.pk ORDER BY {_hit_order(newest, "hit.")}"""
        rows = self._conn.execute(sql, {**params, "limit": query.limit, "offset": query.offset}).fetchall()
        return [(int(pk), str(document), float(score), int(copies)) for pk, document, score, copies in rows]

    def _snippets(self, match: str, pks: list[int]) -> dict[int, str]:
        """A highlighted passage of the text of each hit (only the hits shown: snippet() is not free)."""
        if not pks:
            return {}
        marks = ", ".join("?" for _ in pks)
        rows = self._conn.execute(
            f"SELECT rowid, snippet(articles_fts, 1, ?, ?, '…', 30) FROM articles_fts "
            f"WHERE articles_fts MATCH ? AND rowid IN ({marks})",
            (HIGHLIGHT_START, HIGHLIGHT_END, match, *pks),
        ).fetchall()
        # A match only in the title or summary leaves the text without marks: a lead passage then.
        return {int(pk): " ".join(str(text).split()) for pk, text in rows if text and HIGHLIGHT_START in text}

    def stats(self, query: SearchQuery, top: int = 10) -> IndexStats:
        where, params = self._where(query)
        params["top"] = top
        with _unavailable_on_sqlite_errors("stats"):
            documents, duplicates, stories = self._conn.execute(
                f"""SELECT count(*), count(a.duplicate_of), count(DISTINCT a.cluster_id)
                    FROM articles AS a WHERE {where}""",
                params,
            ).fetchone()
            days = self._conn.execute(
                f"""SELECT substr(a.published_at, 1, 10) AS day, count(*) FROM articles AS a
                    WHERE {where} AND a.published_at IS NOT NULL GROUP BY day ORDER BY day""",
                params,
            ).fetchall()

            def terms(column: str) -> tuple[tuple[str, int], ...]:
                rows = self._conn.execute(
                    f"""SELECT {column} AS term, count(*) AS n FROM articles AS a WHERE {where} AND term IS NOT NULL
                        GROUP BY term ORDER BY n DESC, term LIMIT :top""",
                    params,
                ).fetchall()
                return tuple((str(term), int(n)) for term, n in rows)

            def each(field: str) -> tuple[tuple[str, int], ...]:
                rows = self._conn.execute(
                    f"""SELECT j.value AS term, count(*) AS n
                        FROM articles AS a, json_each(a.document, '$.{field}') AS j WHERE {where}
                        GROUP BY term ORDER BY n DESC, term LIMIT :top""",
                    params,
                ).fetchall()
                return tuple((str(term), int(n)) for term, n in rows)

            return IndexStats(
                documents=int(documents),
                duplicates=int(duplicates),
                per_day=_every_day(days),
                per_source=terms("a.source"),
                per_language=terms("a.language"),
                top_entities=each("entities"),
                top_keywords=each("keywords"),
                stories=int(stories),
            )

    def daily_per_source(self, since: datetime) -> dict[str, tuple[tuple[str, int], ...]]:
        with _unavailable_on_sqlite_errors("daily_per_source"):
            rows = self._conn.execute(
                """SELECT a.source, substr(a.first_seen_at, 1, 10) AS day, count(*) FROM articles AS a
                   WHERE a.first_seen_at >= :since GROUP BY a.source, day ORDER BY a.source, day""",
                {"since": since.astimezone(UTC).date().isoformat()},
            ).fetchall()
        found: dict[str, list[tuple[str, int]]] = {}
        for source, day, n in rows:
            found.setdefault(str(source), []).append((str(day), int(n)))
        return {source: tuple(days) for source, days in found.items()}

    def export(self, query: SearchQuery) -> Iterator[Article]:
        """Every matching document in insertion order, a page at a time (keyset on pk: constant memory)."""
        where, params = self._where(query)
        after = 0
        while True:
            with _unavailable_on_sqlite_errors("export"):
                rows = self._conn.execute(
                    f"SELECT a.pk, a.document FROM articles AS a WHERE {where} AND a.pk > :after "
                    "ORDER BY a.pk LIMIT :page",
                    {**params, "after": after, "page": EXPORT_PAGE_SIZE},
                ).fetchall()
            if not rows:
                return
            for _, document in rows:
                yield Article.model_validate_json(document)
            after = int(rows[-1][0])

    def get(self, doc_id: str) -> Article | None:
        with _unavailable_on_sqlite_errors("get"):
            row = self._conn.execute("SELECT document FROM articles WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else Article.model_validate_json(row[0])

    def count(self) -> int:
        with _unavailable_on_sqlite_errors("count"):
            (total,) = self._conn.execute("SELECT count(*) FROM articles").fetchone()
        return int(total)

    # -- removal (workers.removal; the SQL is in sqlite_removal.py)

    def set_clusters(self, changes: Sequence[ClusterChange]) -> int:
        return self._removal("set clusters", removal.set_clusters, changes, write=True)

    def tombstoned(self, doc_ids: Sequence[str]) -> frozenset[str]:
        return self._removal("read tombstones", removal.tombstoned, doc_ids)

    def add_tombstones(self, tombstones: Sequence[Tombstone]) -> None:
        self._removal("record tombstones", removal.add_tombstones, tombstones, write=True)

    def select_pages(self, selection: DocumentSelection, page_size: int) -> Iterator[list[DocumentRef]]:
        pages = removal.select_pages(self._conn, selection, page_size)
        while page := self._removal("select", lambda _conn, _arg: next(pages, None), None):
            yield page

    def references(self, doc_ids: Sequence[str]) -> list[DocumentRef]:
        return self._removal("read references", removal.references, doc_ids)

    def story_members(self, cluster_ids: Collection[str]) -> list[DocumentRef]:
        return self._removal("read stories", removal.story_members, cluster_ids)

    def delete(self, doc_ids: Sequence[str]) -> int:
        return self._removal("delete", removal.delete, doc_ids, write=True)

    def _removal(self, action: str, step: Callable[[sqlite3.Connection, Any], T], arg: Any, write: bool = False) -> T:
        """One step on the connection, a write in its own short transaction; errors -> IndexUnavailable."""
        with _unavailable_on_sqlite_errors(action), _transaction(self._conn) if write else nullcontext():
            return step(self._conn, arg)

    def refresh(self) -> None:
        """Nothing to do: a committed write is searchable at once (kept for parity with ElasticIndex)."""

    def close(self) -> None:
        # The connection belongs to whoever opened it (the dedupe and dead-letter stores share it).
        with _unavailable_on_sqlite_errors("optimize"):
            self._conn.execute("PRAGMA optimize")


@dataclass(frozen=True)
class _SqliteStored(Stored):
    fetched_at_text: str = ""  # as stored, for the compare-and-set


def _hit_order(newest: bool, table: str = "") -> str:
    """ORDER BY terms of the hits: newest first, or best score first; the id breaks ties either way."""
    if newest:
        return f"{table}published_at DESC NULLS LAST, {table}id"
    return f"{table}score DESC, {table}id"


def _leading_snippet(text: str) -> str:
    """The opening of the text, cut at a word: the snippet when no word of the query is in the text."""
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    return flat[:SNIPPET_CHARS].rsplit(" ", 1)[0]


def _every_day(days: list[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """Per-day counts from the first day to the last, empty days included (as date_histogram does)."""
    if not days:
        return ()
    counts = {day: int(n) for day, n in days}
    first, last = date.fromisoformat(days[0][0]), date.fromisoformat(days[-1][0])
    span = (last - first).days
    return tuple(
        ((first + timedelta(days=n)).isoformat(), counts.get((first + timedelta(days=n)).isoformat(), 0))
        for n in range(span + 1)
    )


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

    def all(self) -> list[tuple[str, DeadLetter]]:
        """Every dead letter with its id, newest first (DeadLetterArchive)."""
        with _unavailable_on_sqlite_errors("read dead letters"):
            rows = self._conn.execute("SELECT id, letter FROM dead_letters ORDER BY failed_at DESC, id").fetchall()
        return [(letter_id, DeadLetter.model_validate_json(letter)) for letter_id, letter in rows]

    def remove(self, letter_ids: Sequence[str]) -> int:
        with _unavailable_on_sqlite_errors("remove dead letters"), _transaction(self._conn):
            before = self._conn.total_changes
            self._conn.executemany("DELETE FROM dead_letters WHERE id = ?", [(i,) for i in letter_ids])
            return self._conn.total_changes - before


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
