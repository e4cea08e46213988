"""Near-duplicate clustering and learned boilerplate on shared state: RedisStoryState on a real Redis, and
a real Celery worker pool (concurrency 2) processing copies of one story at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from elasticsearch import Elasticsearch

from ingest.handoff import TASK_NAME
from ingest.jobs import ArticleJob, SourceSnapshot
from ingest.settings import DedupeSettings, Settings
from workers.dedupe_state import RedisStoryState
from workers.neardup import signature

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
WIRE_TEXT = (CORPUS / "truth" / "continentalpress-grain-corridor.txt").read_text(encoding="utf-8")
COPY_TEXT = (CORPUS / "truth" / "harbourtimes-wire-grain-corridor.txt").read_text(encoding="utf-8")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def state(redis_client: redis.Redis, redis_prefix: str) -> RedisStoryState:
    return RedisStoryState(redis_client, redis_prefix)


def test_near_copy_joins_the_earlier_story(state: RedisStoryState) -> None:
    state.admit("wire", signature(WIRE_TEXT), None, NOW)

    match = state.admit("copy", signature(COPY_TEXT), None, NOW)

    assert (match.cluster_id, match.duplicate_of) == ("wire", "wire")


def test_admitting_the_original_again_keeps_it_at_the_head(state: RedisStoryState) -> None:
    state.admit("wire", signature(WIRE_TEXT), None, NOW)
    state.admit("copy", signature(COPY_TEXT), None, NOW)

    again = state.admit("wire", signature(WIRE_TEXT), None, NOW)

    assert (again.cluster_id, again.duplicate_of) == ("wire", None)


def test_exact_holder_decides_the_story(state: RedisStoryState) -> None:
    state.admit("wire", signature(WIRE_TEXT), None, NOW)

    match = state.admit("same-text", signature("unrelated words entirely"), "wire", NOW)

    assert (match.cluster_id, match.duplicate_of) == ("wire", "wire")


def test_original_older_than_the_window_is_forgotten(redis_client: redis.Redis, redis_prefix: str) -> None:
    state = RedisStoryState(redis_client, redis_prefix, DedupeSettings(near_duplicate_window_s=3600))
    state.admit("wire", signature(WIRE_TEXT), None, NOW)

    assert state.admit("copy", signature(COPY_TEXT), None, NOW + timedelta(hours=2)).cluster_id == "copy"


def test_every_key_expires(state: RedisStoryState, redis_client: redis.Redis, redis_prefix: str) -> None:
    state.admit("wire", signature(WIRE_TEXT), None, NOW)
    state.observe("site.example", "wire", {"k1"}, NOW)

    keys = [key for key in redis_client.scan_iter(match=f"{redis_prefix}*") if not key.endswith(b"nd:seq")]
    assert keys and all(redis_client.ttl(key) > 0 for key in keys)


def test_a_line_becomes_boilerplate_in_its_third_article(state: RedisStoryState) -> None:
    seen = [state.observe("site.example", f"doc-{n}", {"k1"}, NOW) for n in range(3)]

    assert seen == [frozenset(), frozenset(), frozenset({"k1"})]


def test_the_same_article_counts_once(state: RedisStoryState) -> None:
    for _ in range(3):
        learned = state.observe("site.example", "doc-1", {"k1"}, NOW)

    assert learned == frozenset()


def test_racing_copies_form_one_story(redis_url: str, redis_prefix: str) -> None:
    matches: list[str] = []
    start = threading.Barrier(6)
    copies = [WIRE_TEXT, COPY_TEXT] * 3

    def admit(n: int) -> None:
        client = redis.Redis.from_url(redis_url)  # one connection each, like separate workers
        try:
            start.wait(timeout=30)
            matches.append(RedisStoryState(client, redis_prefix).admit(f"doc-{n}", signature(copies[n]), None, NOW).cluster_id)
        finally:
            client.close()

    threads = [threading.Thread(target=admit, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(matches) == 6 and len(set(matches)) == 1


# --- a real worker pool ------------------------------------------------------------------------------


def _job(page: Path, url: str, html: str | None = None) -> dict[str, Any]:
    source = SourceSnapshot(name=url.split("/")[2], kind="rss", url=f"https://{url.split('/')[2]}/feed.xml")
    job = ArticleJob(
        url=url, final_url=url, fetched_at=NOW, status=200, html=html or page.read_text(encoding="utf-8"), source=source
    )
    return job.to_message()


def _syndicated(page: Path, headline: str, footer: str) -> str:
    """The page as a client site republishes it: its own headline and a credit line at the end."""
    html = page.read_text(encoding="utf-8")
    start, end = html.index("<h1"), html.index("</h1>")
    html = html[:start] + f"<h1>{headline}" + html[end:]
    marker = '<div class="mehr">'
    return html.replace(marker, f"<p>{footer}</p>\n{marker}", 1)


STORY_PAIRS = [
    (
        _job(CORPUS / "pages/continentalpress/grain-corridor.html", "https://wire.continentalpress.example/2026/03/grain-corridor"),
        _job(CORPUS / "pages/harbourtimes/wire-grain-corridor.html", "https://www.harbourtimes.example/news/2026/03/wire-grain-corridor"),
    ),
    (
        _job(ROOT / "seeds/pages/worldwire/2016/08/putin-erdogan-repair-ties.html", "https://www.worldwire.example/2016/08/putin-erdogan-repair-ties"),
        _job(ROOT / "seeds/pages/dailyledger/world/putin-erdogan-seek-common-ground.html", "https://dailyledger.example/world/putin-erdogan-seek-common-ground"),
    ),
    (
        _job(CORPUS / "pages/rheinbote/radweg.html", "https://www.rheinbote.example/lokales/radweg-1.202602"),
        _job(
            CORPUS / "pages/rheinbote/radweg.html",
            "https://www.moselkurier.example/region/radweg-am-rhein",
            _syndicated(
                CORPUS / "pages/rheinbote/radweg.html",
                "Rheinufer: Radweg bis Juli fertig",
                "Dieser Artikel erschien zuerst im Rheinboten und wird mit freundlicher Genehmigung veröffentlicht.",
            ),
        ),
    ),
]


@pytest.fixture
def worker_settings(redis_url: str, elasticsearch_url: str, es_alias: str, redis_prefix: str, tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(
        redis_url=redis_url, elasticsearch_url=elasticsearch_url, index_alias=es_alias, key_prefix=redis_prefix,
        data_dir=tmp_path, celery={"queue": f"{es_alias}-queue"},  # type: ignore[arg-type]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(
        NEWSINGEST_REDIS_URL=redis_url, NEWSINGEST_ELASTICSEARCH_URL=elasticsearch_url, NEWSINGEST_INDEX_ALIAS=es_alias,
        NEWSINGEST_KEY_PREFIX=redis_prefix, NEWSINGEST_CELERY__QUEUE=f"{es_alias}-queue", NEWSINGEST_DATA_DIR=str(tmp_path),
        PYTHONPATH=str(ROOT),
    )
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "ingest.cli", "worker", "--concurrency", "2"],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log,
        )
    yield settings
    worker.terminate()
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def test_two_workers_processing_copies_at_once_make_one_story_each(
    worker_settings: Settings, es_client: Elasticsearch
) -> None:
    from workers.app import make_app

    app = make_app(worker_settings)
    queue = worker_settings.celery.queue
    # Each copy is its own task, the two sent together, so the pool's two processes take one each.
    results = [
        app.send_task(TASK_NAME, args=[[job]], queue=queue, compression="gzip") for pair in STORY_PAIRS for job in pair
    ]
    reports = [result.get(timeout=240) for result in results]
    assert all(report["indexed"] == 1 for report in reports), reports

    es_client.indices.refresh(index=worker_settings.index_alias)
    hits = es_client.search(index=worker_settings.index_alias, size=20, query={"match_all": {}})["hits"]["hits"]
    by_url = {hit["_source"]["url"]: hit["_source"] for hit in hits}
    for original, copy in STORY_PAIRS:
        pair = [by_url[original["url"]], by_url[copy["url"]]]
        assert pair[0]["cluster_id"] == pair[1]["cluster_id"], pair
        heads = [doc for doc in pair if doc["duplicate_of"] is None]
        assert len(heads) == 1 and heads[0]["id"] == pair[0]["cluster_id"]
    assert len({doc["cluster_id"] for doc in by_url.values()}) == len(STORY_PAIRS)
