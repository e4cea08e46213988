"""Tell the daemon's job ledger how each job of a batch ended: done (the index has it) or dead-lettered.

A batch that returns has ended every one of its jobs: indexed, skipped as older (the index holds
newer content: done), a duplicate (indexed too) or dead-lettered. A batch that raises has ended
none, and marks nothing. Two adapters of the JobMarks port: the daemon's ledger itself
(standalone, same process) and a Redis list the daemon folds in (`RedisJobMarks`). Never reads
the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import redis

from ingest.jobs import ArticleJob
from ingest.ledger import marks_key
from ingest.logs import get_logger
from workers.batch import BatchReport, store_prepared
from workers.documents import DeadLetter
from workers.pipeline import Draft
from workers.ports import DeadLetterStore, ExtractionHealthStore, IndexBackend, PageArchive, StoryState

log = get_logger(__name__)

Outcome = Literal["done", "dead"]
Mark = tuple[str, Outcome, str | None]  # (job_id, outcome, reason of a dead letter); as ingest/ledger.py


class JobMarks(Protocol):
    def mark(self, marks: Sequence[Mark]) -> Any:
        """Record how the jobs ended (idempotent: a job ends once, later marks are ignored)."""


class RedisJobMarks:
    """JobMarks on a Redis list (distributed): one RPUSH per batch."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client, self._key = client, marks_key(prefix)

    def mark(self, marks: Sequence[Mark]) -> None:
        if not marks:
            return
        try:
            self._client.rpush(self._key, *(json.dumps(list(m)) for m in marks))
        except redis.RedisError as exc:
            # Not retried: the work is done, and a lost mark only makes the reconciler check the index.
            log.warning("ledger_marks_unrecorded", error_type=type(exc).__name__, error=str(exc), jobs=len(marks))


class TrackingDeadLetters:
    """A DeadLetterStore that remembers which jobs it recorded, so their marks say "dead"."""

    def __init__(self, inner: DeadLetterStore) -> None:
        self._inner = inner
        self.reasons: dict[str, str] = {}

    def record(self, letters: Sequence[DeadLetter]) -> None:
        self._inner.record(letters)
        for letter in letters:
            self.reasons[letter.job_id] = f"{letter.stage}: {letter.reason}"

    def recent(self, limit: int = 50) -> list[DeadLetter]:
        return self._inner.recent(limit)


def job_ids_of(messages: Sequence[Any]) -> list[str]:
    """The job ids of a batch's messages (a message without one is not a job any ledger waits for)."""
    return [m["job_id"] for m in messages if isinstance(m, dict) and isinstance(m.get("job_id"), str)]


def batch_marks(job_ids: Sequence[str], dead: TrackingDeadLetters) -> list[Mark]:
    """One mark per job of a batch that returned: dead when it was dead-lettered, else done."""
    marks: list[Mark] = []
    for job_id in job_ids:
        reason = dead.reasons.get(job_id)
        marks.append((job_id, "dead", reason) if reason is not None else (job_id, "done", None))
    return marks


def dead_marks(job_ids: Sequence[str], reason: str) -> list[Mark]:
    """Every job of a batch given up as a whole."""
    return [(job_id, "dead", reason) for job_id in job_ids]


def store_marking(
    prepared: Sequence[tuple[ArticleJob, Draft | BaseException]],
    *,
    dedupe: StoryState,
    index: IndexBackend,
    dead_letters: DeadLetterStore,
    marks: JobMarks,
    health: ExtractionHealthStore | None = None,
    archive: PageArchive | None = None,
) -> BatchReport:
    """store_prepared, then the batch's marks (standalone: on the thread that owns the database)."""
    tracking = TrackingDeadLetters(dead_letters)
    report = store_prepared(prepared, dedupe, index, tracking, health=health, archive=archive)
    mark_safely(marks, batch_marks([job.job_id for job, _ in prepared], tracking))
    return report


def mark_safely(marks_port: JobMarks, marks: Sequence[Mark]) -> None:
    """Marks never fail the work they describe (a missing mark costs a re-check, not an article)."""
    try:
        marks_port.mark(marks)
    except Exception as exc:  # the edge of one batch's bookkeeping: log once, the work stands
        log.warning("ledger_marks_unrecorded", error_type=type(exc).__name__, error=str(exc), jobs=len(marks))
