"""A feed-less site through the real CLI in standalone mode: the seed article, published on the fixture
site, is indexed with the same clean text as through the feed, and says it was found on a page.
`sources check --preview` shows what a page source would take and skip, and why."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.cli import main
from tests.origin import FIXTURES, Origin, running_origin, running_site

ROOT = Path(__file__).resolve().parents[2]
SITE = FIXTURES / "sites" / "harbour-gazette"
FEED_PAGE = "/pages/worldwire/2016/08/putin-erdogan-repair-ties.html"
SITE_PAGE = "/world/2016/08/10/putin-erdogan-repair-ties/"


@pytest.fixture(scope="module")
def origins() -> Iterator[tuple[Origin, Origin]]:
    with running_origin() as feed_origin, running_site(SITE) as site:
        yield feed_origin, site


def _sources(feed_origin: Origin, site: Origin) -> str:
    # The site by name, as another outlet: on 127.0.0.1 too, the two would be one domain to the
    # workers, which learn a domain's repeated lines as its boilerplate (and the story is in both).
    base, host = f"http://localhost:{site.port}", f"localhost:{site.port}"
    return textwrap.dedent(
        f"""\
        sources:
          - name: worldwire
            url: {feed_origin.base}/feed.xml
            language: en
            allow_hosts: ["{feed_origin.host}"]
          - name: harbour-gazette
            kind: page
            url: {base}/
            language: en
            allow_hosts: ["{host}"]
            scrape:
              link_selector: section.wires
        """
    )


@pytest.fixture(scope="module")
def ingested(origins: tuple[Origin, Origin], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("scrape-e2e")
    sources = tmp / "sources.yaml"
    sources.write_text(_sources(*origins), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(
        NEWSINGEST_DATA_DIR=str(tmp / "data"),
        NEWSINGEST_POLLING__HOST_DELAY_S="0",
        NEWSINGEST_PROCESSING_WORKERS="2",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "run", "--once", "--sources", str(sources)],
        env=env, cwd=tmp, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return sources, env


def _documents(env: dict[str, str]) -> list[dict[str, Any]]:
    with sqlite3.connect(Path(env["NEWSINGEST_DATA_DIR"]) / "newsingest.sqlite3") as db:
        return [json.loads(row[0]) for row in db.execute("SELECT document FROM articles")]


def test_the_seed_article_on_a_feedless_site_is_indexed_like_the_feeds_copy(ingested: tuple[Path, dict[str, str]]) -> None:
    documents = _documents(ingested[1])
    from_feed = next(d for d in documents if d["url"].endswith(FEED_PAGE))
    from_page = next(d for d in documents if d["url"].endswith(SITE_PAGE))
    assert from_page["text"] == from_feed["text"]
    assert from_page["title"] == from_feed["title"] == "Putin and Erdogan move towards repairing ties amid tension with West"
    assert (from_page["discovered_via"], from_feed["discovered_via"]) == ("page", "feed")
    assert from_page["source"] == "harbour-gazette" and from_page["feed_url"] is None
    assert [d["source"] for d in documents].count("harbour-gazette") == 1  # only the link area's story


def test_sources_status_shows_what_a_page_source_found(ingested: tuple[Path, dict[str, str]]) -> None:
    sources, env = ingested
    result = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "sources", "status", str(sources)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    block = result.stdout.split("harbour-gazette", 1)[1]
    assert "(enabled , page)" in block and "items found 1" in block and "new in all 1" in block


def test_sources_check_preview_lists_links_to_take_and_to_skip_with_reasons(
    origins: tuple[Origin, Origin], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, site = origins
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: harbour-gazette\n    kind: page\n    url: {site.base}/\n"
        f"    allow_hosts: ['{site.host}']\n    scrape:\n      listing_urls: ['{site.base}/city/']\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("NEWSINGEST_DATA_DIR", str(tmp_path / "data"))
    assert main(["sources", "check", "--preview", str(sources)]) == 0
    out = capsys.readouterr().out
    assert f"listing {site.base}/city/: 30 links, 4 to take" in out
    assert f"next page: {site.base}/city/?page=2" in out
    assert "  take (9):" in out
    assert '    /2026/11/24/council-approves-new-ferry-pier/  "Council approves new ferry pier at Kettle Point"' in out
    assert "    navigation (14):" in out and "      /tag/ferries/  [/tag/]" in out
    assert "    other domain (4):" in out and "      https://ads.example/click?c=8812  [ads.example]" in out
    assert "    in an ad or share block (1):" in out
    assert "      /documents/harbour-budget-2027.pdf  [.pdf]" in out
