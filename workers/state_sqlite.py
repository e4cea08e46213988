"""SqliteStoryState: the standalone adapter of the pipeline's shared state, in the one SQLite file.

Exact-text claims (delegated to workers.index.sqlite's `dedupe` table), the near-duplicate LSH index and
per-site line sightings for learned boilerplate. Used only by the process that owns the file (settled
decision 5), so each call is one short transaction. Never decides what a duplicate is (workers.neardup).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from ingest.settings import DedupeSettings
from workers.errors import TransientError
from workers.index.sqlite import SqliteDedupeStore
from workers.neardup import band_keys, from_hex, similarity, to_hex
from workers.ports import StoryMatch, StoryRemoval

SCHEMA_COMPONENT = "workers.state"
SCHEMA_VERSION = 1
# Expired rows are deleted at most this often: pruning on every article would cost a scan each time.
PRUNE_EVERY_S = 60.0

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
-- seq orders admissions: a document can only copy one admitted before it.
CREATE TABLE IF NOT EXISTS neardup_docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL UNIQUE,
    cluster_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS neardup_docs_seen ON neardup_docs (seen_at);
CREATE TABLE IF NOT EXISTS neardup_bands (
    band TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (band, doc_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS neardup_bands_seen ON neardup_bands (seen_at);
CREATE TABLE IF NOT EXISTS boilerplate_sightings (
    domain TEXT NOT NULL,
    line_key TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (domain, line_key, doc_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS boilerplate_sightings_seen ON boilerplate_sightings (seen_at);
INSERT OR IGNORE INTO schema_version (component, version) VALUES ('{SCHEMA_COMPONENT}', {SCHEMA_VERSION});
"""


class SqliteStoryState:
    """StoryState over SQLite tables beside the index. Not thread-safe: one owner calls it."""

    def __init__(self, conn: sqlite3.Connection, settings: DedupeSettings | None = None) -> None:
        self._conn = conn
        self._settings = settings or DedupeSettings()
        self._exact = SqliteDedupeStore(conn)
        self._pruned_at = float("-inf")
        with _transient_on_sqlite_errors("create state schema"):
            conn.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nCOMMIT;")

    def claim(self, content_hash: str, doc_id: str) -> str:
        return self._exact.claim(content_hash, doc_id)

    def admit(self, doc_id: str, signature: Sequence[int], exact_holder: str | None, now: datetime) -> StoryMatch:
        settings = self._settings
        moment = now.timestamp()
        bands = band_keys(signature, settings.near_duplicate_threshold)
        with _transient_on_sqlite_errors("near-duplicate admit"), self._transaction():
            self._prune(moment)
            row = self._conn.execute("SELECT seq FROM neardup_docs WHERE doc_id = ?", (doc_id,)).fetchone()
            seq = int(row[0]) if row else None
            match = self._match(doc_id, seq, signature, bands, exact_holder, moment)
            if seq is None:
                self._conn.execute(
                    "INSERT INTO neardup_docs (doc_id, cluster_id, signature, seen_at) VALUES (?, ?, ?, ?)",
                    (doc_id, match.cluster_id, to_hex(signature), moment),
                )
            else:
                self._conn.execute(
                    "UPDATE neardup_docs SET cluster_id = ?, signature = ?, seen_at = ? WHERE seq = ?",
                    (match.cluster_id, to_hex(signature), moment, seq),
                )
            self._conn.executemany(
                "INSERT INTO neardup_bands (band, doc_id, seen_at) VALUES (?, ?, ?)"
                " ON CONFLICT (band, doc_id) DO UPDATE SET seen_at = excluded.seen_at",
                [(band, doc_id, moment) for band in bands],
            )
        return match

    def _match(
        self,
        doc_id: str,
        seq: int | None,
        signature: Sequence[int],
        bands: list[str],
        exact_holder: str | None,
        moment: float,
    ) -> StoryMatch:
        if exact_holder and exact_holder != doc_id:
            row = self._conn.execute(
                "SELECT cluster_id FROM neardup_docs WHERE doc_id = ?", (exact_holder,)
            ).fetchone()
            cluster = str(row[0]) if row else exact_holder
            return _story(doc_id, cluster, exact_holder, 1.0)
        placeholders = ",".join("?" * len(bands))
        horizon = moment - self._settings.near_duplicate_window_s
        rows = self._conn.execute(
            f"""SELECT DISTINCT d.seq, d.doc_id, d.cluster_id, d.signature
                FROM neardup_bands b JOIN neardup_docs d ON d.doc_id = b.doc_id
                WHERE b.band IN ({placeholders}) AND b.seen_at >= ? AND d.doc_id != ?""",
            (*bands, horizon, doc_id),
        ).fetchall()
        best: tuple[float, int, str, str] | None = None
        for other_seq, other_id, cluster, other_signature in rows:
            if seq is not None and other_seq > seq:
                continue  # admitted after this document: it may copy us, never the other way round
            score = similarity(signature, from_hex(other_signature))
            if score < self._settings.near_duplicate_threshold:
                continue
            if best is None or (score, -other_seq) > (best[0], -best[1]):
                best = (score, other_seq, other_id, cluster)
        if best is None:
            return StoryMatch(cluster_id=doc_id)
        return _story(doc_id, best[3], best[2], best[0])

    def observe(self, domain: str, doc_id: str, line_keys: Collection[str], now: datetime) -> frozenset[str]:
        if not line_keys or not domain:
            return frozenset()
        moment = now.timestamp()
        horizon = moment - self._settings.boilerplate_window_s
        keys = sorted(line_keys)
        with _transient_on_sqlite_errors("boilerplate count"), self._transaction():
            self._prune(moment)
            self._conn.executemany(
                "INSERT INTO boilerplate_sightings (domain, line_key, doc_id, seen_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (domain, line_key, doc_id) DO UPDATE SET seen_at = excluded.seen_at",
                [(domain, key, doc_id, moment) for key in keys],
            )
            placeholders = ",".join("?" * len(keys))
            rows = self._conn.execute(
                f"""SELECT line_key FROM boilerplate_sightings
                    WHERE domain = ? AND line_key IN ({placeholders}) AND seen_at >= ?
                    GROUP BY line_key HAVING count(*) >= ?""",
                (domain, *keys, horizon, self._settings.boilerplate_min_documents),
            ).fetchall()
        return frozenset(str(key) for (key,) in rows)

    def forget(self, removal: StoryRemoval) -> int:
        """StoryForgetting: removed documents' records and claims go; remaining ones move story."""
        threshold = self._settings.near_duplicate_threshold
        forgotten = 0
        with _transient_on_sqlite_errors("forget documents"), self._transaction():
            for start in range(0, len(removal.forgotten), 500):
                chunk = removal.forgotten[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT doc_id, signature FROM neardup_docs WHERE doc_id IN ({marks})", chunk
                ).fetchall()
                self._conn.executemany(
                    "DELETE FROM neardup_bands WHERE band = ? AND doc_id = ?",
                    [(band, doc_id) for doc_id, sig in rows for band in band_keys(from_hex(sig), threshold)],
                )
                self._conn.execute(f"DELETE FROM neardup_docs WHERE doc_id IN ({marks})", chunk)
                forgotten += len(rows)
            for digest, holder, successor in removal.claims:
                if successor is None:
                    statement = "DELETE FROM dedupe WHERE content_hash = ? AND doc_id = ?"
                    forgotten += self._conn.execute(statement, (digest, holder)).rowcount
                else:
                    statement = "UPDATE dedupe SET doc_id = ? WHERE content_hash = ? AND doc_id = ?"
                    forgotten += self._conn.execute(statement, (successor, digest, holder)).rowcount
            self._conn.executemany(
                "UPDATE neardup_docs SET cluster_id = ? WHERE doc_id = ?",
                [(cluster, doc_id) for doc_id, cluster in removal.clusters],
            )
        return forgotten

    def _prune(self, moment: float) -> None:
        if moment - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = moment
        near = moment - self._settings.near_duplicate_window_s
        self._conn.execute("DELETE FROM neardup_docs WHERE seen_at < ?", (near,))
        self._conn.execute("DELETE FROM neardup_bands WHERE seen_at < ?", (near,))
        self._conn.execute(
            "DELETE FROM boilerplate_sightings WHERE seen_at < ?", (moment - self._settings.boilerplate_window_s,)
        )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")


def _story(doc_id: str, cluster: str, matched: str, score: float) -> StoryMatch:
    # A document whose match already points back at it (it was admitted after its own copy) heads its story.
    if cluster == doc_id:
        return StoryMatch(cluster_id=doc_id)
    return StoryMatch(cluster_id=cluster, duplicate_of=matched, similarity=score)


@contextmanager
def _transient_on_sqlite_errors(action: str) -> Iterator[None]:
    """A locked or full database may work on a retry: TransientError, with the cause chained."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise TransientError(f"sqlite {action} failed: {exc}") from exc
