"""tdmrep.json: rules parsed and matched by path; fetched once per host, "nothing said" when it is missing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingest.client import HttpClient, RequestPolicy
from ingest.settings import HttpSettings
from ingest.tdmrep import TdmRepCache, TdmRule, match_rule, parse_tdmrep

RULES = [
    {"location": "/free/*", "tdm-reservation": 0},
    {"location": "/news/*.html$", "tdm-reservation": 1, "tdm-policy": "https://news.example/tdm-policy.json"},
    {"location": "/", "tdm-reservation": "1"},
]


def test_rules_are_parsed_in_order() -> None:
    assert parse_tdmrep(json.dumps(RULES)) == (
        TdmRule("/free/*", 0),
        TdmRule("/news/*.html$", 1, "https://news.example/tdm-policy.json"),
        TdmRule("/", 1),
    )


@pytest.mark.parametrize(
    "body",
    ["", "not json", '{"location": "/"}', '[{"location": "/", "tdm-reservation": 2}]',
     '[{"tdm-reservation": 1}]', '[{"location": "/", "tdm-reservation": true}]', "[1, null]"],
)
def test_what_is_not_a_rule_says_nothing(body: str) -> None:
    assert parse_tdmrep(body) == ()


@pytest.mark.parametrize(
    ("url", "reservation"),
    [
        ("https://news.example/free/2026/story", 0),
        ("https://news.example/news/2026/story.html", 1),
        ("https://news.example/news/2026/story.html?page=2", 1),  # "$" missed: the catch-all "/" rule
        ("https://news.example/about", 1),
    ],
)
def test_the_first_matching_rule_applies(url: str, reservation: int) -> None:
    rule = match_rule(parse_tdmrep(json.dumps(RULES)), url)
    assert rule is not None and rule.reservation == reservation


def test_no_rule_matches_outside_the_locations() -> None:
    assert match_rule((TdmRule("/archive/", 1),), "https://news.example/news/a") is None


def test_the_dollar_anchors_the_end() -> None:
    rules = (TdmRule("/news/*.html$", 1),)
    assert match_rule(rules, "https://news.example/news/a.html")
    assert match_rule(rules, "https://news.example/news/a.html.bak") is None


class TdmOrigin:
    def __init__(self) -> None:
        self.status = 200
        self.body = json.dumps(RULES)
        self.requests = 0
        self.delay_s = 0.0

    async def tdmrep(self, _request: web.Request) -> web.Response:
        self.requests += 1
        await asyncio.sleep(self.delay_s)
        return web.Response(status=self.status, text=self.body, content_type="application/json")


@pytest.fixture
async def origin() -> AsyncIterator[tuple[TdmOrigin, TestServer]]:
    """A host whose policy file answers as the test sets it (status, body, delay), counting requests."""
    host = TdmOrigin()
    routes = [web.get("/.well-known/tdmrep.json", host.tdmrep)]
    app = web.Application()
    app.add_routes(routes)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield host, server
    await server.close()


def _policy(server: TestServer) -> RequestPolicy:
    return RequestPolicy(source="test", allow_hosts=frozenset({f"127.0.0.1:{server.port}"}))


def _url(server: TestServer, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


async def test_a_host_is_asked_once_for_many_pages(origin: tuple[TdmOrigin, TestServer]) -> None:
    state, server = origin
    state.delay_s = 0.2  # concurrent look-ups while the first is in flight share it
    async with HttpClient(HttpSettings()) as client:
        cache = TdmRepCache(client, ttl_s=3600)
        rules = await asyncio.gather(
            *(cache.rule_for(_url(server, f"/news/{n}.html"), _policy(server)) for n in range(5)),
            cache.rule_for(_url(server, "/free/x"), _policy(server)),
        )
    assert [rule.reservation if rule else None for rule in rules] == [1, 1, 1, 1, 1, 0]
    assert state.requests == 1


async def test_a_missing_file_says_nothing_and_is_not_asked_again(origin: tuple[TdmOrigin, TestServer]) -> None:
    state, server = origin
    state.status = 404
    async with HttpClient(HttpSettings()) as client:
        cache = TdmRepCache(client, ttl_s=3600)
        assert await cache.rule_for(_url(server, "/news/a.html"), _policy(server)) is None
        assert await cache.rule_for(_url(server, "/news/b.html"), _policy(server)) is None
    assert state.requests == 1


async def test_a_server_error_or_garbage_says_nothing(origin: tuple[TdmOrigin, TestServer]) -> None:
    state, server = origin
    state.status = 500
    async with HttpClient(HttpSettings()) as client:
        assert await TdmRepCache(client, ttl_s=3600).rule_for(_url(server, "/news/a.html"), _policy(server)) is None
        state.status, state.body = 200, "<html>not found</html>"
        assert await TdmRepCache(client, ttl_s=3600).rule_for(_url(server, "/news/a.html"), _policy(server)) is None


async def test_the_file_is_read_again_after_the_cache_period(origin: tuple[TdmOrigin, TestServer]) -> None:
    state, server = origin
    now = [0.0]
    async with HttpClient(HttpSettings()) as client:
        cache = TdmRepCache(client, ttl_s=60, clock=lambda: now[0])
        await cache.rule_for(_url(server, "/news/a.html"), _policy(server))
        now[0] = 61.0
        await cache.rule_for(_url(server, "/news/a.html"), _policy(server))
    assert state.requests == 2


async def test_an_unreachable_host_says_nothing() -> None:
    async with HttpClient(HttpSettings(timeout_s=2)) as client:
        cache = TdmRepCache(client, ttl_s=60)
        # Port 9 on loopback: refused at once (and not an allowed host either way).
        assert await cache.rule_for("http://127.0.0.1:9/news/a.html", RequestPolicy(source="t")) is None


async def test_file_urls_are_not_asked() -> None:
    async with HttpClient(HttpSettings()) as client:
        assert await TdmRepCache(client, ttl_s=60).rule_for("file:///tmp/a.html", RequestPolicy()) is None
