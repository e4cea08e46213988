"""Fault-test fixtures: what is ingested, the installation that ingests it, the servers it breaks, the table.

What is ingested: either a small `file:` archive written per test (no network, no politeness), or
the local news web of tests/faults/news_site.py over real HTTP (200 stories, a section feed with
tracking-parameter variants, a wire that syndicates copies). The processes are the real CLI:
`run`, `worker`, `audit`, `deadletters`. In distributed mode each test has its own Redis
(tests/faults/servers.py) and shares the run's Elasticsearch.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.news_site import NewsSite, serving
from tests.faults.recovery import Settled
from tests.faults.report import ROWS, FaultRow, table
from tests.faults.servers import Elasticsearch, RedisServer
from tests.installation import Installation, base_env
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    elasticsearch_url,
    es_alias,
    es_client,
    redis_client,
    redis_prefix,
    redis_url,
)

_WORDS = (
    "harbour council tram budget river bridge school library market festival museum station ferry "
    "mayor report vote plan weather storm summer winter farmers rail workers union strike talks "
    "minister hospital nurses doctors police court judge museum gallery concert theatre football "
    "league season coach players village town city region border trade export grain port ships"
).split()

# A real story trailed by a tree just under the size caps: about 5 s of extraction on this machine,
# so it "hangs" extraction against the 1 s per-article limit the tests set, on every attempt, and
# is indexed once the limit is raised (the fix a retry follows).
_POISON_TAIL = "<p>a b</p>" * 23_000


def _story(rng: random.Random, n: int) -> str:
    paragraphs = [
        " ".join(rng.choice(_WORDS) for _ in range(45)).capitalize() + "." for _ in range(5)
    ]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>Story {n} from the harbour</title></head><body><article>"
        f"<h1>Story {n} from the harbour</h1>{body}</article></body></html>"
    )


def write_archive(folder: Path, articles: int, poison: int = 0, seed: int = 8) -> Path:
    """`articles` distinct stories (and `poison` poison pages) under folder; returns the feed path."""
    rng = random.Random(seed)
    (folder / "pages").mkdir(parents=True)
    items = []
    for n in range(articles + poison):
        page = folder / "pages" / f"story-{n}.html"
        html = _story(rng, n)
        if n >= articles:
            html = html.replace("</article>", "</article>" + _POISON_TAIL)
        page.write_text(html, encoding="utf-8")
        items.append(
            f"<item><title>Story {n}</title><link>pages/story-{n}.html</link>"
            f"<guid isPermaLink=\"false\">harbour-{n}</guid>"
            f"<pubDate>Wed, 25 Nov 2026 09:{n % 60:02d}:00 +0000</pubDate></item>"
        )
    feed = folder / "feed.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Harbour Times</title>'
        f"<link>https://harbour.example/</link><description>Local news</description>{''.join(items)}"
        "</channel></rss>",
        encoding="utf-8",
    )
    return feed


def _env(tmp: Path) -> dict[str, str]:
    env = base_env(tmp)
    del env["NEWSINGEST_HTTP__TIMEOUT_S"]  # the site's pages are fetched with the default timeouts
    env.update(
        NEWSINGEST_BATCH_SIZE="5",
        NEWSINGEST_RELIABILITY__ARTICLE_TIME_LIMIT_S="1",
        NEWSINGEST_SHUTDOWN_GRACE_S="2",  # teardown: nothing in flight is worth waiting for
    )
    return env


@pytest.fixture
def news_site() -> Iterator[NewsSite]:
    with serving(NewsSite()) as site:
        yield site


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own (AOF on), which the test may shut down or kill."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def elasticsearch_server(elasticsearch_url: str) -> Iterator[Elasticsearch]:
    """The run's Elasticsearch, to stop or kill; it is up again when the test ends, whatever happened."""
    server = Elasticsearch()
    yield server
    server.start()


@pytest.fixture
def make_installation(
    tmp_path: Path, request: pytest.FixtureRequest, private_redis: RedisServer
) -> Iterator[Callable[..., Installation]]:
    """`make_installation(mode, articles=0, poison=0, site=None)`: what to ingest and the environment.

    With `site` (the news_site fixture) the sources are its three feeds; otherwise a `file:` archive
    of `articles` stories and `poison` pages that hang extraction. Distributed mode uses the test's
    private Redis and a fresh alias on the shared Elasticsearch.
    """
    made: list[Installation] = []

    def make(mode: str, articles: int = 0, poison: int = 0, site: NewsSite | None = None) -> Installation:
        sources = tmp_path / "sources.yaml"
        if site is not None:
            site.write_sources(sources)
        else:
            feed = write_archive(tmp_path / "archive", articles, poison)
            sources.write_text(
                f"sources:\n  - name: harbour\n    url: {feed.as_uri()}\n    poll_interval: 1h\n", encoding="utf-8"
            )
        env = _env(tmp_path)
        if mode == "distributed":
            alias, prefix = request.getfixturevalue("es_alias"), request.getfixturevalue("redis_prefix")
            env.update(
                NEWSINGEST_REDIS_URL=private_redis.url,
                NEWSINGEST_ELASTICSEARCH_URL=request.getfixturevalue("elasticsearch_url"),
                NEWSINGEST_INDEX_ALIAS=alias,
                NEWSINGEST_KEY_PREFIX=prefix,
                NEWSINGEST_CELERY__QUEUE=f"{alias}-queue",
            )
        installation = Installation(env, tmp_path, sources)
        made.append(installation)
        return installation

    yield make
    # Before the private Redis goes (it was set up first, so it is torn down after this): processes
    # stopped with their broker still there stop cleanly.
    for installation in made:
        installation.stop_all()


# -- measuring a recovery, and the table of them ---------------------------------------------------


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`fault_report(fault, mode, settled)`: a row of the table printed at the end of the run."""

    def report(fault: str, mode: str, settled: Settled) -> None:
        rows = request.config.stash.setdefault(ROWS, [])
        rows.append(FaultRow(fault, mode, settled.lost, settled.duplicated, settled.seconds))

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    rows = config.stash.get(ROWS, [])
    if rows:
        terminalreporter.section("faults injected: lost, duplicated, recovery")
        for line in table(rows):
            terminalreporter.write_line(line)
