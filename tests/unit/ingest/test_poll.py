"""poll_source() against a real local server: conditional GET, unchanged bodies, seen entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingest.client import HttpClient
from ingest.poll import poll_source
from ingest.settings import HttpSettings
from ingest.sources import Source
from ingest.state import SqliteFeedState

SEED_FEED = (Path(__file__).resolve().parents[3] / "seeds" / "feed.xml").read_bytes()


class FeedOrigin:
    """Serves the seed feed with an ETag, and counts what it was asked."""

    def __init__(self) -> None:
        self.body = SEED_FEED
        self.etag = '"v1"'
        self.honour_validators = True
        self.requests: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.headers))
        if self.honour_validators and request.headers.get("If-None-Match") == self.etag:
            return web.Response(status=304)
        return web.Response(body=self.body, headers={"ETag": self.etag, "Content-Type": "application/rss+xml"})


@pytest.fixture
async def origin() -> AsyncIterator[tuple[FeedOrigin, TestServer]]:
    feed = FeedOrigin()
    app = web.Application()
    app.router.add_get("/feed.xml", feed.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield feed, server


@pytest.fixture
async def state(tmp_path: Path) -> AsyncIterator[SqliteFeedState]:
    owner = ThreadPoolExecutor(1)
    feed_state = SqliteFeedState(tmp_path / "state.sqlite3", owner)
    yield feed_state
    await feed_state.close()
    owner.shutdown()


def _source(server: TestServer) -> Source:
    return Source(name="ww", url=str(server.make_url("/feed.xml")), allow_hosts=(f"127.0.0.1:{server.port}",))


async def test_first_poll_returns_every_entry_once(origin: tuple[FeedOrigin, TestServer], state: SqliteFeedState) -> None:
    _, server = origin
    async with HttpClient(HttpSettings()) as client:
        result = await poll_source(client, _source(server), state)
    assert result.status == 200
    assert result.entries_total == 7 and len(result.new_entries) == 7


async def test_validators_are_sent_and_304_costs_no_parsing(
    origin: tuple[FeedOrigin, TestServer], state: SqliteFeedState
) -> None:
    feed, server = origin
    source = _source(server)
    async with HttpClient(HttpSettings()) as client:
        first = await poll_source(client, source, state)
        await state.save(source.name, first.record)
        second = await poll_source(client, source, state)
    assert feed.requests[1].get("If-None-Match") == '"v1"'
    assert second.status == 304 and second.new_entries == ()


async def test_unchanged_body_counts_as_not_modified_even_without_validators(
    origin: tuple[FeedOrigin, TestServer], state: SqliteFeedState
) -> None:
    feed, server = origin
    feed.honour_validators = False
    source = _source(server)
    async with HttpClient(HttpSettings()) as client:
        await state.save(source.name, (await poll_source(client, source, state)).record)
        again = await poll_source(client, source, state)
    assert again.status == 304 and again.new_entries == ()


async def test_seen_entries_are_not_new(origin: tuple[FeedOrigin, TestServer], state: SqliteFeedState) -> None:
    feed, server = origin
    source = _source(server)
    async with HttpClient(HttpSettings()) as client:
        first = await poll_source(client, source, state)
        await state.mark_seen(source.name, [e.seen_key for e in first.new_entries[:5]])
        feed.etag, feed.body = '"v2"', SEED_FEED.replace(b"</channel>", b"<!-- changed --></channel>")
        second = await poll_source(client, source, state)
    assert [e.seen_key for e in second.new_entries] == [e.seen_key for e in first.new_entries[5:]]


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    for round_ in range(2):
        owner = ThreadPoolExecutor(1)
        feed_state = SqliteFeedState(path, owner)
        if round_ == 0:
            await feed_state.mark_seen("ww", ["a", "b"])
        else:
            assert await feed_state.unseen("ww", ["a", "b", "c"]) == ["c"]
        await feed_state.close()
        owner.shutdown()
