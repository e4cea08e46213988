"""Layout drift on the distributed store (Redis, documents in Elasticsearch) and through the standalone CLI:
`run --once` logs the warning, `sources status` shows it, in both modes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from elasticsearch import Elasticsearch
from structlog.testing import capture_logs

from ingest.jobs import ArticleJob
from tests.layout_sites import (
    CHANGING,
    CHANGING_DOMAIN,
    CHANGING_SOURCE,
    SMALL_WINDOWS,
    STABLE,
    STABLE_DOMAIN,
    STABLE_SOURCE,
    TEMPLATE_B_SELECTOR,
    run_through_pipeline,
    site_jobs,
)
from workers.dedupe_state import RedisStoryState
from workers.health import PageHealth
from workers.health_state import RedisExtractionHealth
from workers.index.elastic import ElasticDeadLetters, ElasticIndex

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SMALL_WINDOW_ENV = {
    "NEWSINGEST_HEALTH__RECENT_PAGES": "8",
    "NEWSINGEST_HEALTH__MIN_HISTORY_PAGES": "8",
    "NEWSINGEST_HEALTH__DRIFT_MAX_CHANCE": "0.001",
}


@pytest.fixture
def index(es_client: Elasticsearch, es_alias: str) -> Iterator[ElasticIndex]:
    backend = ElasticIndex(es_client, es_alias)
    backend.ensure_ready()
    yield backend


@pytest.fixture
def run_distributed(
    redis_client: redis.Redis, redis_prefix: str, es_client: Elasticsearch, es_alias: str, index: ElasticIndex
) -> Any:
    """Run jobs through the pipeline on Redis state and Elasticsearch; return the drift log events."""
    letters = ElasticDeadLetters(es_client, es_alias)
    letters.ensure_ready()

    def run(jobs: list[ArticleJob]) -> list[dict[str, Any]]:
        health = RedisExtractionHealth(redis_client, redis_prefix, SMALL_WINDOWS)
        with capture_logs() as events:
            run_through_pipeline(jobs, RedisStoryState(redis_client, redis_prefix), index, letters, health)
        return [e for e in events if e["event"] in ("layout_drift", "layout_drift_cleared")]

    return run


def test_template_change_warns_once_per_moved_figure_on_redis(run_distributed: Any) -> None:
    events = run_distributed(site_jobs(CHANGING, CHANGING_SOURCE, CHANGING_DOMAIN))

    metrics = [e["metric"] for e in events if e["event"] == "layout_drift" and e["source"] == CHANGING_SOURCE]
    assert "median_words" in metrics and len(metrics) == len(set(metrics))


def test_stable_site_raises_nothing_on_redis(run_distributed: Any) -> None:
    assert run_distributed(site_jobs(STABLE, STABLE_SOURCE, STABLE_DOMAIN)) == []


def test_recovery_clears_the_warning_on_redis(run_distributed: Any) -> None:
    raised = {e["metric"] for e in run_distributed(site_jobs(CHANGING, CHANGING_SOURCE, CHANGING_DOMAIN))}

    fixed = site_jobs(CHANGING, CHANGING_SOURCE, CHANGING_DOMAIN, first=13, body_selector=TEMPLATE_B_SELECTOR)
    cleared = {e["metric"] for e in run_distributed(fixed) if e["event"] == "layout_drift_cleared"}

    assert cleared == raised


def test_two_workers_seeing_the_same_drift_report_it_once(redis_client: redis.Redis, redis_prefix: str) -> None:
    workers = [RedisExtractionHealth(redis_client, redis_prefix, SMALL_WINDOWS) for _ in range(2)]
    healthy = [PageHealth("twin", False, words=600, lines=10, dropped_lines=1) for _ in range(12)]
    workers[0].record(healthy, _now())
    # Both record broken pages; each sees the drift in its own window, only one may report it.
    reports = []
    for n in range(8):
        reports += workers[n % 2].record([PageHealth("twin", False, words=40, lines=3)], _now())

    assert [change.drift.metric for change in reports] == ["median_words"]


def test_pages_kept_per_source_are_bounded(redis_client: redis.Redis, redis_prefix: str) -> None:
    store = RedisExtractionHealth(redis_client, redis_prefix, SMALL_WINDOWS)
    for _ in range(30):
        store.record([PageHealth("busy", False, words=500, lines=9) for _ in range(20)], _now())

    pages_key, _ = store.keys("busy")
    assert redis_client.llen(pages_key) == SMALL_WINDOWS.recent_pages + SMALL_WINDOWS.history_pages
    assert 0 < redis_client.ttl(pages_key) <= SMALL_WINDOWS.keep_days * 86400


def test_status_command_shows_the_drift_in_distributed_mode(
    run_distributed: Any, redis_url: str, elasticsearch_url: str, redis_prefix: str, es_alias: str, tmp_path: Path
) -> None:
    run_distributed(site_jobs(CHANGING, CHANGING_SOURCE, CHANGING_DOMAIN))
    sources = _sources_file(tmp_path, f"https://{CHANGING_DOMAIN}/feed.xml")
    env = _env(tmp_path) | {
        "NEWSINGEST_REDIS_URL": redis_url,
        "NEWSINGEST_ELASTICSEARCH_URL": elasticsearch_url,
        "NEWSINGEST_KEY_PREFIX": redis_prefix,
        "NEWSINGEST_INDEX_ALIAS": es_alias,
    }

    status = _cli(env, tmp_path, "sources", "status", str(sources))

    assert status.returncode == 0, status.stderr
    assert "drifting: median words" in status.stdout
    assert "extraction, last 8 pages: no text 0%" in status.stdout


def test_run_once_warns_and_status_shows_it_standalone(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(CHANGING, site)
    shutil.copy(site / "feed-a.xml", site / "feed.xml")  # the site before its redesign
    sources = _sources_file(tmp_path, (site / "feed.xml").as_uri())
    env = _env(tmp_path)

    first = _cli(env, tmp_path, "run", "--once", "--sources", str(sources))
    shutil.copy(CHANGING / "feed.xml", site / "feed.xml")  # twelve new articles, in the new template
    second = _cli(env, tmp_path, "run", "--once", "--sources", str(sources))
    status = _cli(env, tmp_path, "sources", "status", str(sources))

    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert not [e for e in _events(first.stderr) if e.get("event") == "layout_drift"]
    drifts = [e for e in _events(second.stderr) if e.get("event") == "layout_drift"]
    assert {e["source"] for e in drifts} == {CHANGING_SOURCE}
    assert "median_words" in {e["metric"] for e in drifts}
    assert "drifting: median words" in status.stdout
    (shown,) = [json.loads(line) for line in _cli(env, tmp_path, "sources", "status", "--json", str(sources)).stdout.splitlines()]
    assert "median_words" in {d["metric"] for d in shown["extraction"]["drifts"]}


def _now() -> datetime:
    return datetime.now(UTC)


def _sources_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            sources:
              - name: {CHANGING_SOURCE}
                url: {url}
                kind: rss
                language: en
            """
        ),
        encoding="utf-8",
    )
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    return env | SMALL_WINDOW_ENV | {
        "NEWSINGEST_DATA_DIR": str(tmp_path / "data"),
        "NEWSINGEST_POLLING__HOST_DELAY_S": "0",
        "NEWSINGEST_PROCESSING_WORKERS": "2",
        "PYTHONPATH": str(ROOT),
    }


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _events(stderr: str) -> list[dict[str, Any]]:
    events = []
    for line in stderr.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
