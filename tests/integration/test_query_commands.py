"""search, stats, export, index status and the HTTP API, as people use them, in both modes.

The CLI runs in this process (`ingest.cli.main`); the API is the real aiohttp app on 127.0.0.1.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ingest.cli import main
from ingest.serve import make_app
from ingest.settings import Settings
from workers.documents import Article
from workers.index.elastic import ElasticIndex
from workers.index.sqlite import SqliteIndex, open_database

pytestmark = pytest.mark.integration

MakeArticle = Callable[..., Article]


@dataclass
class Mode:
    name: str
    settings: Settings
    add: Callable[[list[Article]], None]


@pytest.fixture(params=["standalone", "distributed"])
def mode(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mode]:
    for variable in ("NEWSINGEST_REDIS_URL", "NEWSINGEST_ELASTICSEARCH_URL", "NEWSINGEST_SETTINGS_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NEWSINGEST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NO_COLOR", "1")
    if request.param == "standalone":
        settings = Settings(data_dir=tmp_path / "data")

        def add_sqlite(articles: list[Article]) -> None:
            conn = open_database(settings.sqlite_path)
            SqliteIndex(conn).bulk_index(articles)
            conn.close()

        yield Mode("standalone", settings, add_sqlite)
        return
    url, alias = request.getfixturevalue("elasticsearch_url"), request.getfixturevalue("es_alias")
    monkeypatch.setenv("NEWSINGEST_REDIS_URL", request.getfixturevalue("redis_url"))
    monkeypatch.setenv("NEWSINGEST_ELASTICSEARCH_URL", url)
    monkeypatch.setenv("NEWSINGEST_INDEX_ALIAS", alias)
    settings = Settings(redis_url="redis://unused", elasticsearch_url=url, index_alias=alias)

    def add_elastic(articles: list[Article]) -> None:
        index = ElasticIndex(url, alias)
        index.ensure_ready()
        index.bulk_index(articles)
        index.refresh()
        index.close()

    yield Mode("distributed", settings, add_elastic)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--log-level", "WARNING", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def news(mode: Mode, make_article: MakeArticle) -> dict[str, Article]:
    today = datetime.now(UTC).replace(microsecond=0)
    original = make_article(
        title="Ferry timetable changes for winter",
        text="The harbour authority announced that the ferry will sail twice a day from December.",
        source="harbourtimes", entities=("Port Example",), keywords=("ferry",), published_at=today - timedelta(days=1),
    )
    copy = make_article(
        title="Ferry timetable changes for winter", text=original.text, source="coastwire",
        cluster_id=original.id, duplicate_of=original.id, published_at=today - timedelta(hours=20),
    )
    other = make_article(title="Library opens on Sundays", source="harbourtimes", published_at=today - timedelta(days=3))
    mode.add([original, copy, other])
    return {"original": original, "copy": copy, "other": other}


# -- search


def test_search_prints_a_table_with_title_source_date_and_snippet(
    news: dict[str, Article], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(capsys, "search", "ferry")
    original = news["original"]
    assert code == 0
    assert original.title in out and "harbourtimes" in out and original.published_at is not None
    assert original.published_at.date().isoformat() in out and "harbour authority" in out
    assert "(+1 copy)" in out and "\x1b[" not in out  # no colours off a terminal


def test_search_json_has_the_same_shape_in_both_modes(news: dict[str, Article], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _cli(capsys, "search", "ferry", "--json")
    (hit,) = [json.loads(line) for line in out.splitlines()]
    assert set(hit) == set(Article.model_fields) | {"score", "snippet", "snippet_html", "copies"}
    assert hit["copies"] == 2 and "<mark>ferry</mark>" in hit["snippet_html"].lower()


def test_search_all_copies_lists_every_copy(news: dict[str, Article], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _cli(capsys, "search", "ferry", "--json", "--all-copies")
    assert len(out.splitlines()) == 2


def test_search_filters_by_entity_and_relative_since(news: dict[str, Article], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _cli(capsys, "search", "", "--json", "--entity", "port example", "--since", "2d")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [news["original"].id]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterdayish"), "is not a date or a duration"),
        (("--since", "2099-01-01"), "in the future"),
        (("--since", "2026-11-20", "--until", "2026-11-01"), "not after"),
        (("--limit", "0"), "limit must be"),
    ],
)
def test_bad_input_is_one_line_without_a_traceback(
    news: dict[str, Article], capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, err = _cli(capsys, "search", "ferry", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_search_before_anything_was_ingested_says_what_to_do(mode: Mode, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "search", "ferry")
    assert code == 1 and "ingest something first" in err and len(err.strip().splitlines()) == 1


# -- stats and export


def test_stats_draws_articles_per_day_as_bars(news: dict[str, Article], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "stats", "--since", "7d")
    assert code == 0 and "3 articles" in out and "1 duplicates" in out and "█" in out and "Port Example" in out


def test_stats_json_counts_per_source(news: dict[str, Article], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _cli(capsys, "stats", "--json")
    assert json.loads(out)["per_source"] == [{"key": "harbourtimes", "count": 2}, {"key": "coastwire", "count": 1}]


def test_export_jsonl_streams_every_matching_document(news: dict[str, Article], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _cli(capsys, "export", "--source", "harbourtimes")
    assert sorted(json.loads(line)["id"] for line in out.splitlines()) == sorted([news["original"].id, news["other"].id])


def test_export_csv_has_a_header_and_one_row_per_document(news: dict[str, Article], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _cli(capsys, "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3 and {row["title"] for row in rows} >= {"Library opens on Sundays"}


def test_index_status_shows_the_documents(news: dict[str, Article], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "index", "status")
    assert code == 0 and "3" in out and ("mapping v" in out or "schema version" in out)


# -- the HTTP API


@pytest.fixture
async def api(mode: Mode) -> Any:
    client = TestClient(TestServer(make_app(mode.settings), host="127.0.0.1"))
    await client.start_server()
    yield client
    await client.close()


async def test_api_search_answers_with_hits(news: dict[str, Article], api: TestClient) -> None:  # type: ignore[type-arg]
    response = await api.get("/api/v1/search", params={"q": "ferry", "all_copies": "true"})
    body = await response.json()
    assert response.status == 200 and len(body["hits"]) == 2


async def test_api_returns_one_article_by_id(news: dict[str, Article], api: TestClient) -> None:  # type: ignore[type-arg]
    response = await api.get(f"/api/v1/articles/{news['other'].id}")
    assert (await response.json())["title"] == "Library opens on Sundays"


async def test_api_unknown_article_is_404(news: dict[str, Article], api: TestClient) -> None:  # type: ignore[type-arg]
    assert (await api.get("/api/v1/articles/nope")).status == 404


async def test_api_unknown_parameter_is_a_400_naming_it(news: dict[str, Article], api: TestClient) -> None:  # type: ignore[type-arg]
    response = await api.get("/api/v1/search", params={"q": "ferry", "colour": "red"})
    assert response.status == 400 and "'colour'" in (await response.json())["error"]


async def test_api_stats_match_the_cli(news: dict[str, Article], api: TestClient) -> None:  # type: ignore[type-arg]
    body = await (await api.get("/api/v1/stats", params={"source": "harbourtimes"})).json()
    assert body["documents"] == 2


async def test_api_is_ready_when_the_index_answers(news: dict[str, Article], api: TestClient) -> None:  # type: ignore[type-arg]
    assert [(await api.get(path)).status for path in ("/healthz", "/readyz")] == [200, 200]


async def test_api_is_not_ready_before_anything_was_ingested(api: TestClient) -> None:  # type: ignore[type-arg]
    response = await api.get("/readyz")
    assert response.status == 503 and "ingest something first" in (await response.json())["error"]


async def test_api_describes_itself_in_openapi(api: TestClient) -> None:  # type: ignore[type-arg]
    spec = await (await api.get("/api/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.") and "/api/v1/search" in spec["paths"]


async def test_api_is_read_only(api: TestClient) -> None:  # type: ignore[type-arg]
    assert (await api.post("/api/v1/search")).status == 405
