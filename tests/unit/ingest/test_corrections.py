"""The re-check queue on a real SQLite file, and the settings that shape it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.corrections import RECHECKS_FILE, RecheckQueue
from ingest.jobs import ArticleJob, FeedEntry, ResponseHeaders, SourceSnapshot
from ingest.settings import CorrectionsSettings


def _job(
    link: str, entry: bool = True, html: str = "<p>story</p>", status: int = 200, etag: str | None = None
) -> ArticleJob:
    return ArticleJob(
        url=link, final_url=link, fetched_at=datetime.now(UTC), status=status, html=html,
        headers=ResponseHeaders(etag=etag, last_modified="Tue, 01 Dec 2026 08:00:00 GMT" if etag else None),
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


def test_a_recheck_knows_the_page_it_saw_and_learns_a_changed_one(tmp_path: Path) -> None:
    queue = RecheckQueue.in_data_dir(tmp_path, (60, 120))
    queue.add([_job("https://t.example/a", etag='"v1"'), _job("https://t.example/b")], now=0.0)
    a, b = queue.due(now=60.0, limit=5)
    assert a.validators() == {"If-None-Match": '"v1"', "If-Modified-Since": "Tue, 01 Dec 2026 08:00:00 GMT"}
    assert b.validators() == {}  # no validators: the text's hash tells
    assert a.unchanged(_job(a.url, html="", status=304))
    assert b.unchanged(_job(b.url)) and not b.unchanged(_job(b.url, html="<p>story, corrected</p>"))
    queue.advance([a, b], changed=[_job(b.url, html="<p>story, corrected</p>")])
    _, b = queue.due(now=120.0, limit=5)
    assert b.unchanged(_job(b.url, html="<p>story, corrected</p>")) and not b.unchanged(_job(b.url))


def test_a_queue_from_before_validators_were_kept_is_read_and_extended(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / RECHECKS_FILE) as db:
        db.execute(
            "CREATE TABLE rechecks (url TEXT PRIMARY KEY, source TEXT NOT NULL, first_at REAL NOT NULL, "
            "stage INTEGER NOT NULL, due_at REAL NOT NULL, entry TEXT NOT NULL) WITHOUT ROWID"
        )
        db.execute("INSERT INTO rechecks VALUES (?, ?, 0, 0, 60, ?)",
                   ("https://t.example/old", "tidewater", FeedEntry(link="https://t.example/old").model_dump_json()))
    queue = RecheckQueue.in_data_dir(tmp_path, (60,))
    queue.add([_job("https://t.example/new", etag='"n"')], now=0.0)
    by_url = {r.url: r for r in queue.due(now=60.0, limit=5)}
    assert not by_url["https://t.example/old"].unchanged(_job("https://t.example/old"))  # nothing to compare: handed off
    assert by_url["https://t.example/new"].etag == '"n"'


@pytest.mark.parametrize("ages", [(86400, 3600), (0,), (3600, 3600)])
def test_ages_must_be_positive_and_rising(ages: tuple[float, ...]) -> None:
    with pytest.raises(ValidationError, match="positive and rising"):
        CorrectionsSettings(recheck_after_s=ages)
