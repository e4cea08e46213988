"""robots.txt against a real local server: honoured, cached per host, RFC 9309 on errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingest.client import HttpClient, RequestPolicy
from ingest.errors import RobotsDisallowed
from ingest.robots import RobotsCache
from ingest.settings import HttpSettings

ROBOTS = "User-agent: *\nDisallow: /private/\nCrawl-delay: 5\n\nUser-agent: newsingest\nDisallow: /no-bots/\n"


class RobotsOrigin:
    def __init__(self) -> None:
        self.status = 200
        self.requests = 0

    async def robots(self, _request: web.Request) -> web.Response:
        self.requests += 1
        return web.Response(status=self.status, text=ROBOTS)


@pytest.fixture
async def origin() -> AsyncIterator[tuple[RobotsOrigin, TestServer]]:
    state = RobotsOrigin()
    app = web.Application()
    app.router.add_get("/robots.txt", state.robots)
    async with TestServer(app, host="127.0.0.1") as server:
        yield state, server


def _policy(server: TestServer) -> RequestPolicy:
    return RequestPolicy(source="test", allow_hosts=frozenset({f"127.0.0.1:{server.port}"}))


async def _cache(client: HttpClient) -> RobotsCache:
    return RobotsCache(client, HttpSettings().user_agent, ttl_s=3600)


async def test_disallowed_path_for_our_agent_is_refused(origin: tuple[RobotsOrigin, TestServer]) -> None:
    _, server = origin
    async with HttpClient(HttpSettings()) as client:
        robots = await _cache(client)
        with pytest.raises(RobotsDisallowed, match="disallowed by robots.txt"):
            await robots.check(str(server.make_url("/no-bots/story.html")), _policy(server))
        assert await robots.check(str(server.make_url("/news/story.html")), _policy(server)) is None


async def test_robots_txt_is_fetched_once_per_host(origin: tuple[RobotsOrigin, TestServer]) -> None:
    state, server = origin
    async with HttpClient(HttpSettings()) as client:
        robots = await _cache(client)
        for path in ("/a", "/b", "/c"):
            await robots.check(str(server.make_url(path)), _policy(server))
    assert state.requests == 1


async def test_missing_robots_txt_allows_everything(origin: tuple[RobotsOrigin, TestServer]) -> None:
    state, server = origin
    state.status = 404
    async with HttpClient(HttpSettings()) as client:
        robots = await _cache(client)
        assert await robots.check(str(server.make_url("/no-bots/x")), _policy(server)) is None


async def test_server_error_on_robots_txt_disallows_for_now(origin: tuple[RobotsOrigin, TestServer]) -> None:
    state, server = origin
    state.status = 500
    async with HttpClient(HttpSettings()) as client:
        robots = await _cache(client)
        with pytest.raises(RobotsDisallowed, match="could not be read"):
            await robots.check(str(server.make_url("/news/x")), _policy(server))
