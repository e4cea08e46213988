"""The reconciler: overdue jobs go out again, found ones are closed, lost ones become dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from structlog.testing import capture_logs

from ingest.handoff import DrainReport
from ingest.jobs import ArticleJob, SourceSnapshot
from ingest.ledger import JobLedger, Overdue
from ingest.reconcile import LedgeredHandoff, Reconciler
from ingest.settings import ReliabilitySettings


class _Outbox:
    """A Handoff that keeps what it is given (the real adapters are exercised in tests/faults)."""

    def __init__(self) -> None:
        self.sent: list[list[ArticleJob]] = []

    async def submit(self, jobs: Sequence[ArticleJob]) -> None:
        self.sent.append(list(jobs))

    async def wait_ready(self) -> None:
        return None

    async def drain(self, timeout_s: float) -> DrainReport:
        return DrainReport(len(self.sent), len(self.sent), 0, 0)

    async def close(self) -> None:
        return None


def _job(n: int) -> ArticleJob:
    return ArticleJob(
        url=f"https://harbour.example/news/{n}",
        final_url=f"https://harbour.example/news/{n}",
        fetched_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        status=200,
        html="<html></html>",
        source=SourceSnapshot(name="harbour", kind="rss", url="https://harbour.example/feed.xml"),
    )


SETTINGS = ReliabilitySettings(reconcile_timeout_s=60, reconcile_max_sends=2)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_job_is_in_the_ledger_before_the_handoff_sees_it(tmp_path: Path) -> None:
    ledger, outbox = JobLedger.in_data_dir(tmp_path), _Outbox()
    job = _job(1)
    await LedgeredHandoff(outbox, ledger).submit([job])
    assert outbox.sent == [[job]]
    assert ledger.audit(timeout_s=60)["harbour"].pending == 1


async def test_overdue_jobs_are_reenqueued_and_young_ones_left_alone(tmp_path: Path) -> None:
    clock, ledger, outbox = _Clock(), JobLedger.in_data_dir(tmp_path), _Outbox()
    old, young = _job(1), _job(2)
    ledger.record([old], now=clock.now - 120)
    ledger.record([young], now=clock.now - 5)
    report = await Reconciler(ledger, outbox, SETTINGS, batch_size=10, clock=clock).reconcile()
    assert report.reenqueued == 1
    assert outbox.sent == [[old]]


async def test_a_job_the_index_holds_is_closed_without_reenqueueing(tmp_path: Path) -> None:
    clock, ledger, outbox = _Clock(), JobLedger.in_data_dir(tmp_path), _Outbox()
    ledger.record([_job(1)], now=clock.now - 120)

    async def found(_message: dict[str, object]) -> bool:
        return True

    report = await Reconciler(ledger, outbox, SETTINGS, 10, probe=found, clock=clock).reconcile()
    assert (report.found_in_index, report.reenqueued, outbox.sent) == (1, 0, [])
    assert ledger.audit(timeout_s=60, now=clock.now)["harbour"].done == 1


async def test_a_job_lost_too_often_becomes_a_dead_letter_naming_the_cause(tmp_path: Path) -> None:
    clock, ledger, outbox = _Clock(), JobLedger.in_data_dir(tmp_path), _Outbox()
    job = _job(1)
    ledger.record([job], now=clock.now - 120)
    given_up: list[tuple[list[Overdue], str]] = []

    async def give_up(jobs: Sequence[Overdue], reason: str) -> None:
        given_up.append((list(jobs), reason))

    reconciler = Reconciler(ledger, outbox, SETTINGS, 10, give_up=give_up, clock=clock)
    await reconciler.reconcile()  # second hand-off
    clock.now += 120
    with capture_logs() as logs:
        report = await reconciler.reconcile()
    assert report.lost_in_transit == 1
    assert given_up[0][1] == "lost in transit 2 times (never done or dead-lettered)"
    assert any(e["event"] == "reconcile_round" and e["lost_in_transit"] == 1 for e in logs)
    assert ledger.audit(timeout_s=60, now=clock.now)["harbour"].dead == 1


class _Queue:
    """The queue depth the reconciler reads (distributed mode), set by the test."""

    def __init__(self, depth: int) -> None:
        self.depth = depth

    async def __call__(self) -> int:
        return self.depth


async def test_jobs_waiting_in_a_deep_queue_are_never_reenqueued(tmp_path: Path) -> None:
    clock, ledger, outbox = _Clock(), JobLedger.in_data_dir(tmp_path), _Outbox()
    ledger.record([_job(1)], now=clock.now - 3600)  # an hour in a backlog that never drained
    reconciler = Reconciler(ledger, outbox, SETTINGS, 10, backlog=_Queue(400), clock=clock)
    for _ in range(3):
        report = await reconciler.reconcile()
        clock.now += 120
    assert (report.overdue, outbox.sent) == (0, [])


async def test_a_job_is_late_only_a_timeout_after_the_queue_drained_past_it(tmp_path: Path) -> None:
    clock, ledger, outbox, queue = _Clock(), JobLedger.in_data_dir(tmp_path), _Outbox(), _Queue(400)
    job = _job(1)
    ledger.record([job], now=clock.now - 3600)
    reconciler = Reconciler(ledger, outbox, SETTINGS, 10, backlog=queue, clock=clock)
    await reconciler.reconcile()
    queue.depth = 0  # the workers caught up: the job's batch has left the queue
    clock.now += 30
    assert (await reconciler.reconcile()).reenqueued == 0  # maybe being processed right now
    clock.now += SETTINGS.reconcile_timeout_s
    assert (await reconciler.reconcile()).reenqueued == 1
    assert outbox.sent == [[job]]


async def test_overdue_jobs_wait_while_the_index_does_not_answer(tmp_path: Path) -> None:
    # Workers retry their batches until the index is back: a copy sent now could not be indexed either,
    # and counting the outage against the job's sends would dead-letter jobs that are only waiting.
    clock, ledger, outbox = _Clock(), JobLedger.in_data_dir(tmp_path), _Outbox()
    ledger.record([_job(1)], now=clock.now - 120)

    async def unreachable(_message: dict[str, object]) -> bool | None:
        return None

    reconciler = Reconciler(ledger, outbox, SETTINGS, 10, probe=unreachable, clock=clock)
    for _ in range(SETTINGS.reconcile_max_sends + 1):
        report = await reconciler.reconcile()
        clock.now += 120
    assert (report.waiting_for_index, report.lost_in_transit, outbox.sent) == (1, 0, [])
    assert ledger.audit(timeout_s=60, now=clock.now)["harbour"].dead == 0  # still waiting, not given up


def test_audit_counts_behind_a_backlog_call_late_jobs_pending_not_missing() -> None:
    from ingest.ledger import AuditCounts

    counts = AuditCounts(accepted=10, done=4, dead=1, pending=2, missing=3)
    assert counts.behind_backlog(queued_batches=5) == AuditCounts(10, 4, 1, 5, 0)
    assert counts.behind_backlog(queued_batches=0) == counts
