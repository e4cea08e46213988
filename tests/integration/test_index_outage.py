"""Elasticsearch stopped and restarted during a run: the worker waits, says so, and loses nothing.

Uses the REAL server (scripts/services.sh down/up); other suites running at that moment may hiccup,
so this is one test, kept short, and the server is always left up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from ingest.handoff import TASK_NAME
from ingest.jobs import ArticleJob, SourceSnapshot
from ingest.settings import Settings
from workers.app import make_app
from workers.index.elastic import ElasticIndex

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PARAGRAPH = (
    "The harbour authority of Port Example said on {day} that the ferry number {n} would keep its winter "
    "timetable, after a long debate about fuel prices, crew rosters and the state of the old pier."
)


def _services(action: str) -> None:
    env = {**os.environ, "NEWSINGEST_SERVICES": "elasticsearch"}
    subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), action], env=env, check=True, timeout=180)


def _jobs(first: int, count: int) -> list[dict[str, object]]:
    source = SourceSnapshot(name="outage", kind="rss", url="https://outage.example/feed.xml")
    jobs = []
    for n in range(first, first + count):
        body = "".join(f"<p>{PARAGRAPH.format(day=day, n=n)}</p>" for day in ("Monday", "Tuesday", "Friday"))
        html = f"<html><head><title>Ferry {n} keeps its timetable</title></head><body><article><h1>Ferry {n}</h1>{body}</article></body></html>"
        url = f"https://outage.example/ferry-{n}"
        job = ArticleJob(url=url, final_url=url, fetched_at=datetime.now(UTC), status=200, html=html, source=source)
        jobs.append(job.to_message())
    return jobs


def _wait_for(condition: Callable[[], bool], deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.5)


@pytest.fixture
def worker_env(elasticsearch_url: str, redis_url: str, es_alias: str, redis_prefix: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(
        NEWSINGEST_REDIS_URL=redis_url,
        NEWSINGEST_ELASTICSEARCH_URL=elasticsearch_url,
        NEWSINGEST_INDEX_ALIAS=es_alias,
        NEWSINGEST_KEY_PREFIX=redis_prefix,
        NEWSINGEST_CELERY__QUEUE=f"{es_alias}-queue",
        NEWSINGEST_INDEX__UNAVAILABLE_RETRY_MAX_S="4",
        NEWSINGEST_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def worker_log(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "ingest.cli", "worker", "--concurrency", "1"],
            env=worker_env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=out,
        )
    try:
        yield log_path
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_documents_sent_while_elasticsearch_is_down_are_indexed_when_it_returns(
    worker_env: dict[str, str], worker_log: Path, elasticsearch_url: str, es_alias: str
) -> None:
    settings = Settings(
        redis_url=worker_env["NEWSINGEST_REDIS_URL"],
        elasticsearch_url=elasticsearch_url,
        index_alias=es_alias,
        key_prefix=worker_env["NEWSINGEST_KEY_PREFIX"],
        celery={"queue": worker_env["NEWSINGEST_CELERY__QUEUE"]},
    )
    app = make_app(settings)
    index = ElasticIndex(elasticsearch_url, es_alias, request_timeout_s=5)
    index.ensure_ready()

    def indexed() -> int:
        try:
            index.refresh()
            return index.count()
        except Exception:  # the server is still starting: not yet
            return -1

    try:
        app.send_task(TASK_NAME, args=[_jobs(0, 4)], queue=settings.celery.queue)
        _wait_for(lambda: indexed() == 4, 120, "the first batch, with the server up")
        _services("down")
        app.send_task(TASK_NAME, args=[_jobs(4, 4)], queue=settings.celery.queue)
        app.send_task(TASK_NAME, args=[_jobs(8, 4)], queue=settings.celery.queue)
        _wait_for(lambda: "index_unavailable_retrying" in worker_log.read_text(), 60, "the worker to say it waits")
    finally:
        _services("up")
    _wait_for(lambda: indexed() == 12, 120, "every document, once the server is back")
    waiting = [json.loads(line) for line in worker_log.read_text().splitlines() if "index_unavailable_retrying" in line]
    assert waiting[0]["waiting_for"] and waiting[0]["retry_in_s"] <= 4
    app.close()
    index.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_start_up_waits_for_an_unreachable_server_and_says_so(es_alias: str) -> None:
    index = ElasticIndex(f"http://127.0.0.1:{_closed_port()}", es_alias, request_timeout_s=1, ready_timeout_s=1,
                         sleep=lambda _s: None)
    attempts = iter(range(3))
    with capture_logs() as events:
        ready = index.wait_until_ready(stop=lambda: next(attempts, None) is None)
    assert not ready
    assert [e["event"] for e in events if e["event"] == "waiting_for_elasticsearch"] == ["waiting_for_elasticsearch"] * 3
