"""One article from a feed to a search result, through the real CLI, in both modes.

Distributed: a real Celery worker process on real Redis, documents in real Elasticsearch.
Standalone: no services at all, one SQLite file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.installation import Installation, base_env
from tests.origin import SEEDS, Origin, running_origin

TRUTH = (SEEDS / "truth" / "putin-erdogan.txt").read_text(encoding="utf-8")
TRUTH_PARAGRAPHS = [p.strip() for p in TRUTH.split("\n\n") if p.strip()]
NOISE_LINES = ("Share", "Advertisement", "Related stories")
TRAILING_HEADLINE = "Turkey's President Erdogan in Moscow to 'reset' Russia ties"
ORIGINAL_PAGE = "pages/worldwire/2016/08/putin-erdogan-repair-ties.html"
COPY_PAGE = "pages/dailyledger/world/putin-erdogan-seek-common-ground.html"
UNIQUE_ARTICLES_IN_FEED = 6  # 7 items: one repeats the first page with tracking parameters


class Deployment(Installation):
    """One newsingest installation under test, with the commands these tests run."""

    def run_once(self) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
        result = self.cli("run", "--once", "--sources", str(self.sources_file), timeout_s=300)
        return result, _log_events(result.stderr)

    def search(self, query: str, *extra: str) -> list[dict[str, Any]]:
        result = self.cli("search", query, "--json", "--limit", "50", *extra)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _log_events(stderr: str) -> list[dict[str, Any]]:
    events = []
    for line in stderr.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def _sources_yaml(origin: Origin) -> str:
    return textwrap.dedent(
        f"""\
        sources:
          - name: worldwire
            url: {origin.base}/feed.xml
            poll_interval: 5m
            tags: [world]
            language: en
            allow_hosts: ["{origin.host}"]
          - name: broken-500
            url: {origin.base}/broken/500.xml
            allow_hosts: ["{origin.host}"]
          - name: broken-not-xml
            url: {origin.base}/broken/not-xml.xml
            allow_hosts: ["{origin.host}"]
          - name: slowpoke
            url: {origin.base}/fixtures/feeds/slow-article.xml
            allow_hosts: ["{origin.host}"]
        """
    )


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with running_origin() as server:
        yield server


@pytest.fixture(params=["standalone", "distributed"])
def deployment(
    request: pytest.FixtureRequest, origin: Origin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp(request.param)
    sources_file = tmp / "sources.yaml"
    sources_file.write_text(_sources_yaml(origin), encoding="utf-8")
    env = base_env(tmp)
    deployment = Deployment(env, tmp, sources_file)
    if request.param == "distributed":
        deployment.distribute(
            request.getfixturevalue("redis_url"), request.getfixturevalue("elasticsearch_url"),
            request.getfixturevalue("es_alias"), request.getfixturevalue("redis_prefix"),
        )
        with (tmp / "worker.log").open("wb") as worker_log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "ingest.cli", "worker", "--concurrency", "2"],
                env=env,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=worker_log,
            )
        deployment.processes.append(worker)
    yield deployment
    for process in deployment.processes:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _count(deployment: Deployment) -> int:
    env = deployment.env
    if "NEWSINGEST_ELASTICSEARCH_URL" in env:
        from elasticsearch import Elasticsearch

        with Elasticsearch(env["NEWSINGEST_ELASTICSEARCH_URL"]) as client:
            client.indices.refresh(index=env["NEWSINGEST_INDEX_ALIAS"])
            return int(client.count(index=env["NEWSINGEST_INDEX_ALIAS"])["count"])
    import sqlite3

    with sqlite3.connect(Path(env["NEWSINGEST_DATA_DIR"]) / "newsingest.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM articles").fetchone()[0])


def _by_page(hits: list[dict[str, Any]], page: str) -> dict[str, Any]:
    matching = [hit for hit in hits if hit["url"].endswith(page)]
    assert len(matching) == 1, f"expected one document for {page}, got {[h['url'] for h in hits]}"
    return matching[0]


def test_feed_to_search_result_with_clean_text_and_marked_duplicate(deployment: Deployment) -> None:
    result, events = deployment.run_once()
    assert result.returncode == 0, result.stderr[-3000:]
    assert any(e.get("event") == "starting" and e.get("mode") for e in events)

    copies = deployment.search("Erdogan Putin", "--all-copies")
    original, copy = _by_page(copies, ORIGINAL_PAGE), _by_page(copies, COPY_PAGE)
    text = original["text"]
    missing = [p for p in TRUTH_PARAGRAPHS if p not in text]
    assert not missing, f"sentences lost by cleaning: {missing}"
    lines = [line.strip() for line in text.splitlines()]
    assert not [line for line in lines if line in NOISE_LINES]
    assert TRAILING_HEADLINE not in text
    assert original["title"] == "Putin and Erdogan move towards repairing ties amid tension with West"

    assert original["duplicate_of"] is None
    assert original["cluster_id"] == original["id"]
    assert copy["duplicate_of"] == original["id"]
    assert copy["cluster_id"] == original["id"]

    one_per_story = deployment.search("Erdogan Putin")
    assert len([h for h in one_per_story if h["cluster_id"] == original["id"]]) == 1


def test_tracking_parameters_and_second_poll_add_no_documents(deployment: Deployment) -> None:
    first, _ = deployment.run_once()
    assert first.returncode == 0, first.stderr[-3000:]
    assert _count(deployment) == UNIQUE_ARTICLES_IN_FEED

    second, events = deployment.run_once()
    assert second.returncode == 0, second.stderr[-3000:]
    finished = [e for e in events if e.get("event") == "poll_finished" and e.get("source") == "worldwire"]
    assert finished and finished[0]["articles_fetched"] == 0
    assert _count(deployment) == UNIQUE_ARTICLES_IN_FEED


def test_broken_sources_are_named_errors_and_the_rest_is_ingested(deployment: Deployment) -> None:
    result, events = deployment.run_once()
    assert result.returncode == 0, result.stderr[-3000:]

    failures = {e.get("source"): e for e in events if e.get("event") == "poll_failed"}
    assert failures["broken-500"]["error_type"] == "BadStatus"
    assert "HTTP 500" in failures["broken-500"]["error"]
    assert failures["broken-not-xml"]["error_type"] == "FeedParseError"
    slow = [e for e in events if e.get("event") == "article_fetch_failed" and e.get("source") == "slowpoke"]
    assert slow and slow[0]["error_type"] == "FetchTimeout"
    assert slow[0]["url"].endswith("/slow/page.html")

    assert _count(deployment) == UNIQUE_ARTICLES_IN_FEED
