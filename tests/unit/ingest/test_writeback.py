"""WriteBehindState: records read back from memory at once, in the store only after a flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ingest.state import FeedRecord, SqliteFeedState
from ingest.writeback import WriteBehindState


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteFeedState]:
    owner = ThreadPoolExecutor(1)
    state = SqliteFeedState(tmp_path / "state.sqlite3", owner)
    yield state
    await state.close()
    owner.shutdown()


async def test_a_saved_record_is_read_back_before_it_is_written(store: SqliteFeedState) -> None:
    cache = WriteBehindState(store)
    await cache.save("s", FeedRecord(etag='"a"'))
    assert (await cache.load("s")).etag == '"a"'
    assert (await store.load("s")).etag is None


async def test_a_flush_writes_every_changed_record_to_the_store(store: SqliteFeedState) -> None:
    cache = WriteBehindState(store)
    cache.remember("s1", FeedRecord(etag='"1"'))
    cache.remember("s2", FeedRecord(etag='"2"'))
    await cache.close()
    records = await store.load_many(["s1", "s2"])
    assert (records["s1"].etag, records["s2"].etag) == ('"1"', '"2"')


async def test_entries_marked_seen_are_not_new_before_they_are_written(store: SqliteFeedState) -> None:
    cache = WriteBehindState(store)
    await cache.mark_seen("s", ["a"])
    assert await cache.unseen("s", ["a", "b"]) == ["b"]
    assert await store.unseen("s", ["a", "b"]) == ["a", "b"]


async def test_a_flush_writes_the_seen_entries_of_every_source(store: SqliteFeedState) -> None:
    cache = WriteBehindState(store)
    await cache.mark_seen("s1", ["a", "b"])
    await cache.mark_seen("s2", ["c"])
    await cache.close()
    assert await store.unseen("s1", ["a", "b", "x"]) == ["x"]
    assert await store.unseen("s2", ["c", "a"]) == ["a"]


async def test_a_failed_flush_keeps_records_and_seen_entries_for_the_next(tmp_path: Path) -> None:
    owner = ThreadPoolExecutor(1)
    broken = SqliteFeedState(tmp_path / "missing-dir" / "state.sqlite3", owner)
    cache = WriteBehindState(broken)
    cache.remember("s", FeedRecord(etag='"1"'))
    await cache.mark_seen("s", ["a"])
    (tmp_path / "missing-dir").write_text("a file where the store wants a folder")
    with pytest.raises(OSError):
        await cache.flush()
    (tmp_path / "missing-dir").unlink()
    await cache.flush()  # the store is back: nothing was dropped
    assert (await broken.load("s")).etag == '"1"'
    assert await broken.unseen("s", ["a", "b"]) == ["b"]
    await broken.close()
    owner.shutdown()
