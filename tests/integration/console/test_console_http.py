"""The console over plain HTTP (no browser): signing in with a token, what the cookie may do, headers,
links an article cannot turn into scripts, and errors as pages. The real `serve` app on loopback, over a
standalone index."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.settings import ApiSettings, Settings
from tests.api_client import serving
from workers.documents import Article
from workers.index.sqlite import SqliteIndex, open_database

pytestmark = pytest.mark.integration

TOKEN = "console-token-for-tests"
MakeArticle = Callable[..., Article]


@pytest.fixture
def data_dir(tmp_path: Path, make_article: MakeArticle, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A standalone index with an ordinary article and one whose URLs are scripts."""
    monkeypatch.delenv("NEWSINGEST_SETTINGS_FILE", raising=False)
    directory = tmp_path / "data"
    directory.mkdir()
    conn = open_database(Settings(data_dir=directory).sqlite_path)
    SqliteIndex(conn).bulk_index([
        make_article(id="a" * 32, title="Ferry timetable change", text="The harbour ferry runs later."),
        make_article(id="b" * 32, title="Scripted", url="javascript:alert(document.cookie)",
                     canonical_url="javascript:alert(1)", text="A body that carries a script as its address."),
    ])
    conn.close()
    return directory


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(f"{TOKEN}\n", encoding="utf-8")
    return path


async def test_a_browser_signs_in_with_a_token_and_out_again(data_dir: Path, token_file: Path) -> None:
    async with serving(Settings(data_dir=data_dir, api=ApiSettings(token_file=token_file))) as web:
        first = await web.get("/sources?x=1", allow_redirects=False)
        assert first.status == 303 and first.headers["Location"] == "/login?next=%2Fsources%3Fx%3D1"
        form = await web.get("/login?next=/sources?x=1")
        assert form.status == 200 and 'name="next" value="/sources?x=1"' in await form.text()

        wrong = await web.post("/login", data={"token": "not-it", "next": "/sources"}, allow_redirects=False)
        assert wrong.status == 401 and "not accepted" in await wrong.text()
        assert "newsingest_token" not in web.session.cookie_jar.filter_cookies(web.make_url("/"))

        right = await web.post("/login", data={"token": TOKEN, "next": "/sources?x=1"}, allow_redirects=False)
        assert right.status == 303 and right.headers["Location"] == "/sources?x=1"
        cookie = right.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        page = await web.get("/sources", allow_redirects=False)
        assert page.status == 200 and "Sign out" in await page.text()
        assert (await web.get("/api/v1/search", params={"q": "ferry"})).status == 200  # the cookie serves the API too

        out = await web.post("/logout", allow_redirects=False)
        assert out.status == 303
        assert (await web.get("/sources", allow_redirects=False)).status == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
async def test_sign_in_never_sends_the_browser_to_another_site(data_dir: Path, token_file: Path, target: str) -> None:
    async with serving(Settings(data_dir=data_dir, api=ApiSettings(token_file=token_file))) as web:
        answer = await web.post("/login", data={"token": TOKEN, "next": target}, allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == "/"


async def test_a_sign_in_posted_from_another_site_is_refused(data_dir: Path, token_file: Path) -> None:
    async with serving(Settings(data_dir=data_dir, api=ApiSettings(token_file=token_file))) as web:
        answer = await web.post("/login", data={"token": TOKEN}, headers={"Origin": "https://evil.example"},
                                allow_redirects=False)
    assert answer.status == 403 and "Set-Cookie" not in answer.headers


async def test_without_tokens_there_is_no_sign_in(data_dir: Path) -> None:
    async with serving(Settings(data_dir=data_dir)) as web:
        assert (await web.get("/")).status == 200
        assert (await web.get("/login")).status == 404


async def test_pages_forbid_inline_scripts_and_framing(data_dir: Path) -> None:
    async with serving(Settings(data_dir=data_dir)) as web:
        for path in ("/", "/?q=ferry", "/sources", "/overview", f"/articles/{'a' * 32}", "/articles/missing"):
            answer = await web.get(path)
            policy = answer.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, path
            assert "frame-ancestors 'none'" in policy and answer.headers["X-Frame-Options"] == "DENY"
            assert answer.content_type == "text/html"
            assert "<script>" not in await answer.text()  # only <script src=...> of our own


async def test_a_script_url_is_shown_as_text_never_as_a_link(data_dir: Path) -> None:
    async with serving(Settings(data_dir=data_dir)) as web:
        article = await (await web.get(f"/articles/{'b' * 32}")).text()
        results = await (await web.get("/", params={"q": "script"})).text()
    for html in (article, results):
        assert 'href="javascript:' not in html.lower()
    assert "javascript:alert(document.cookie)" in article  # shown, as text
    assert "Read the original" not in article


async def test_empty_form_fields_redirect_to_the_short_address(data_dir: Path) -> None:
    async with serving(Settings(data_dir=data_dir)) as web:
        answer = await web.get("/?q=ferry&source=&lang=&since=&sort=", allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == "/?q=ferry"


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/?page=0", 400, "page must be a whole number from 1"),
        ("/?page=999", 400, "deeper than the 1000 results"),
        ("/?until=2020-01-01&since=2021-01-01", 400, "is not after --since"),
        ("/overview?days=3", 400, "days must be one of 7, 30, 90, 365"),
        ("/articles/nothing-here", 404, "no article with the id"),
    ],
)
async def test_bad_requests_are_pages_that_say_what_to_do(data_dir: Path, path: str, status: int, says: str) -> None:
    async with serving(Settings(data_dir=data_dir)) as web:
        answer = await web.get(path)
        assert answer.status == status and says in await answer.text()


async def test_a_missing_index_is_a_page_that_names_no_path(tmp_path: Path) -> None:
    async with serving(Settings(data_dir=tmp_path / "empty")) as web:
        answer = await web.get("/?q=ferry")
        body = await answer.text()
    assert answer.status == 503 and "run --once" in body and str(tmp_path) not in body


async def test_the_overview_names_no_file_of_the_server(data_dir: Path) -> None:
    async with serving(Settings(data_dir=data_dir)) as web:
        answer = await web.get("/overview")
        body = await answer.text()
    assert answer.status == 200 and "Daemon" in body and "not running" in body
    assert str(data_dir) not in body


async def test_thousands_of_sources_are_paged_worst_first(data_dir: Path, tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    lines = [f"  - {{name: feed-{n:03d}, url: 'https://feed{n}.example/rss.xml'}}" for n in range(150)]
    lines.append("  - {name: zz-off, url: 'https://off.example/rss.xml', enabled: false}")
    sources.write_text("sources:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    async with serving(Settings(data_dir=data_dir, sources=sources)) as web:
        first = await (await web.get("/sources")).text()
        second = await (await web.get("/sources?page=2")).text()
        bad = await web.get("/sources?page=zero")
    assert first.count('<tr class="row-') == 100 and second.count('<tr class="row-') == 51
    assert first.index("zz-off") < first.index("feed-000")  # paused before never polled, on page 1
    assert "sources 1–100 of 151" in first and 'href="/sources?page=2"' in first
    assert "sources 101–151 of 151" in second and 'href="/sources?page=1"' in second
    assert str(tmp_path) not in first  # the page names the file, not where it lives
    assert bad.status == 400
