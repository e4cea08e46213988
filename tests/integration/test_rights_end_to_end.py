"""Publishers' reuse signals, from a loopback origin through the real CLI to stored documents and the API.

The origin (tests/fixtures/rights) serves a feed of six pages: a Creative Commons licence, a noarchive
header, a tdm-reservation meta, a path its /.well-known/tdmrep.json reserves, a nosnippet header with a
licence Link, and a paywall. Both modes: a real Celery worker, Redis and Elasticsearch when distributed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict

from ingest.settings import Settings
from tests.api_client import serving
from tests.installation import Installation, base_env
from tests.origin import FIXTURES, Origin

SITE = FIXTURES / "rights"
HEADERS: dict[str, dict[str, list[str]]] = json.loads((SITE / "headers.json").read_text(encoding="utf-8"))
FIELDS = ("url", "title", "text", "summary", "robots", "tdm_reserved", "tdm_policy", "tdm_signal", "license_url",
          "license", "paywalled", "stored")
PAGES = 6


def _herald() -> web.Application:
    """The Harbour Herald: its feed (links to this origin), pages with their headers, tdmrep.json."""
    app = web.Application()

    async def feed(request: web.Request) -> web.Response:
        body = (SITE / "feed.xml").read_text(encoding="utf-8").replace("ORIGIN", f"http://{request.host}")
        return web.Response(text=body, content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        path = SITE / request.match_info["section"] / request.match_info["name"]
        if not path.is_file():
            raise web.HTTPNotFound()
        headers = CIMultiDict((name, value) for name, values in HEADERS.get(request.path, {}).items() for value in values)
        return web.Response(text=path.read_text(encoding="utf-8"), content_type="text/html", headers=headers)

    async def tdmrep(_request: web.Request) -> web.Response:
        return web.Response(text=(SITE / "tdmrep.json").read_text(encoding="utf-8"), content_type="application/json")

    app.router.add_get("/feed.xml", feed)
    app.router.add_get("/.well-known/tdmrep.json", tdmrep)
    app.router.add_get("/{section:news|members}/{name}", page)
    return app


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    herald_origin = Origin(_herald)
    herald_origin.start()
    yield herald_origin  # pytest runs the rest however the tests ended
    herald_origin.stop()


def _install(request: pytest.FixtureRequest, origin: Origin, tmp: Path, mode: str, policy: str | None) -> Installation:
    sources = tmp / "sources.yaml"
    line = f"\n    reuse_reserved: {policy}" if policy else ""
    sources.write_text(
        f"sources:\n  - name: herald\n    url: {origin.base}/feed.xml\n    allow_hosts: [\"{origin.host}\"]{line}\n",
        encoding="utf-8",
    )
    installation = Installation(base_env(tmp), tmp, sources)
    if mode == "distributed":
        installation.distribute(
            request.getfixturevalue("redis_url"), request.getfixturevalue("elasticsearch_url"),
            request.getfixturevalue("es_alias"), request.getfixturevalue("redis_prefix"),
        )
        installation.start_worker()  # in its own process group, which stop_all() ends
    return installation


@pytest.fixture(params=["standalone", "distributed"])
def herald(request: pytest.FixtureRequest, origin: Origin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    installation = _install(request, origin, tmp_path_factory.mktemp(request.param), request.param, None)
    yield installation
    installation.stop_all()


@pytest.fixture
def skipping(request: pytest.FixtureRequest, origin: Origin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    installation = _install(request, origin, tmp_path_factory.mktemp("skip"), "standalone", "skip")
    yield installation
    installation.stop_all()


def _ingest(installation: Installation) -> dict[str, dict[str, Any]]:
    """Run one poll; the stored documents by path."""
    result = installation.cli("run", "--once", "--sources", str(installation.sources_file), timeout_s=300)
    assert result.returncode == 0, result.stderr[-3000:]
    documents = installation.documents(FIELDS).values()
    return {doc["url"].split("/", 3)[3]: doc for doc in documents}


def _settings(installation: Installation) -> Settings:
    env = installation.env
    if installation.distributed:
        return Settings(redis_url=env["NEWSINGEST_REDIS_URL"], elasticsearch_url=env["NEWSINGEST_ELASTICSEARCH_URL"],
                        index_alias=env["NEWSINGEST_INDEX_ALIAS"])
    return Settings(data_dir=Path(env["NEWSINGEST_DATA_DIR"]))


async def test_reuse_signals_are_recorded_and_respected(herald: Installation) -> None:
    docs = _ingest(herald)
    assert len(docs) == PAGES, sorted(docs)

    licensed = docs["news/coastal-wind-farm.html"]
    assert (licensed["license"], licensed["license_url"], licensed["stored"]) == (
        "CC-BY-SA-4.0", "https://creativecommons.org/licenses/by-sa/4.0/", "full"
    )
    assert "twelve-turbine wind farm" in licensed["text"] and not licensed["tdm_reserved"]

    # noarchive (the googlebot-only noindex beside it is not ours): metadata and a snippet, no text.
    noarchive = docs["news/council-budget-vote.html"]
    assert (noarchive["robots"], noarchive["stored"], noarchive["text"]) == (["noarchive"], "metadata", "")
    assert noarchive["title"] == "Council delays budget vote as library cuts draw protest" and noarchive["summary"]

    meta = docs["news/rail-strike-talks.html"]
    assert (meta["tdm_reserved"], meta["tdm_signal"], meta["tdm_policy"], meta["stored"], meta["text"]) == (
        True, "meta", "https://herald.example/policies/tdm.json", "metadata", ""
    )

    site = docs["members/port-expansion-inquiry.html"]
    assert (site["tdm_reserved"], site["tdm_signal"], site["tdm_policy"], site["stored"]) == (
        True, "tdmrep", "https://herald.example/policies/members-tdm.json", "metadata"
    )
    # tdmrep.json's "/news/*" rule says 0: recorded as said, nothing reserved.
    assert (licensed["tdm_signal"], licensed["tdm_reserved"]) == ("tdmrep", False)

    nosnippet = docs["news/festival-lineup.html"]
    assert (nosnippet["robots"], nosnippet["license"], nosnippet["stored"]) == (["nosnippet"], "CC0-1.0", "full")

    paywalled = docs["news/hospital-waiting-times.html"]
    assert (paywalled["paywalled"], docs["news/coastal-wind-farm.html"]["paywalled"]) == (True, False)

    # The API: the nosnippet document has neither snippet nor summary, in a search hit or by id.
    async with serving(_settings(herald)) as api:
        response = await api.get("/api/v1/search", params={"q": "festival lineup", "all_copies": "true"})
        assert response.status == 200, await response.text()
        hits = {hit["url"].split("/", 3)[3]: hit for hit in (await response.json())["hits"]}
        hit = hits["news/festival-lineup.html"]
        assert (hit["snippet"], hit["snippet_html"], hit["summary"]) == ("", "", None)
        response = await api.get(f"/api/v1/articles/{hit['id']}")
        assert (await response.json())["summary"] is None
        response = await api.get("/api/v1/search", params={"q": "wind farm"})
        others = (await response.json())["hits"]
        assert any(h["snippet"] for h in others if h["url"].endswith("coastal-wind-farm.html"))

    # `search --json` and `export` agree.
    found = herald.cli("search", "festival lineup", "--json")
    assert found.returncode == 0, found.stderr
    (line,) = [json.loads(row) for row in found.stdout.splitlines() if "festival-lineup" in row]
    assert (line["snippet"], line["summary"]) == ("", None)
    exported = herald.cli("export")
    assert exported.returncode == 0, exported.stderr
    rows: Mapping[str, Any] = {r["url"].split("/", 3)[3]: r for r in map(json.loads, exported.stdout.splitlines())}
    assert rows["news/festival-lineup.html"]["summary"] is None
    assert (rows["news/council-budget-vote.html"]["stored"], rows["news/council-budget-vote.html"]["text"]) == ("metadata", "")


def test_skip_policy_stores_nothing_of_reserved_pages_and_letters_nothing(skipping: Installation) -> None:
    result = skipping.cli("run", "--once", "--sources", str(skipping.sources_file), timeout_s=300)
    assert result.returncode == 0, result.stderr[-3000:]
    kept = {doc["url"].split("/", 3)[3] for doc in skipping.documents(("url",)).values()}
    assert kept == {"news/coastal-wind-farm.html", "news/festival-lineup.html", "news/hospital-waiting-times.html"}
    assert skipping.dead_letters() == []
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    withheld = [e for e in events if e.get("event") == "article_withheld"]
    assert len(withheld) == 3 and all(e["level"] == "info" for e in withheld)
