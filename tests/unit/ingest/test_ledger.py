"""The job ledger: durable acceptance, one ending per job, overdue jobs, audit counts, pruning."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ingest.jobs import ArticleJob, SourceSnapshot
from ingest.ledger import AuditCounts, JobLedger, parse_marks


def _job(n: int, source: str = "harbour") -> ArticleJob:
    return ArticleJob(
        url=f"https://harbour.example/news/{n}",
        final_url=f"https://harbour.example/news/{n}",
        fetched_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        status=200,
        html=f"<html><body><p>Story {n}</p></body></html>",
        source=SourceSnapshot(name=source, kind="rss", url="https://harbour.example/feed.xml"),
    )


def test_recorded_jobs_survive_reopening_the_ledger(tmp_path: Path) -> None:
    jobs = [_job(1), _job(2)]
    ledger = JobLedger.in_data_dir(tmp_path)
    ledger.record(jobs, now=100.0)
    ledger.close()

    reopened = JobLedger.in_data_dir(tmp_path)
    overdue = reopened.overdue(timeout_s=10, now=200.0)
    assert [o.job_id for o in overdue] == [j.job_id for j in jobs]
    assert ArticleJob.model_validate(overdue[0].message) == jobs[0]


def test_a_job_ends_once_and_later_marks_are_ignored(tmp_path: Path) -> None:
    job = _job(1)
    ledger = JobLedger.in_data_dir(tmp_path)
    ledger.record([job], now=100.0)
    assert ledger.mark([(job.job_id, "done", None)], now=101.0) == 1
    assert ledger.mark([(job.job_id, "dead", "extract: late copy")], now=102.0) == 0
    assert ledger.audit(timeout_s=10, now=103.0)["harbour"] == AuditCounts(accepted=1, done=1)


def test_audit_tells_young_pending_jobs_from_missing_ones(tmp_path: Path) -> None:
    ledger = JobLedger.in_data_dir(tmp_path)
    ledger.record([_job(1)], now=100.0)
    ledger.record([_job(2, source="valley")], now=195.0)
    counts = ledger.audit(timeout_s=10, now=200.0)
    assert counts["harbour"] == AuditCounts(accepted=1, missing=1)
    assert counts["valley"] == AuditCounts(accepted=1, pending=1)


def test_a_reenqueued_job_restarts_its_clock_and_counts_its_sends(tmp_path: Path) -> None:
    job = _job(1)
    ledger = JobLedger.in_data_dir(tmp_path)
    ledger.record([job], now=100.0)
    ledger.resent([job.job_id], now=300.0)
    assert ledger.overdue(timeout_s=10, now=305.0) == []
    assert ledger.overdue(timeout_s=10, now=320.0)[0].sends == 2


def test_ended_jobs_are_pruned_after_the_retention_and_pending_ones_never(tmp_path: Path) -> None:
    done, pending = _job(1), _job(2)
    ledger = JobLedger.in_data_dir(tmp_path)
    ledger.record([done, pending], now=100.0)
    ledger.mark([(done.job_id, "done", None)], now=100.0)
    assert ledger.prune(retention_s=50, now=200.0) == 1
    assert ledger.audit(timeout_s=1000, now=200.0)["harbour"] == AuditCounts(accepted=1, pending=1)


def test_malformed_marks_from_redis_are_dropped() -> None:
    raw = [b'["a1", "done", null]', b"not json", b'["a2", "exploded", null]', '["a3", "dead", "extract: empty page"]']
    assert parse_marks(raw) == [("a1", "done", None), ("a3", "dead", "extract: empty page")]
