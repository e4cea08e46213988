"""Page sources against the fixture site on a real local origin: backfill through pagination, only new
articles on later polls, one fetch per story, the per-poll cap, and the address guard on listings."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from ingest.client import HttpClient
from ingest.daemon import Daemon
from ingest.settings import HttpSettings, PollingSettings, Settings
from ingest.sources import Source
from ingest.state import SqliteFeedState
from tests.origin import FIXTURES, Origin, running_site
from tests.recording_handoff import Recorder as BaseRecorder

SITE = FIXTURES / "sites" / "harbour-gazette"
TRUTH: dict[str, list[str]] = json.loads((SITE / "truth.json").read_text(encoding="utf-8"))
SETTINGS = Settings(polling=PollingSettings(host_delay_s=0))
PIER = "/2026/11/24/council-approves-new-ferry-pier/"


class Recorder(BaseRecorder):
    """The recording Handoff, plus the paths of what it was given."""

    def paths(self, origin: Origin) -> set[str]:
        return {job.url.removeprefix(origin.base) for job in self.jobs}


@pytest.fixture
def site_copy(tmp_path: Path) -> Path:
    """A copy of the site the test may publish to (tests/fixtures/sites/harbour-gazette/later/)."""
    root = tmp_path / "site"
    shutil.copytree(SITE, root, ignore=shutil.ignore_patterns("later", "*.py", "*.json"))
    return root


@pytest.fixture
def site(site_copy: Path) -> Iterator[Origin]:
    with running_site(site_copy) as origin:
        yield origin


@pytest.fixture
async def state(tmp_path: Path) -> AsyncIterator[SqliteFeedState]:
    owner = ThreadPoolExecutor(1)
    feed_state = SqliteFeedState(tmp_path / "state.sqlite3", owner)
    yield feed_state
    await feed_state.close()
    owner.shutdown()


def _source(origin: Origin, *, listings: Sequence[str] = ("/city/", "/port/"), **scrape: object) -> Source:
    return Source.model_validate(
        {
            "name": "harbour-gazette",
            "kind": "page",
            "url": f"{origin.base}/",
            "allow_hosts": [origin.host],
            "scrape": {"listing_urls": [f"{origin.base}{path}" for path in listings], **scrape},
        }
    )


async def _once(source: Source, state: SqliteFeedState) -> Recorder:
    recorder = Recorder()
    async with HttpClient(HttpSettings()) as client:
        await Daemon(SETTINGS, [source], client, state, recorder).run_once()
    return recorder


def _truth(*files: str) -> set[str]:
    return {path for file in files for path in TRUTH[file]}


def _articles_fetched(hits: Mapping[str, int]) -> dict[str, int]:
    return {path: count for path, count in hits.items() if path.startswith(("/2026/", "/live/", "/news/", "/world/"))}


async def test_the_first_poll_follows_pagination_to_the_configured_depth(site: Origin, state: SqliteFeedState) -> None:
    recorder = await _once(_source(site, backfill_pages=2), state)
    assert recorder.paths(site) == _truth("index.html", "city/index.html", "city/page-2.html", "port/index.html", "port/page-2.html")
    assert site.hits["/city/?page=2"] == 1 and "/city/?page=3" not in site.hits
    assert {job.discovered_via for job in recorder.jobs} == {"page"}
    assert all(job.entry and job.entry.title is None for job in recorder.jobs)  # the page itself says


async def test_the_same_story_in_two_sections_is_fetched_once(site: Origin, state: SqliteFeedState) -> None:
    await _once(_source(site, backfill_pages=1), state)
    assert site.hits[PIER] == 1  # linked from the front page (twice), the city and the port sections
    assert set(_articles_fetched(site.hits).values()) == {1}


async def test_a_later_poll_fetches_only_the_two_new_articles(
    site: Origin, site_copy: Path, state: SqliteFeedState
) -> None:
    source = _source(site, backfill_pages=3)
    await _once(source, state)
    before = dict(site.hits)
    shutil.copytree(SITE / "later", site_copy, dirs_exist_ok=True)  # two stories published

    recorder = await _once(source, state)
    assert recorder.paths(site) == {"/2026/11/25/tram-trial-extended-to-harbour/", "/2026/11/25/lifeboat-station-opens-doors/"}
    assert site.hits["/city/?page=2"] == before["/city/?page=2"]  # backfill was the first poll's only
    assert site.hits[PIER] == 1


async def test_max_new_links_hands_on_the_newest_and_the_rest_next_poll(site: Origin, state: SqliteFeedState) -> None:
    source = _source(site, listings=(), max_new_links=3)
    # Which links, not in what order: the pages are fetched at once, and handed on as each arrives.
    first = await _once(source, state)
    assert {job.url.removeprefix(site.base) for job in first.jobs} == set(TRUTH["index.html"][:3])
    second = await _once(source, state)
    assert {job.url.removeprefix(site.base) for job in second.jobs} == set(TRUTH["index.html"][3:6])


async def test_a_listing_redirecting_to_a_loopback_port_gives_nothing_and_the_others_still_count(
    site_copy: Path, state: SqliteFeedState
) -> None:
    with running_site(site_copy, redirects={"/wires/": "http://127.0.0.1:1/"}) as site:
        with capture_logs() as logs:
            recorder = await _once(_source(site, listings=("/wires/", "/city/"), backfill_pages=1), state)
    failed = [e for e in logs if e["event"] == "listing_failed"]
    assert [(e["error_type"], e["url"]) for e in failed] == [("BlockedAddress", f"{site.base}/wires/")]
    assert "127.0.0.1:1 is not public and not allowed" in failed[0]["error"]
    assert recorder.paths(site) == _truth("index.html", "city/index.html")


async def test_an_article_link_redirecting_to_a_loopback_port_is_refused_by_name(
    site_copy: Path, state: SqliteFeedState
) -> None:
    with running_site(site_copy, redirects={PIER: "http://127.0.0.1:1/admin"}) as site:
        with capture_logs() as logs:
            recorder = await _once(_source(site, listings=(), backfill_pages=1), state)
    refused = [e for e in logs if e["event"] == "article_fetch_failed"]
    assert [(e["error_type"], e["url"]) for e in refused] == [("BlockedAddress", site.base + PIER)]
    assert recorder.paths(site) == _truth("index.html") - {PIER}


async def test_a_page_source_whose_listings_all_fail_is_a_named_poll_error(site: Origin, state: SqliteFeedState) -> None:
    source = Source.model_validate(
        {"name": "gone", "kind": "page", "url": f"{site.base}/no-such-section/", "allow_hosts": [site.host]}
    )
    with capture_logs() as logs:
        recorder = await _once(source, state)
    assert recorder.jobs == []
    failed = [e for e in logs if e["event"] == "poll_failed"]
    assert failed and failed[0]["error_type"] == "BadStatus" and "HTTP 404" in failed[0]["error"]
    record = await state.load("gone")
    assert record.last_error_type == "BadStatus" and record.last_success_at is None


async def test_listing_pages_obey_robots_txt_like_every_other_request(site: Origin, site_copy: Path, state: SqliteFeedState) -> None:
    (site_copy / "robots.txt").write_text("User-agent: *\nDisallow: /port/\n", encoding="utf-8")
    with capture_logs() as logs:
        recorder = await _once(_source(site, backfill_pages=1), state)
    failed = [(e["error_type"], e["url"]) for e in logs if e["event"] == "listing_failed"]
    assert failed == [("RobotsDisallowed", f"{site.base}/port/")]
    assert "/port/" not in site.hits
    assert recorder.paths(site) == _truth("index.html", "city/index.html")
