"""Corrections: the daemon fetches each article again at set ages (1 h and 24 h after it was first handed
off, by default), so a publisher's later edits reach the index as new versions.

The queue of articles awaiting a re-check is its own SQLite file in the data directory
(`rechecks.sqlite3`, both modes, beside the ledger), so a restart keeps every pending re-check; a row
holds what a re-fetch needs besides the page (the source's name and the feed entry). A
re-fetched page goes to the workers as an ordinary job: the index adapters' revision rule makes an
unchanged page a no-op and a changed text or title a new version, with `first_seen_at` kept.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.jobs import ArticleJob, FeedEntry

RECHECKS_FILE = "rechecks.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rechecks (
    url TEXT PRIMARY KEY,            -- the entry's link: what is fetched again
    source TEXT NOT NULL,
    first_at REAL NOT NULL,          -- unix seconds, first hand-off
    stage INTEGER NOT NULL,          -- index into the configured ages of the next re-check
    due_at REAL NOT NULL,
    entry TEXT NOT NULL              -- the feed entry (JSON), for the metadata only the feed gave
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rechecks_due ON rechecks (due_at);
"""


@dataclass(frozen=True)
class Recheck:
    url: str
    source: str
    first_at: float
    stage: int
    entry: FeedEntry


class RecheckQueue:
    """Articles awaiting a re-check, by due time. Called from the daemon's loop through a thread."""

    def __init__(self, path: Path, ages_s: Sequence[float]) -> None:
        self._ages = tuple(ages_s)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: Path, ages_s: Sequence[float]) -> RecheckQueue:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir / RECHECKS_FILE, ages_s)

    def add(self, jobs: Sequence[ArticleJob], now: float) -> None:
        """Queue the first re-check of each newly handed-off article (one already queued keeps its place)."""
        rows = [
            (job.entry.link, job.source.name, now, 0, now + self._ages[0], job.entry.model_dump_json())
            for job in jobs
            if job.entry is not None and self._ages
        ]
        if rows:
            with self._lock:
                self._db.executemany("INSERT OR IGNORE INTO rechecks VALUES (?, ?, ?, ?, ?, ?)", rows)

    def due(self, now: float, limit: int) -> list[Recheck]:
        with self._lock:
            rows = self._db.execute(
                "SELECT url, source, first_at, stage, entry FROM rechecks WHERE due_at <= ? "
                "ORDER BY due_at LIMIT ?",
                (now, limit),
            ).fetchall()
        return [
            Recheck(url, source, first_at, stage, FeedEntry.model_validate(json.loads(entry)))
            for url, source, first_at, stage, entry in rows
        ]

    def advance(self, done: Sequence[Recheck]) -> None:
        """Each re-check is done (fetched or not): queue the next age, or forget the article after the last."""
        later = [(r.stage + 1, r.first_at + self._ages[r.stage + 1], r.url) for r in done if r.stage + 1 < len(self._ages)]
        finished = [(r.url,) for r in done if r.stage + 1 >= len(self._ages)]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("UPDATE rechecks SET stage = ?, due_at = ? WHERE url = ?", later)
            self._db.executemany("DELETE FROM rechecks WHERE url = ?", finished)
            self._db.execute("COMMIT")

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM rechecks").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
