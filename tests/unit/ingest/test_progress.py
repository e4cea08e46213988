"""Progress off a terminal: a log line at each tenth of the work and at its end, never per item."""

from __future__ import annotations

from structlog.testing import capture_logs

from ingest.progress import Progress


def test_long_work_logs_a_line_per_tenth_and_the_last() -> None:
    with capture_logs() as logs:
        progress = Progress(95, unit="source", desc="polling", event="run_once_progress")
        for _ in range(95):
            progress.advance()
        progress.close()
    done = [e["done"] for e in logs if e["event"] == "run_once_progress"]
    assert done == [9, 18, 27, 36, 45, 54, 63, 72, 81, 90, 95]
    assert all(e["total"] == 95 and e["unit"] == "source" for e in logs)


def test_a_batch_crossing_several_tenths_logs_once() -> None:
    with capture_logs() as logs:
        progress = Progress(100, unit="job", desc="retry", event="deadletters_retry_progress")
        progress.advance(35)
        progress.advance(65)
    assert [e["done"] for e in logs] == [35, 100]


def test_work_that_grew_past_its_total_reports_the_larger_total() -> None:
    with capture_logs() as logs:
        progress = Progress(10, unit="document", desc="copying", event="migrate_copy_progress")
        progress.advance(8)
        progress.advance(4)  # written while the copy ran
    assert [(e["done"], e["total"]) for e in logs] == [(8, 10), (12, 12)]
