"""The fetching daemon against a real local origin: politeness, state, retry budget, hot reload,
sitemap indexes, site discovery, and the address guard on links; Redis state and backpressure
against the real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestServer
from celery import Celery
from structlog.testing import capture_logs

from ingest.client import HttpClient
from ingest.daemon import Daemon
from ingest.handoff import CeleryHandoff
from ingest.jobs import ArticleJob, FeedEntry, SourceSnapshot
from ingest.settings import HttpSettings, PollingSettings, Settings
from tests.recording_handoff import Recorder
from ingest.sources import Source, load_sources
from ingest.state import FeedState, RedisFeedState, SeenLimits, SqliteFeedState

ARTICLE = "<html><head><title>{0}</title></head><body><article><p>{0} — a story.</p></article></body></html>"


def _rss(base: str, paths: Sequence[str]) -> str:
    items = "".join(f"<item><title>{p}</title><link>{base}{p}</link><guid>{p}</guid></item>" for p in paths)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{items}</channel></rss>"


class Origin:
    """Feeds and pages made up per test; counts every request by path."""

    def __init__(self) -> None:
        self.feeds: dict[str, tuple[str, str]] = {}  # path -> (content type, body)
        self.hits: dict[str, int] = {}
        self.failing: set[str] = set()

    async def handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        if request.path in self.failing:
            return web.Response(status=500, text="broken")
        if request.path in self.feeds:
            content_type, body = self.feeds[request.path]
            return web.Response(text=body, content_type=content_type)
        if request.path.startswith("/news/"):
            return web.Response(text=ARTICLE.format(request.path), content_type="text/html")
        return web.Response(status=404)


@pytest.fixture
async def origin() -> AsyncIterator[tuple[Origin, TestServer]]:
    state = Origin()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", state.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield state, server


@pytest.fixture
async def sqlite_state(tmp_path: Path) -> AsyncIterator[SqliteFeedState]:
    owner = ThreadPoolExecutor(1)
    state = SqliteFeedState(tmp_path / "state.sqlite3", owner)
    yield state
    await state.close()
    owner.shutdown()


SETTINGS = Settings(polling=PollingSettings(host_delay_s=0, reload_check_s=0.1, page_retry_budget=2))


def _source(server: TestServer, name: str, path: str, **extra: object) -> Source:
    return Source.model_validate(
        {"name": name, "url": str(server.make_url(path)), "allow_hosts": [f"127.0.0.1:{server.port}"], **extra}
    )


async def _once(sources: list[Source], state: FeedState, handoff: Recorder | None = None) -> Recorder:
    recorder = handoff or Recorder()
    async with HttpClient(HttpSettings()) as client:
        await Daemon(SETTINGS, sources, client, state, recorder).run_once()
    return recorder


async def test_a_big_poll_is_handed_off_batch_by_batch_while_its_pages_still_download(
    origin: tuple[Origin, TestServer], sqlite_state: SqliteFeedState
) -> None:
    feeds, server = origin
    paths = [f"/news/{n}" for n in range(45)]
    feeds.feeds["/big.xml"] = ("application/rss+xml", _rss(str(server.make_url("")), paths))

    class Watching(Recorder):
        pages_fetched_at_hand_off: list[int] = []

        async def submit(self, jobs: Sequence[ArticleJob]) -> None:
            self.pages_fetched_at_hand_off.append(sum(feeds.hits.get(p, 0) for p in paths))
            await super().submit(jobs)

    recorder = await _once([_source(server, "big", "/big.xml")], sqlite_state, Watching())
    assert len(recorder.jobs) == 45
    # batch_size 20, at most fetch_concurrency (8) pages in flight: the first batch goes while
    # more than a third of the poll is still to be fetched.
    assert len(Watching.pages_fetched_at_hand_off) == 3
    assert Watching.pages_fetched_at_hand_off[0] <= 20 + SETTINGS.fetch_concurrency < 45


async def test_status_fields_are_saved_and_a_failing_source_does_not_hurt_others(
    origin: tuple[Origin, TestServer], sqlite_state: SqliteFeedState
) -> None:
    feeds, server = origin
    feeds.feeds["/good.xml"] = ("application/rss+xml", _rss(str(server.make_url("")), ["/news/1", "/news/2"]))
    feeds.failing.add("/bad.xml")
    recorder = await _once([_source(server, "good", "/good.xml"), _source(server, "bad", "/bad.xml")], sqlite_state)
    assert len(recorder.jobs) == 2
    good, bad = await sqlite_state.load("good"), await sqlite_state.load("bad")
    assert good.last_success_at and good.items_found == 2 and good.next_poll_at and good.last_error is None
    assert bad.failures == 1 and bad.last_error_type == "BadStatus" and "HTTP 500" in (bad.last_error or "")


async def test_a_restart_does_not_fetch_articles_again(
    origin: tuple[Origin, TestServer], sqlite_state: SqliteFeedState
) -> None:
    feeds, server = origin
    base = str(server.make_url(""))
    feeds.feeds["/feed.xml"] = ("application/rss+xml", _rss(base, ["/news/1", "/news/2"]))
    await _once([_source(server, "ww", "/feed.xml")], sqlite_state)
    feeds.feeds["/feed.xml"] = ("application/rss+xml", _rss(base, ["/news/1", "/news/2", "/news/3"]))
    again = await _once([_source(server, "ww", "/feed.xml")], sqlite_state)  # a new daemon, same state
    assert [job.url for job in again.jobs] == [f"{base}/news/3"]
    assert feeds.hits["/news/1"] == 1


async def test_a_page_that_keeps_failing_is_given_up_after_its_budget(
    origin: tuple[Origin, TestServer], sqlite_state: SqliteFeedState
) -> None:
    feeds, server = origin
    feeds.feeds["/feed.xml"] = ("application/rss+xml", _rss(str(server.make_url("")), ["/news/ok", "/news/broken"]))
    feeds.failing.add("/news/broken")
    source = _source(server, "ww", "/feed.xml")
    for _ in range(4):
        await _once([source], sqlite_state)
    assert feeds.hits["/news/broken"] == SETTINGS.polling.page_retry_budget
    assert feeds.hits["/news/ok"] == 1


async def test_a_feed_on_an_allowed_port_cannot_send_the_fetcher_to_another_local_port(
    origin: tuple[Origin, TestServer], sqlite_state: SqliteFeedState
) -> None:
    feeds, server = origin
    feeds.feeds["/feed.xml"] = ("application/rss+xml", _rss("http://127.0.0.1:1", ["/admin"]))
    with capture_logs() as logs:
        recorder = await _once([_source(server, "ww", "/feed.xml")], sqlite_state)
    assert recorder.jobs == []
    assert any(e["event"] == "article_fetch_failed" and e["error_type"] == "BlockedAddress" for e in logs)


async def test_a_sitemap_index_is_followed_to_its_children(
    origin: tuple[Origin, TestServer], sqlite_state: SqliteFeedState
) -> None:
    feeds, server = origin
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    feeds.feeds["/sitemap.xml"] = (
        "application/xml",
        f"<sitemapindex xmlns='{ns}'><sitemap><loc>/sitemap-1.xml</loc></sitemap>"
        f"<sitemap><loc>/sitemap-2.xml</loc></sitemap></sitemapindex>",
    )
    for n in (1, 2):
        feeds.feeds[f"/sitemap-{n}.xml"] = ("application/xml", f"<urlset xmlns='{ns}'><url><loc>/news/s{n}</loc></url></urlset>")
    recorder = await _once([_source(server, "sm", "/sitemap.xml", kind="sitemap")], sqlite_state)
    assert sorted(job.entry.link.rsplit("/", 1)[1] for job in recorder.jobs if job.entry) == ["s1", "s2"]
    assert {job.discovered_via for job in recorder.jobs} == {"sitemap"}


async def test_a_site_source_finds_its_feed_from_the_home_page(
    origin: tuple[Origin, TestServer], sqlite_state: SqliteFeedState
) -> None:
    feeds, server = origin
    feeds.feeds["/"] = (
        "text/html",
        "<html><head><link rel='alternate' type='application/atom+xml' href='/feeds/all.atom'></head><body>Hi</body></html>",
    )
    feeds.feeds["/feeds/all.atom"] = (
        "application/atom+xml",
        "<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title><id>x</id><updated>2026-01-01T00:00:00Z</updated>"
        "<entry><title>A</title><id>a</id><link href='/news/atom-1'/><updated>2026-01-01T00:00:00Z</updated></entry></feed>",
    )
    recorder = await _once([_source(server, "site", "/", kind="site")], sqlite_state)
    assert [job.url for job in recorder.jobs] == [str(server.make_url("/news/atom-1"))]
    record = await sqlite_state.load("site")
    assert record.feed_url == str(server.make_url("/feeds/all.atom")) and record.discovered


async def test_hot_reload_adds_sources_and_refuses_a_bad_edit(
    origin: tuple[Origin, TestServer], sqlite_state: SqliteFeedState, tmp_path: Path
) -> None:
    feeds, server = origin
    base = str(server.make_url(""))
    feeds.feeds["/a.xml"] = ("application/rss+xml", _rss(base, ["/news/a"]))
    feeds.feeds["/b.xml"] = ("application/rss+xml", _rss(base, ["/news/b"]))
    path = tmp_path / "sources.yaml"

    def write(*names: str, extra: str = "") -> None:
        entries = "".join(
            f"  - name: {n}\n    url: {base}/{n}.xml\n    allow_hosts: ['127.0.0.1:{server.port}']\n{extra}" for n in names
        )
        path.write_text(f"sources:\n{entries}", encoding="utf-8")

    async def until(condition: object, deadline_s: float = 20) -> None:
        end = time.monotonic() + deadline_s
        while not condition() and time.monotonic() < end:  # type: ignore[operator]
            await asyncio.sleep(0.05)
        assert condition(), "not reached in time"  # type: ignore[operator]

    write("a")
    stop = asyncio.Event()
    recorder = Recorder()
    with capture_logs() as logs:
        async with HttpClient(HttpSettings()) as client:
            daemon = Daemon(SETTINGS, load_sources(path).sources, client, sqlite_state, recorder, sources_path=path)
            task = asyncio.create_task(daemon.run_forever(stop))
            await until(lambda: feeds.hits.get("/news/a"))
            write("a", extra="    poll_intervall: 5m\n")  # a typo: refused, a keeps running
            await until(lambda: any(e["event"] == "sources_reload_rejected" for e in logs))
            write("a", "b")
            await until(lambda: feeds.hits.get("/news/b"))
            stop.set()
            await asyncio.wait_for(task, 30)
    rejected = next(e for e in logs if e["event"] == "sources_reload_rejected")
    assert any(f"{path}:5 sources[0].poll_intervall: unknown field" in p for p in rejected["problems"])
    assert {job.url for job in recorder.jobs} == {f"{base}/news/a", f"{base}/news/b"}


async def test_redis_state_prunes_old_seen_entries_and_counts_page_failures(redis_url: str, redis_prefix: str) -> None:
    state = RedisFeedState(redis_url, redis_prefix, SeenLimits(max_age_s=3600, max_per_source=3))
    try:
        await state.mark_seen("s", ["a", "b", "c", "d"])
        assert len(await state.unseen("s", ["a", "b", "c", "d"])) == 1  # only the newest 3 are kept
        assert (await state.page_failed("s", ["x"]))["x"] == 1
        assert (await state.page_failed("s", ["x"]))["x"] == 2
        await state.mark_seen("s", ["x"])
        assert (await state.page_failed("s", ["x"]))["x"] == 1  # success cleared the count
    finally:
        await state.close()


@pytest.mark.parametrize("store", ["redis", "sqlite"])
async def test_seen_entries_of_many_sources_are_written_together_and_kept_apart(
    store: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    limits = SeenLimits(max_per_source=2)
    owner = ThreadPoolExecutor(1)
    state: FeedState = (
        RedisFeedState(redis_url, redis_prefix, limits)
        if store == "redis"
        else SqliteFeedState(tmp_path / "many.sqlite3", owner, limits)
    )
    try:
        await state.mark_seen_many({"s1": ["a", "b", "c"], "s2": ["a"], "s3": []})
        assert len(await state.unseen("s1", ["a", "b", "c"])) == 1  # pruned to 2 within its own source
        assert await state.unseen("s2", ["a", "b"]) == ["b"]
        assert await state.unseen("s3", ["a"]) == ["a"]
    finally:
        await state.close()
        owner.shutdown()


async def test_sqlite_state_prunes_to_the_newest_entries(sqlite_state: SqliteFeedState, tmp_path: Path) -> None:
    limited = SqliteFeedState(tmp_path / "limited.sqlite3", ThreadPoolExecutor(1), SeenLimits(max_per_source=3))
    try:
        for key in ("a", "b", "c", "d"):
            await limited.mark_seen("s", [key])
            await asyncio.sleep(0.01)
        assert await limited.unseen("s", ["a", "b", "c", "d"]) == ["a"]
    finally:
        await limited.close()


async def test_backpressure_pauses_past_high_water_and_resumes_below_low_water(redis_url: str, redis_prefix: str) -> None:
    app = Celery("test", broker=redis_url)
    app.conf.broker_transport_options = {"global_keyprefix": redis_prefix}
    queue_key = f"{redis_prefix}bp-queue"
    handoff = CeleryHandoff(app, "bp-queue", queue_key, redis_url, high_water=5, low_water=2)
    client = redis.Redis.from_url(redis_url)
    try:
        client.rpush(queue_key, *[b"x"] * 6)
        waiting = asyncio.create_task(handoff.wait_ready())
        await asyncio.sleep(1.5)
        assert not waiting.done(), "fetching did not pause past the high-water mark"
        client.ltrim(queue_key, 0, 2)  # workers took some: 3 left, still above the low mark
        await asyncio.sleep(1.5)
        assert not waiting.done()
        client.ltrim(queue_key, 0, 1)  # 2 left: at the low mark
        await asyncio.wait_for(waiting, 10)
        job = ArticleJob(
            url="https://x.example/a", final_url="https://x.example/a", fetched_at="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
            status=200, html="<p>a</p>", source=SourceSnapshot(name="s", kind="rss", url="https://x.example/f"),
            entry=FeedEntry(link="https://x.example/a"),
        )
        await handoff.submit([job])
        assert client.llen(queue_key) == 3, "the job was not enqueued after resuming"
    finally:
        client.close()
        await handoff.close()


async def test_the_daemons_sqlite_state_keeps_only_the_configured_number_of_seen_entries(tmp_path: Path) -> None:
    from ingest.cli import _wiring

    settings = Settings(data_dir=tmp_path, processing_workers=1, polling=PollingSettings(seen_max_per_source=100))
    with _wiring(settings) as (state, _handoff):
        keys = [f"entry-{n}" for n in range(150)]
        for start in range(0, 150, 50):  # three polls, oldest first
            await state.mark_seen("s", keys[start : start + 50])
            await asyncio.sleep(0.01)
        assert await state.unseen("s", keys) == keys[:50]
        await state.close()


async def test_sqlite_state_keeps_the_validators_of_the_foundations_table(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the foundation's schema, as an upgrade finds it
        db.execute(
            "CREATE TABLE feed_state (source TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, body_hash TEXT,"
            " last_full_fetch_at REAL, failures INTEGER NOT NULL DEFAULT 0)"
        )
        db.execute("INSERT INTO feed_state VALUES ('old', '\"v7\"', 'Tue, 24 Nov 2026 08:00:00 GMT', 'abc', 1.79e9, 2)")
    db.close()
    owner = ThreadPoolExecutor(1)
    state = SqliteFeedState(path, owner)
    try:
        record = await state.load("old")
        assert (record.etag, record.last_modified, record.body_hash) == ('"v7"', "Tue, 24 Nov 2026 08:00:00 GMT", "abc")
        assert record.last_full_fetch_at == 1.79e9 and record.failures == 2
    finally:
        await state.close()
        owner.shutdown()


async def test_redis_state_keeps_the_validators_of_the_foundations_hash(
    redis_url: str, redis_prefix: str, redis_client: redis.Redis
) -> None:
    redis_client.hset(
        f"{redis_prefix}feed:old",
        mapping={"etag": '"v7"', "last_modified": "", "body_hash": "abc", "last_full_fetch_at": "1790000000.0", "failures": "1"},
    )
    state = RedisFeedState(redis_url, redis_prefix)
    try:
        record = (await state.load_many(["old", "new"]))["old"]
        assert (record.etag, record.last_modified, record.body_hash, record.failures) == ('"v7"', None, "abc", 1)
        assert record.last_full_fetch_at == 1790000000.0
        assert (await state.load("old")) == record  # moved to the new key, not read from the old one again
        assert not redis_client.exists(f"{redis_prefix}feed:old")
    finally:
        await state.close()
