"""Hostile search text, filters and paging against both index backends: never a 500, never harm.

Each request gets normal results or one JSON line saying what is wrong (400); afterwards the index
holds what it held and still finds it. Through the real API app on 127.0.0.1, and straight into
each backend's search (what the CLI calls, without the API's length limit).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from ingest.cli import main
from ingest.cli_search import open_index
from ingest.settings import ApiSettings, Settings
from tests.api_client import serving
from workers.documents import Article
from workers.errors import InvalidQuery
from workers.index.elastic import ElasticIndex
from workers.index.query import build_query
from workers.index.sqlite import SqliteIndex, open_database

pytestmark = pytest.mark.integration

MakeArticle = Callable[..., Article]
STORIES = 3

HOSTILE_TEXT = [
    "*foo",
    "ferr*",
    "/.*/",
    "/fe.*y/",
    "a~",
    "ferry~2",
    '"unbalanced',
    "NEAR(",
    "NEAR(ferry harbour, 2)",
    "col:value",
    "title:ferry",
    "') OR 1=1 --",
    "'; DROP TABLE articles; --",
    "ferry\" OR \"1\"=\"1",
    "(((((",
    "AND OR NOT",
    "- + ! ^ { } [ ] \\",
    '{"script": {"source": "Runtime.getRuntime().exec(\\"id\\")"}}',
    "doc['title'].value.length() > 0",
    "ünïcödé 日本語 \u202e עברית 🚢",
    "nul\x00byte",
    "ferry\x00",
    "\x00",
    "x" * 500,
    " ".join(["ferry"] * 250),
    " ".join(f"w{n}" for n in range(250)),
]
HOSTILE_FILTERS = ["*", "/.*/", "') OR 1=1 --", "\x00", "a" * 300]


@dataclass
class Backend:
    name: str
    settings: Settings


@pytest.fixture(params=["standalone", "distributed"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_article: MakeArticle
) -> Iterator[Backend]:
    for variable in [name for name in os.environ if name.startswith("NEWSINGEST_")]:
        monkeypatch.delenv(variable)
    articles = [
        make_article(title=f"Harbour ferry timetable {n}", text="The ferry to the island runs later in winter.")
        for n in range(STORIES)
    ]
    # A generous limiter: this file counts what the index does, not how often it is asked.
    api = ApiSettings(rate_limit_per_minute=100_000, rate_limit_burst=100_000)
    if request.param == "standalone":
        settings = Settings(data_dir=tmp_path / "data", api=api)
        (tmp_path / "data").mkdir()
        conn = open_database(settings.sqlite_path)
        SqliteIndex(conn).bulk_index(articles)
        conn.close()
    else:
        url, alias = request.getfixturevalue("elasticsearch_url"), request.getfixturevalue("es_alias")
        settings = Settings(redis_url="redis://unused", elasticsearch_url=url, index_alias=alias,
                            data_dir=tmp_path / "data", api=api)
        index = ElasticIndex(url, alias)
        index.ensure_ready()
        index.bulk_index(articles)
        index.refresh()
        index.close()
    yield Backend(request.param, settings)




async def _answer(api: TestClient, path: str, params: dict[str, str]) -> tuple[int, str]:  # type: ignore[type-arg]
    response = await api.get(path, params=params)
    return response.status, await response.text()


def _assert_harmless(status: int, body: str, backend: Backend, what: object) -> None:
    assert status in (200, 400), f"{what!r}: HTTP {status} {body[:300]}"
    assert "\n" not in body.strip(), f"{what!r}: more than one line"
    if status == 400:
        assert set(json.loads(body)) == {"error"}
    for internal in ("Traceback", "sqlite3", "OperationalError", "elasticsearch", "127.0.0.1:9200", "fts5"):
        assert internal not in body, f"{what!r} leaked {internal!r}: {body[:300]}"


async def _assert_intact(api: TestClient, backend: Backend) -> None:  # type: ignore[type-arg]
    status, body = await _answer(api, "/api/v1/search", {"q": "ferry timetable", "all_copies": "true"})
    assert status == 200 and len(json.loads(body)["hits"]) == STORIES
    stats = json.loads((await _answer(api, "/api/v1/stats", {}))[1])
    assert stats["documents"] == STORIES


async def test_hostile_search_text_is_answered_or_refused_in_one_line(backend: Backend) -> None:
    async with serving(backend.settings) as api:
        for text in HOSTILE_TEXT:
            for path in ("/api/v1/search", "/api/v1/stats"):
                status, body = await _answer(api, path, {"q": text})
                _assert_harmless(status, body, backend, text)
        await _assert_intact(api, backend)


async def test_plain_words_still_match_when_surrounded_by_syntax(backend: Backend) -> None:
    async with serving(backend.settings) as api:
        for text in ("ferry~", "(ferry)", "ferry*", '"ferry'):
            status, body = await _answer(api, "/api/v1/search", {"q": text, "all_copies": "true"})
            assert status == 200 and len(json.loads(body)["hits"]) == STORIES, text


async def test_hostile_filters_match_nothing_and_harm_nothing(backend: Backend) -> None:
    async with serving(backend.settings) as api:
        for value in HOSTILE_FILTERS:
            for name in ("source", "domain", "lang", "tag", "entity"):
                status, body = await _answer(api, "/api/v1/search", {"q": "ferry", name: value})
                _assert_harmless(status, body, backend, (name, value))
                assert status == 200 and json.loads(body)["hits"] == [], (name, value)
        for moment in ("*", "') OR 1=1 --", "9999999999d", "\x00"):
            status, body = await _answer(api, "/api/v1/search", {"since": moment})
            _assert_harmless(status, body, backend, moment)
        await _assert_intact(api, backend)


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 10_000},
        {"q": "ferry", "offset": "999", "limit": "1"},
        {"q": "ferry", "offset": "1000", "limit": "1"},
        {"q": "ferry", "offset": "10000000"},
        {"q": "ferry", "limit": "1000000000"},
        {"q": "ferry", "limit": "-5"},
        {"q": "ferry", "limit": "1e3"},
        {"q": "ferry", "sort": "_script"},
        {"q": "ferry", "top": "5"},
    ],
)
async def test_hostile_paging_and_length_are_answered_or_refused(backend: Backend, params: dict[str, str]) -> None:
    async with serving(backend.settings) as api:
        status, body = await _answer(api, "/api/v1/search", params)
        _assert_harmless(status, body, backend, params)
        await _assert_intact(api, backend)


def test_each_backend_survives_hostile_text_without_the_api_limits(backend: Backend) -> None:
    """What the CLI sends: no length limit in front of the backend."""
    with open_index(backend.settings) as index:
        many_words = " ".join(f"w{n}" for n in range(5_000))
        for text in [*HOSTILE_TEXT, "ferry " * 2_000, "*" * 10_000, many_words]:
            try:
                index.search(build_query(text))
                index.stats(build_query(text))
            except InvalidQuery:
                pass  # a one-line refusal is a fine answer; anything else fails the test
        assert len(index.search(build_query("ferry timetable", all_copies=True))) == STORIES
        assert index.count() == STORIES


async def test_offset_pages_through_the_hits_in_both_backends(backend: Backend) -> None:
    async with serving(backend.settings) as api:
        async def ids(**params: str) -> list[str]:
            status, body = await _answer(api, "/api/v1/search", {"q": "ferry", **params})
            assert status == 200, body
            return [hit["id"] for hit in json.loads(body)["hits"]]

        everything = await ids(limit="10")
        pages = [await ids(limit="2", offset=str(offset)) for offset in (0, 2, 4)]
    assert len(everything) == STORIES and pages == [everything[:2], everything[2:], []]


def test_cli_search_offset_skips_hits(backend: Backend, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NEWSINGEST_DATA_DIR", str(backend.settings.data_dir))
    if backend.settings.elasticsearch_url:
        monkeypatch.setenv("NEWSINGEST_REDIS_URL", "redis://unused")
        monkeypatch.setenv("NEWSINGEST_ELASTICSEARCH_URL", backend.settings.elasticsearch_url)
        monkeypatch.setenv("NEWSINGEST_INDEX_ALIAS", backend.settings.index_alias)

    def ids(*args: str) -> list[str]:
        assert main(["--log-level", "WARNING", "search", "ferry", "--json", *args]) == 0
        return [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]

    everything = ids()
    assert len(everything) == STORIES and ids("--offset", "1", "--limit", "1") == everything[1:2]
