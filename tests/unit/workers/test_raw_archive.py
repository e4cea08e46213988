"""The raw archive on a real folder: content addressing, round trips, size accounting, forgetting."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ingest.jobs import ArticleJob, FeedEntry, ResponseHeaders, SourceSnapshot
from workers.raw_archive import RawArchive, Selection

FETCHED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PAGE = "<html><body><article><p>" + "The ferry runs twice an hour this winter. " * 40 + "</p></article></body></html>"


def _job(url: str, html: str = PAGE, source: str = "tidewater", fetched_at: datetime = FETCHED) -> ArticleJob:
    return ArticleJob(
        url=url,
        final_url=url,
        fetched_at=fetched_at,
        status=200,
        headers=ResponseHeaders(content_type="text/html; charset=utf-8", etag='"v1"'),
        html=html,
        source=SourceSnapshot(name=source, kind="rss", url="https://tidewater.example/feed.xml", tags=("local",)),
        entry=FeedEntry(link=url, title="Ferry timetable", authors=("M. Hale",), published=fetched_at),
    )


@pytest.fixture
def archive(tmp_path: Path) -> RawArchive:
    return RawArchive(tmp_path / "archive")


def _blob_files(archive: RawArchive) -> list[Path]:
    return [path for path in (archive.root / "blobs").rglob("*.zst")]


def test_a_page_comes_back_as_the_job_that_delivered_it(archive: RawArchive) -> None:
    job = _job("https://tidewater.example/news/ferry")
    archive.put([("doc-1", job)])
    replayed = archive.latest(["doc-1"])["doc-1"]
    assert replayed.model_dump(exclude={"job_id"}) == job.model_dump(exclude={"job_id"})
    assert replayed.job_id != job.job_id  # a replay is a job of its own


def test_identical_bodies_are_stored_once_and_counted(archive: RawArchive) -> None:
    archive.put([("doc-1", _job("https://a.example/1")), ("doc-2", _job("https://b.example/2"))])
    other = PAGE.replace("ferry", "bus")
    archive.put([("doc-3", _job("https://c.example/3", html=other))])
    usage = archive.usage()
    assert (usage.documents, usage.pages, usage.bodies) == (3, 3, 2)
    assert len(_blob_files(archive)) == 2
    assert usage.raw_bytes == len(PAGE.encode()) + len(other.encode())
    assert 0 < usage.stored_bytes < usage.raw_bytes / 5  # repetitive HTML compresses well
    assert usage.index_bytes > 0


def test_a_changed_page_adds_a_body_and_the_newest_one_is_replayed(archive: RawArchive) -> None:
    archive.put([("doc-1", _job("https://a.example/1"))])
    edited = PAGE.replace("twice an hour", "every hour")
    archive.put([("doc-1", _job("https://a.example/1", html=edited, fetched_at=FETCHED + timedelta(hours=1)))])
    assert archive.usage().pages == 2
    assert "every hour" in archive.latest(["doc-1"])["doc-1"].html
    # A late, older fetch of the first body does not make it the newest again.
    archive.put([("doc-1", _job("https://a.example/1", fetched_at=FETCHED - timedelta(hours=1)))])
    assert "every hour" in archive.latest(["doc-1"])["doc-1"].html


def test_forgetting_removes_bodies_no_other_document_uses(archive: RawArchive) -> None:
    archive.put([("doc-1", _job("https://a.example/1")), ("doc-2", _job("https://b.example/2"))])
    assert archive.forget(["doc-1"]) == 1
    assert len(_blob_files(archive)) == 1  # doc-2 still uses the body
    assert archive.forget(["doc-2", "doc-unknown"]) == 1
    assert _blob_files(archive) == [] and archive.usage().bodies == 0
    assert archive.latest(["doc-1", "doc-2"]) == {}


def test_selection_by_source_and_fetch_time_in_id_order(archive: RawArchive) -> None:
    archive.put([
        ("doc-c", _job("https://a.example/c", source="tidewater")),
        ("doc-a", _job("https://a.example/a", source="tidewater", fetched_at=FETCHED - timedelta(days=3))),
        ("doc-b", _job("https://b.example/b", source="harbour")),
    ])
    assert archive.select(Selection()) == ["doc-a", "doc-b", "doc-c"]
    assert archive.select(Selection(source="tidewater")) == ["doc-a", "doc-c"]
    assert archive.select(Selection(since=FETCHED - timedelta(days=1))) == ["doc-b", "doc-c"]
    assert archive.select(Selection(), after="doc-a", limit=1) == ["doc-b"]
    assert archive.count(Selection(source="tidewater"), after="doc-a") == 1


def test_text_that_utf8_cannot_encode_survives(archive: RawArchive) -> None:
    odd = PAGE + "<p>half an emoji \ud83d from a feed's JSON</p>"
    archive.put([("doc-1", _job("https://a.example/1", html=odd))])
    assert archive.latest(["doc-1"])["doc-1"].html == odd


def test_a_missing_body_file_is_named(archive: RawArchive) -> None:
    archive.put([("doc-1", _job("https://a.example/1"))])
    for path in _blob_files(archive):
        path.unlink()
    with pytest.raises(FileNotFoundError, match=r"\.zst"):
        archive.latest(["doc-1"])


def test_a_deleted_body_file_is_written_again_by_the_next_put(archive: RawArchive) -> None:
    archive.put([("doc-1", _job("https://a.example/1"))])
    for path in _blob_files(archive):
        path.unlink()
    archive.put([("doc-2", _job("https://b.example/2"))])
    assert archive.latest(["doc-1"])["doc-1"].html == PAGE


def test_credentials_in_urls_stay_out_of_the_archive(archive: RawArchive) -> None:
    secret = "s3cretTokenValue"
    job = _job(f"https://reader:{secret}@a.example/1?token={secret}")
    job = job.model_copy(update={"source": job.source.model_copy(update={"url": f"https://a.example/rss?key={secret}"})})
    archive.put([("doc-1", job)])
    stored = b"".join(path.read_bytes() for path in archive.root.rglob("*") if path.is_file())
    assert secret.encode() not in stored
    assert "***" in archive.latest(["doc-1"])["doc-1"].url


def _open_when_told(root: Path, start: Any) -> str | None:
    start.wait()
    try:
        RawArchive(root)
    except Exception as exc:  # reported to the test, which names it
        return repr(exc)
    return None


def test_workers_opening_a_new_archive_together_all_get_it(tmp_path: Path) -> None:
    # Seen in CI: two pool children opened a new archive at once; one got "database is locked" from the
    # WAL switch and its batch failed.
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager, context.Pool(8) as pool:
        for round_ in range(30):
            start = manager.Event()
            results = [pool.apply_async(_open_when_told, (tmp_path / str(round_), start)) for _ in range(8)]
            start.set()
            assert [r.get(60) for r in results] == [None] * 8
