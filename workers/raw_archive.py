"""The raw archive: the fetched page of every indexed article, kept so a better extractor can run again.

Bodies are content-addressed: `blobs/ab/<sha256>.zst` holds one page's bytes (the job's HTML as
UTF-8), zstd-compressed, written once however many documents or fetches share it. `index.sqlite3`
beside them records which document was fetched as which body, with the rest of its job (headers,
source snapshot, feed entry), so a page can be turned back into the job that first delivered it; and
every body's raw and stored size, which is the archive's size accounting.

The folder is the store: a local path when standalone, a path every worker shares when distributed (the
index is SQLite in WAL mode, so the filesystem must give SQLite working locks: a local disk or a
cluster filesystem, not NFS without locks). Writes are atomic (a temporary file renamed into place), so
a crash leaves a complete body or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zstandard

from ingest.jobs import ArticleJob
from ingest.redact import redact

if TYPE_CHECKING:
    from ingest.settings import Settings

INDEX_FILE = "index.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY,
    raw_bytes INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    source TEXT NOT NULL,
    job TEXT NOT NULL,
    PRIMARY KEY (doc_id, sha256)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pages_by_body ON pages (sha256);
CREATE INDEX IF NOT EXISTS pages_by_source ON pages (source, doc_id);
"""
# Fields of the job kept in the index row: the page itself is the blob, and a replay gets a new job id.
_NOT_IN_ROW = {"html", "job_id"}


@dataclass(frozen=True)
class ArchiveUsage:
    documents: int  # distinct documents with at least one archived page
    pages: int  # (document, body) pairs: a document whose page changed has several
    bodies: int  # distinct bodies stored
    raw_bytes: int  # the bodies' size uncompressed
    stored_bytes: int  # what they take in blobs/ (compressed)
    index_bytes: int  # the index file, with its write-ahead log


@dataclass(frozen=True)
class Selection:
    """Which archived documents a reprocess covers: by the source and fetch time of their latest page."""

    source: str | None = None
    since: datetime | None = None


def _switch_to_wal(db: sqlite3.Connection, wait_s: float = 60.0) -> None:
    """PRAGMA journal_mode=WAL, waiting for other processes: on a new file, workers starting together race
    to switch it, and SQLite answers the loser "database is locked" at once, without its busy wait
    (seen in CI: the worker's batch failed)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class RawArchive:
    """One archive folder. Thread-safe: the standalone store thread and the CLI share one instance."""

    def __init__(self, root: Path, compression_level: int = 10) -> None:
        self.root = root
        self._level = compression_level
        (root / "blobs").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._folders: set[Path] = set()  # blob folders known to exist (a mkdir per body costs more than zstd)
        # Several worker processes may write at once: WAL, and a generous wait for the write lock.
        self._db = sqlite3.connect(root / INDEX_FILE, timeout=60, isolation_level=None, check_same_thread=False)
        _switch_to_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)  # its own transaction; IF NOT EXISTS makes racing workers harmless

    # -- writing --------------------------------------------------------------------------------

    def put(self, pages: Sequence[tuple[str, ArticleJob]]) -> int:
        """Archive each (doc_id, job)'s page; returns how many bodies were new. A page archived before
        for the same document only has its fetch time and job brought up to date."""
        bodies: dict[str, bytes] = {}
        rows = []
        for doc_id, job in pages:
            body = _encode(job.html)
            digest = hashlib.sha256(body).hexdigest()
            bodies.setdefault(digest, body)
            # Credentials in a feed or article URL (`?token=`, `user:pass@`) stay out of the archive, as they
            # stay out of dead letters; reprocess takes such a URL back from the indexed document.
            row = json.dumps(redact(job.model_dump(mode="json", exclude=_NOT_IN_ROW)), ensure_ascii=False)
            rows.append((doc_id, digest, job.fetched_at.astimezone(UTC).isoformat(), job.source.name, row))
        listed = self._listed(list(bodies))
        # A listed body whose file went missing (deleted by hand) is written again.
        new = [self._write_body(digest, body) for digest, body in bodies.items()
               if digest not in listed or not self._blob_path(digest).exists()]
        with self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO blobs (sha256, raw_bytes, stored_bytes) VALUES (?, ?, ?)", new)
            self._db.executemany(
                "INSERT INTO pages (doc_id, sha256, fetched_at, source, job) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (doc_id, sha256) DO UPDATE SET fetched_at = excluded.fetched_at, "
                "source = excluded.source, job = excluded.job WHERE excluded.fetched_at >= pages.fetched_at",
                rows,
            )
        return len(new)

    def _listed(self, digests: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(digests, 500):
            with self._lock:
                found.update(row[0] for row in self._db.execute(
                    f"SELECT sha256 FROM blobs WHERE sha256 IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def _write_body(self, digest: str, body: bytes) -> tuple[str, int, int]:
        """Compress and write one body file; returns its blobs row. The file is in place before any row
        names it, so a crash in between leaves an unlisted file (written again later), never a listed gap."""
        path = self._blob_path(digest)
        stored = zstandard.ZstdCompressor(level=self._level).compress(body)
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        # Two workers storing the same body race harmlessly: each renames a complete file into place.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(stored)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return digest, len(body), len(stored)

    def forget(self, doc_ids: Sequence[str]) -> int:
        """Remove these documents' pages, and every body no other document still uses; returns the number
        of pages removed."""
        removed, orphans = 0, []
        with self._transaction():
            for chunk in _chunks(list(doc_ids), 500):
                marks = ",".join("?" * len(chunk))
                bodies = [row[0] for row in self._db.execute(
                    f"SELECT DISTINCT sha256 FROM pages WHERE doc_id IN ({marks})", chunk)]
                removed += self._db.execute(f"DELETE FROM pages WHERE doc_id IN ({marks})", chunk).rowcount
                for digest in bodies:
                    if self._db.execute("SELECT 1 FROM pages WHERE sha256 = ? LIMIT 1", (digest,)).fetchone() is None:
                        self._db.execute("DELETE FROM blobs WHERE sha256 = ?", (digest,))
                        orphans.append(digest)
        # Files go after the rows: a crash in between leaves an unlisted file, never a listed missing one.
        for digest in orphans:
            self._blob_path(digest).unlink(missing_ok=True)
        return removed

    # -- reading --------------------------------------------------------------------------------

    def latest(self, doc_ids: Sequence[str]) -> dict[str, ArticleJob]:
        """The newest archived page of each document, as a job (with a new job id) ready to process
        again; documents with no page in the archive are left out."""
        jobs: dict[str, ArticleJob] = {}
        for chunk in _chunks(list(doc_ids), 500):
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT doc_id, sha256, job FROM pages WHERE doc_id IN ({marks}) "
                    "ORDER BY doc_id, fetched_at DESC",
                    chunk,
                ).fetchall()
            for doc_id, digest, row in rows:
                if doc_id not in jobs:
                    jobs[doc_id] = ArticleJob.model_validate({**json.loads(row), "html": self.body(digest)})
        return jobs

    def body(self, digest: str) -> str:
        """One stored page as text; FileNotFoundError names the missing file."""
        with open(self._blob_path(digest), "rb") as handle:
            return _decode(zstandard.ZstdDecompressor().decompress(handle.read()))

    def select(self, selection: Selection, after: str = "", limit: int = 100) -> list[str]:
        """Document ids matching the selection, in id order, from just after `after` (resuming)."""
        where, values = self._where(selection)
        with self._lock:
            rows = self._db.execute(
                f"SELECT doc_id FROM pages WHERE doc_id > ? {where} GROUP BY doc_id ORDER BY doc_id LIMIT ?",
                (after, *values, limit),
            ).fetchall()
        return [row[0] for row in rows]

    def count(self, selection: Selection, after: str = "") -> int:
        where, values = self._where(selection)
        with self._lock:
            row = self._db.execute(
                f"SELECT COUNT(DISTINCT doc_id) FROM pages WHERE doc_id > ? {where}", (after, *values)
            ).fetchone()
        return int(row[0])

    def usage(self) -> ArchiveUsage:
        with self._lock:
            documents, pages = self._db.execute("SELECT COUNT(DISTINCT doc_id), COUNT(*) FROM pages").fetchone()
            bodies, raw, stored = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(raw_bytes), 0), COALESCE(SUM(stored_bytes), 0) FROM blobs"
            ).fetchone()
        index_bytes = sum(
            path.stat().st_size for path in self.root.glob(INDEX_FILE + "*") if path.is_file()
        )
        return ArchiveUsage(documents, pages, bodies, raw, stored, index_bytes)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- helpers --------------------------------------------------------------------------------

    def _blob_path(self, digest: str) -> Path:
        # One level of 256 folders: a million bodies make about 4,000 files a folder, which filesystems
        # handle well, and far fewer folders to create than two levels would.
        return self.root / "blobs" / digest[:2] / f"{digest}.zst"

    @staticmethod
    def _where(selection: Selection) -> tuple[str, tuple[Any, ...]]:
        clauses, values = [], []
        if selection.source is not None:
            clauses.append("AND source = ?")
            values.append(selection.source)
        if selection.since is not None:
            clauses.append("AND fetched_at >= ?")
            values.append(selection.since.isoformat())
        return " ".join(clauses), tuple(values)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


def open_archive(settings: Settings) -> RawArchive | None:
    """The configured archive, or None when it is turned off."""
    if not settings.archive.enabled:
        return None
    return RawArchive(settings.archive_path, settings.archive.compression_level)


def _encode(html: str) -> bytes:
    # surrogatepass: a lone surrogate from a feed's JSON survives the round trip instead of failing.
    return html.encode("utf-8", "surrogatepass")


def _decode(body: bytes) -> str:
    return body.decode("utf-8", "surrogatepass")


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
