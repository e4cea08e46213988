"""Marks for the daemon's ledger: every job of a batch that returned ends, dead-lettered ones as dead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from workers.documents import DeadLetter
from workers.ledger_marks import TrackingDeadLetters, batch_marks, job_ids_of


class _Letters:
    def __init__(self) -> None:
        self.recorded: list[DeadLetter] = []

    def record(self, letters: Sequence[DeadLetter]) -> None:
        self.recorded.extend(letters)

    def recent(self, limit: int = 50) -> list[DeadLetter]:
        return self.recorded[:limit]


def test_dead_lettered_jobs_are_marked_dead_with_the_reason_and_the_rest_done() -> None:
    tracking = TrackingDeadLetters(_Letters())
    tracking.record([
        DeadLetter(job_id="j2", url="https://harbour.example/2", source="harbour", stage="extract",
                   error_type="NotAnArticle", reason="text too short: 12 chars", failed_at=datetime.now(UTC))
    ])
    assert batch_marks(["j1", "j2"], tracking) == [("j1", "done", None), ("j2", "dead", "extract: text too short: 12 chars")]


def test_messages_without_a_job_id_are_no_ledger_s_jobs() -> None:
    assert job_ids_of([{"job_id": "j1"}, {"url": "x"}, "garbage", {"job_id": 7}]) == ["j1"]
