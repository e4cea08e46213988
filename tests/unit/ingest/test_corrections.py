"""The re-check queue on a real SQLite file, and the settings that shape it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.corrections import RecheckQueue
from ingest.jobs import ArticleJob, FeedEntry, SourceSnapshot
from ingest.settings import CorrectionsSettings


def _job(link: str, entry: bool = True) -> ArticleJob:
    return ArticleJob(
        url=link, final_url=link, fetched_at=datetime.now(UTC), status=200, html="<p>story</p>",
        source=SourceSnapshot(name="tidewater", kind="rss", url="https://tidewater.example/feed.xml"),
        entry=FeedEntry(link=link, title="Footbridge reopens", authors=("M. Hale",)) if entry else None,
    )


def test_each_article_is_due_at_each_age_then_forgotten(tmp_path: Path) -> None:
    queue = RecheckQueue.in_data_dir(tmp_path, (3600, 86400))
    queue.add([_job("https://t.example/a"), _job("https://t.example/b")], now=1000.0)
    queue.add([_job("https://t.example/a")], now=2000.0)  # handed off again: keeps its first place
    assert queue.due(now=4599.0, limit=10) == []
    due = queue.due(now=4600.0, limit=10)
    assert [(r.url, r.stage, r.entry.title) for r in due] == [
        ("https://t.example/a", 0, "Footbridge reopens"), ("https://t.example/b", 0, "Footbridge reopens")]
    queue.advance(due)
    assert queue.due(now=87399.0, limit=10) == []  # the next age counts from the first hand-off
    last = queue.due(now=87400.0, limit=1)
    assert len(last) == 1 and last[0].stage == 1
    queue.advance(last)
    assert queue.pending() == 1


def test_a_job_without_a_feed_entry_is_not_queued(tmp_path: Path) -> None:
    queue = RecheckQueue.in_data_dir(tmp_path, (60,))
    queue.add([_job("https://t.example/a", entry=False)], now=0.0)
    assert queue.pending() == 0


def test_the_queue_survives_a_restart(tmp_path: Path) -> None:
    RecheckQueue.in_data_dir(tmp_path, (60,)).add([_job("https://t.example/a")], now=0.0)
    assert [r.url for r in RecheckQueue.in_data_dir(tmp_path, (60,)).due(now=60.0, limit=5)] == ["https://t.example/a"]


@pytest.mark.parametrize("ages", [(86400, 3600), (0,), (3600, 3600)])
def test_ages_must_be_positive_and_rising(ages: tuple[float, ...]) -> None:
    with pytest.raises(ValidationError, match="positive and rising"):
        CorrectionsSettings(recheck_after_s=ages)
