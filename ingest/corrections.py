"""Corrections: the daemon fetches each article again at set ages (1 h and 24 h after it was first handed
off, by default), so a publisher's later edits reach the index as new versions.

The queue of articles awaiting a re-check is its own SQLite file in the data directory
(`rechecks.sqlite3`, both modes, beside the ledger), so a restart keeps every pending re-check; a row
holds what a re-fetch needs besides the page (the source's name and the feed entry) and what the
page was last time: its validators (ETag, Last-Modified) for a conditional GET, and a hash of its
text. Most pages never change, and such a re-check ends in the daemon (a 304, or the same text):
it costs the workers nothing. A page that did change goes to the workers as an ordinary job: the
index adapters' revision rule makes a changed text or title a new version, with `first_seen_at`
kept (and a change in markup only, no new version).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.client import conditional_headers
from ingest.jobs import ArticleJob, FeedEntry

RECHECKS_FILE = "rechecks.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rechecks (
    url TEXT PRIMARY KEY,            -- the entry's link: what is fetched again
    source TEXT NOT NULL,
    first_at REAL NOT NULL,          -- unix seconds, first hand-off
    stage INTEGER NOT NULL,          -- index into the configured ages of the next re-check
    due_at REAL NOT NULL,
    entry TEXT NOT NULL,             -- the feed entry (JSON), for the metadata only the feed gave
    etag TEXT,                       -- the page's validators when last fetched (conditional GET)
    last_modified TEXT,
    text_sha256 TEXT                 -- hash of the page's text when last fetched
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rechecks_due ON rechecks (due_at);
"""
# Queues written before the page's validators and hash were kept gain the columns (empty: such a
# row's next re-check is handed off, as it was then).
_ADDED_COLUMNS = ("etag TEXT", "last_modified TEXT", "text_sha256 TEXT")


@dataclass(frozen=True)
class Recheck:
    url: str
    source: str
    first_at: float
    stage: int
    entry: FeedEntry
    etag: str | None = None
    last_modified: str | None = None
    text_sha256: str | None = None

    def validators(self) -> dict[str, str]:
        """Conditional GET headers from the last fetch: a 304 means the page is as it was."""
        return conditional_headers(self.etag, self.last_modified)

    def unchanged(self, page: ArticleJob) -> bool:
        """Whether a re-fetched page is the one seen last time (a 304, or the same text)."""
        return page.status == 304 or (self.text_sha256 is not None and text_sha256(page) == self.text_sha256)


def text_sha256(job: ArticleJob) -> str:
    return hashlib.sha256(job.html.encode("utf-8", "surrogatepass")).hexdigest()


def _seen_as(job: ArticleJob) -> tuple[str | None, str | None, str]:
    return job.headers.etag, job.headers.last_modified, text_sha256(job)


class RecheckQueue:
    """Articles awaiting a re-check, by due time. Called from the daemon's loop through a thread."""

    def __init__(self, path: Path, ages_s: Sequence[float]) -> None:
        self._ages = tuple(ages_s)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        present = {row[1] for row in self._db.execute("PRAGMA table_info(rechecks)")}
        for column in _ADDED_COLUMNS:
            if column.split()[0] not in present:
                self._db.execute(f"ALTER TABLE rechecks ADD COLUMN {column}")

    @classmethod
    def in_data_dir(cls, data_dir: Path, ages_s: Sequence[float]) -> RecheckQueue:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir / RECHECKS_FILE, ages_s)

    def add(self, jobs: Sequence[ArticleJob], now: float) -> None:
        """Queue the first re-check of each newly handed-off article (one already queued keeps its place)."""
        rows = [
            (job.entry.link, job.source.name, now, 0, now + self._ages[0], job.entry.model_dump_json(), *_seen_as(job))
            for job in jobs
            if job.entry is not None and self._ages
        ]
        if rows:
            with self._lock:
                self._db.executemany("INSERT OR IGNORE INTO rechecks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def due(self, now: float, limit: int) -> list[Recheck]:
        with self._lock:
            rows = self._db.execute(
                "SELECT url, source, first_at, stage, entry, etag, last_modified, text_sha256 FROM rechecks "
                "WHERE due_at <= ? ORDER BY due_at LIMIT ?",
                (now, limit),
            ).fetchall()
        return [
            Recheck(url, source, first_at, stage, FeedEntry.model_validate(json.loads(entry)), etag, modified, sha)
            for url, source, first_at, stage, entry, etag, modified, sha in rows
        ]

    def advance(self, done: Sequence[Recheck], changed: Sequence[ArticleJob] = ()) -> None:
        """Each re-check is done (fetched or not): queue the next age, or forget the article after the last.
        `changed`: pages handed off as new versions; the next re-check compares with them."""
        later = [(r.stage + 1, r.first_at + self._ages[r.stage + 1], r.url) for r in done if r.stage + 1 < len(self._ages)]
        finished = [(r.url,) for r in done if r.stage + 1 >= len(self._ages)]
        seen = [(*_seen_as(job), job.entry.link) for job in changed if job.entry is not None]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("UPDATE rechecks SET stage = ?, due_at = ? WHERE url = ?", later)
            self._db.executemany("UPDATE rechecks SET etag = ?, last_modified = ?, text_sha256 = ? WHERE url = ?", seen)
            self._db.executemany("DELETE FROM rechecks WHERE url = ?", finished)
            self._db.execute("COMMIT")

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM rechecks").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
