"""The console shows what publishers said about reuse: the licence (linked when it is a web address), the
reuse flags, a paywalled badge, no snippet for nosnippet pages and no text for metadata-only ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.settings import Settings
from tests.api_client import serving
from workers.documents import Article
from workers.index.sqlite import SqliteIndex, open_database

pytestmark = pytest.mark.integration

MakeArticle = Callable[..., Article]
LICENSED, RESERVED, SCRIPTED = "c" * 32, "d" * 32, "e" * 32


@pytest.fixture
def settings(tmp_path: Path, make_article: MakeArticle, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("NEWSINGEST_SETTINGS_FILE", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    conn = open_database(settings.sqlite_path)
    SqliteIndex(conn).bulk_index([
        make_article(id=LICENSED, title="Lighthouse keepers remembered", text="The lighthouse keepers of the point.",
                     summary="A lighthouse exhibition opens.", robots=("nosnippet",), paywalled=True,
                     license_url="https://creativecommons.org/licenses/by/4.0/", license="CC-BY-4.0"),
        make_article(id=RESERVED, title="Lighthouse sale agreed", text="", stored="metadata",
                     summary="The old lighthouse is sold.", tdm_reserved=True, tdm_signal="tdmrep",
                     tdm_policy="https://herald.example/tdm.json", robots=("noarchive",)),
        make_article(id=SCRIPTED, title="Lighthouse licence", text="A lighthouse with a scripted licence link.",
                     license_url="javascript:alert(1)"),
    ])
    conn.close()
    return settings


async def test_the_article_page_shows_licence_flags_and_badge(settings: Settings) -> None:
    async with serving(settings) as web:
        page = await (await web.get(f"/articles/{LICENSED}")).text()
    assert '<a href="https://creativecommons.org/licenses/by/4.0/"' in page and ">CC-BY-4.0</a>" in page
    assert 'class="badge paywalled"' in page and '<span class="badge">nosnippet</span>' in page


async def test_a_metadata_only_article_says_its_text_was_not_kept(settings: Settings) -> None:
    async with serving(settings) as web:
        page = await (await web.get(f"/articles/{RESERVED}")).text()
    assert "The text was not kept" in page and "TDM reserved (tdmrep), noarchive" in page
    assert '<a href="https://herald.example/tdm.json"' in page and "metadata only stored" in page


async def test_a_licence_that_is_no_web_address_is_not_linked(settings: Settings) -> None:
    async with serving(settings) as web:
        page = await (await web.get(f"/articles/{SCRIPTED}")).text()
    assert "javascript:alert(1)" in page and 'href="javascript:' not in page


async def test_search_shows_no_snippet_for_nosnippet_pages(settings: Settings) -> None:
    async with serving(settings) as web:
        page = await (await web.get("/", params={"q": "lighthouse"})).text()
    assert "exhibition" not in page and "is sold." in page  # the other hit keeps its (highlighted) snippet
    assert 'class="badge paywalled"' in page
