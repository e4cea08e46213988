"""The job ledger: every article job the daemon accepted, until the index or a dead letter has it.

A durable record kept by the daemon, in its own SQLite file (`ledger.sqlite3` in the data
directory), in both modes. Never talks to workers, queues or the index: it is told what was
handed off (`record`), what ended (`mark`), and answers what is overdue and how many of each.

Why SQLite in both modes: the broker cannot prove nothing was lost (DESIGN "Pitfalls"), and
Debian's Redis keeps only RDB snapshots, so a Redis-held ledger would need `appendonly yes` on
every deployment to mean anything. A SQLite file written with `synchronous = FULL` survives a
crash of the daemon, of Redis and of the machine once `record()` has returned, and the daemon
hands a job off only after that. Workers never open this file: standalone, the daemon's
storing thread calls `mark()`; distributed, workers push their marks to a Redis list that the
daemon folds in (`ingest/reconcile.py`). Losing such a mark (Redis restarted without AOF) only
makes the reconciler check the index and re-enqueue a job that was in fact done, which the
idempotent document ids make harmless. Loss window: none for accepted jobs.

The payload (the job's JSON, zlib-compressed) is kept until the job is done, for re-enqueueing;
done and dead rows are pruned after a retention period, so the file stays bounded.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ingest.errors import IngestError
from ingest.jobs import ArticleJob

LEDGER_FILE = "ledger.sqlite3"

Outcome = Literal["done", "dead"]
# What a worker reports about one job: (job_id, outcome, detail): detail is the doc id when known,
# or a dead letter's reason. The same tuple crosses Redis as a JSON list.
Mark = tuple[str, Outcome, str | None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    accepted_at REAL NOT NULL,      -- unix seconds, first hand-off
    sent_at REAL NOT NULL,          -- unix seconds, latest hand-off (re-enqueues move it)
    sends INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'pending',  -- pending | done | dead
    detail TEXT,                    -- doc id (done) or reason (dead)
    ended_at REAL,
    payload BLOB                    -- zlib(JSON job); dropped once the job ends
);
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (state, sent_at);
CREATE INDEX IF NOT EXISTS jobs_ended ON jobs (ended_at);
"""


class LedgerError(IngestError):
    """The ledger file cannot be read or written: `ledger error (<action>): <cause> (<path>)`."""

    def __init__(self, action: str, reason: str, path: str) -> None:
        super().__init__(action, reason, path)
        self.action, self.reason, self.path = action, reason, path

    def __str__(self) -> str:
        return f"ledger error ({self.action}): {self.reason} ({self.path})"


@dataclass(frozen=True)
class Overdue:
    """A job handed off long enough ago that it should have ended: the reconciler's work item."""

    job_id: str
    source: str
    url: str
    sends: int
    message: dict[str, Any]  # the job as handed off


@dataclass(frozen=True)
class AuditCounts:
    accepted: int = 0
    done: int = 0
    dead: int = 0
    pending: int = 0  # handed off recently: still in the queue or being processed
    missing: int = 0  # handed off longer ago than the timeout and not ended

    def __add__(self, other: AuditCounts) -> AuditCounts:
        return AuditCounts(*(a + b for a, b in zip(_fields(self), _fields(other), strict=True)))

    def behind_backlog(self, queued_batches: int) -> AuditCounts:
        """These counts while the queue still holds batches: a job past the timeout may be waiting
        in it, not lost, so it counts as pending. The reconciler judges it the same way: only once it
        has seen the queue empty after the job's hand-off (ingest/reconcile.py)."""
        if queued_batches <= 0 or not self.missing:
            return self
        return replace(self, pending=self.pending + self.missing, missing=0)


def _fields(counts: AuditCounts) -> tuple[int, ...]:
    return (counts.accepted, counts.done, counts.dead, counts.pending, counts.missing)


class JobLedger:
    """The ledger file. Thread-safe: the event loop's threads and the storing thread share it."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._errors("open"):
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 10000")
            self._conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a commit is on disk before record() returns, so a job is never handed off unrecorded.
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.executescript(_SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> JobLedger:
        return cls(data_dir / LEDGER_FILE)

    def record(self, jobs: Sequence[ArticleJob], now: float | None = None) -> None:
        """Durably note jobs about to be handed off (a job recorded again keeps its first acceptance)."""
        at = time.time() if now is None else now
        rows = [(j.job_id, j.source.name, j.url, at, at, _pack(j.to_message())) for j in jobs]
        with self._transaction("record jobs"):
            self._conn.executemany(
                "INSERT OR IGNORE INTO jobs (job_id, source, url, accepted_at, sent_at, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def mark(self, marks: Sequence[Mark], now: float | None = None) -> int:
        """Record how jobs ended; returns how many pending jobs this ended. Unknown ids are ignored
        (a job recorded by another ledger), and an ended job stays as it first ended."""
        if not marks:
            return 0
        at = time.time() if now is None else now
        with self._transaction("mark jobs"):
            before = self._conn.total_changes
            self._conn.executemany(
                "UPDATE jobs SET state = ?, detail = ?, ended_at = ?, payload = NULL"
                " WHERE job_id = ? AND state = 'pending'",
                [(outcome, detail, at, job_id) for job_id, outcome, detail in marks],
            )
            return self._conn.total_changes - before

    def overdue(self, timeout_s: float, limit: int = 500, now: float | None = None) -> list[Overdue]:
        """Pending jobs last handed off more than timeout_s ago, oldest first."""
        ceiling = (time.time() if now is None else now) - timeout_s
        with self._errors("read overdue jobs"), self._lock:
            rows = self._conn.execute(
                "SELECT job_id, source, url, sends, payload FROM jobs"
                " WHERE state = 'pending' AND sent_at < ? ORDER BY sent_at LIMIT ?",
                (ceiling, limit),
            ).fetchall()
        return [Overdue(r[0], r[1], r[2], int(r[3]), _unpack(r[4])) for r in rows]

    def resent(self, job_ids: Sequence[str], now: float | None = None) -> None:
        """Note jobs re-enqueued by the reconciler (their clock restarts, their send count grows)."""
        at = time.time() if now is None else now
        with self._transaction("note re-enqueued jobs"):
            self._conn.executemany(
                "UPDATE jobs SET sent_at = ?, sends = sends + 1 WHERE job_id = ? AND state = 'pending'",
                [(at, job_id) for job_id in job_ids],
            )

    def audit(self, timeout_s: float, now: float | None = None) -> dict[str, AuditCounts]:
        """Counts per source (every job the ledger still holds: ended ones until pruned)."""
        ceiling = (time.time() if now is None else now) - timeout_s
        with self._errors("audit"), self._lock:
            rows = self._conn.execute(
                "SELECT source, count(*),"
                " sum(state = 'done'), sum(state = 'dead'),"
                " sum(state = 'pending' AND sent_at >= ?), sum(state = 'pending' AND sent_at < ?)"
                " FROM jobs GROUP BY source ORDER BY source",
                (ceiling, ceiling),
            ).fetchall()
        return {r[0]: AuditCounts(*(int(v or 0) for v in r[1:])) for r in rows}

    def oldest_pending_at(self) -> float | None:
        with self._errors("read oldest pending job"), self._lock:
            row = self._conn.execute("SELECT min(sent_at) FROM jobs WHERE state = 'pending'").fetchone()
        return None if row[0] is None else float(row[0])

    def prune(self, retention_s: float, now: float | None = None) -> int:
        """Forget jobs that ended more than retention_s ago; returns how many."""
        ceiling = (time.time() if now is None else now) - retention_s
        with self._transaction("prune ended jobs"):
            cursor = self._conn.execute("DELETE FROM jobs WHERE state != 'pending' AND ended_at < ?", (ceiling,))
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self, action: str) -> Iterator[None]:
        with self._errors(action), self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise LedgerError(action, f"{type(exc).__name__}: {exc}", self.path) from exc


def _pack(message: dict[str, Any]) -> bytes:
    # Level 1: twice as fast as 6 on a page, about 10% bigger; this runs for every accepted job.
    return zlib.compress(json.dumps(message, separators=(",", ":")).encode("utf-8"), 1)


def _unpack(payload: bytes | None) -> dict[str, Any]:
    if payload is None:
        return {}
    data: dict[str, Any] = json.loads(zlib.decompress(payload))
    return data


def marks_key(prefix: str) -> str:
    """The Redis list workers push marks to and the daemon pops them from."""
    return f"{prefix}ledger:marks"


def parse_marks(raw: Sequence[bytes | str]) -> list[Mark]:
    """Marks as workers push them to Redis (JSON `[job_id, outcome, detail]`); malformed ones dropped."""
    marks: list[Mark] = []
    for item in raw:
        try:
            job_id, outcome, detail = json.loads(item)
        except (ValueError, TypeError):
            continue
        if isinstance(job_id, str) and outcome in ("done", "dead"):
            marks.append((job_id, outcome, detail if isinstance(detail, str) else None))
    return marks
