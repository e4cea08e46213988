"""A batch through the embedded adapters: invalid jobs and non-articles become dead letters alone."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.jobs import ArticleJob, FeedEntry, SourceSnapshot
from workers.batch import prepare_safely, process_messages, store_prepared
from workers.errors import IndexUnavailable, TransientError
from workers.index.sqlite import SqliteDeadLetters, SqliteIndex, open_database
from workers.state_sqlite import SqliteStoryState

SEEDS = Path(__file__).resolve().parents[3] / "seeds" / "pages"
ORIGINAL = SEEDS / "worldwire/2016/08/putin-erdogan-repair-ties.html"
COPY = SEEDS / "dailyledger/world/putin-erdogan-seek-common-ground.html"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(tmp_path / "newsingest.sqlite3")
    yield connection
    connection.close()


def _job(url: str, html: str) -> ArticleJob:
    return ArticleJob(
        url=url,
        final_url=url,
        fetched_at=datetime(2026, 11, 25, tzinfo=UTC),
        status=200,
        html=html,
        source=SourceSnapshot(name="ww", kind="rss", url="https://www.worldwire.example/feed.xml"),
        entry=FeedEntry(link=url),
    )


def _stores(db: sqlite3.Connection) -> tuple[SqliteStoryState, SqliteIndex, SqliteDeadLetters]:
    return SqliteStoryState(db), SqliteIndex(db), SqliteDeadLetters(db)


def test_an_invalid_message_is_dead_lettered_and_the_rest_indexed(db: sqlite3.Connection) -> None:
    good = _job("https://www.worldwire.example/a", ORIGINAL.read_text()).to_message()
    bad = {"v": 1, "url": "https://x.example/broken", "source": {"name": "ww"}}
    dedupe, index, letters = _stores(db)
    report = process_messages([bad, good], dedupe, index, letters)
    assert (report.indexed, report.dead_letters) == (1, 1)
    (letter,) = letters.recent()
    assert letter.stage == "validate" and letter.error_type == "InvalidJob"
    assert letter.url == "https://x.example/broken" and letter.source == "ww"


def test_a_page_without_an_article_is_dead_lettered_with_its_reason(db: sqlite3.Connection) -> None:
    nav_only = "<html><body><nav><a href='/a'>World</a><a href='/b'>Sport</a></nav></body></html>"
    jobs = [_job("https://www.worldwire.example/section", nav_only), _job("https://www.worldwire.example/a", ORIGINAL.read_text())]
    dedupe, index, letters = _stores(db)
    report = store_prepared([(job, prepare_safely(job)) for job in jobs], dedupe, index, letters)
    assert (report.indexed, report.dead_letters) == (1, 1)
    (letter,) = letters.recent()
    assert letter.error_type == "NotAnArticle" and "too short" in letter.reason
    assert letter.job is not None and letter.job["url"] == "https://www.worldwire.example/section"


def test_copy_in_the_same_batch_points_at_the_first(db: sqlite3.Connection) -> None:
    jobs = [_job("https://www.worldwire.example/a", ORIGINAL.read_text()), _job("https://dailyledger.example/b", COPY.read_text())]
    dedupe, index, letters = _stores(db)
    report = store_prepared([(job, prepare_safely(job)) for job in jobs], dedupe, index, letters)
    assert report.duplicates == 1
    first = index.get(prepare_safely(jobs[0]).doc_id)  # type: ignore[union-attr]
    second = index.get(prepare_safely(jobs[1]).doc_id)  # type: ignore[union-attr]
    assert first is not None and second is not None
    assert second.duplicate_of == first.id == second.cluster_id == first.cluster_id


def test_the_same_batch_twice_leaves_one_document_each(db: sqlite3.Connection) -> None:
    jobs = [_job("https://www.worldwire.example/a", ORIGINAL.read_text())]
    dedupe, index, letters = _stores(db)
    for _ in range(2):
        store_prepared([(job, prepare_safely(job)) for job in jobs], dedupe, index, letters)
    assert index.count() == 1
    stored = index.get(prepare_safely(jobs[0]).doc_id)  # type: ignore[union-attr]
    assert stored is not None and stored.duplicate_of is None


def test_transient_errors_reach_the_caller(db: sqlite3.Connection) -> None:
    job = _job("https://www.worldwire.example/a", ORIGINAL.read_text())
    dedupe, index, letters = _stores(db)
    with pytest.raises(TransientError):
        store_prepared([(job, IndexUnavailable("index down"))], dedupe, index, letters)
    assert letters.recent() == []
