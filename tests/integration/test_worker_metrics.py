"""A real `newsingest worker --concurrency 2`: its /metrics sums the series of both prefork children.

Celery prefork children each write their own prometheus-client multiprocess files; the main process
serves their sum over HTTP. Jobs go through real Redis to the worker, documents to real
Elasticsearch; a child is SIGKILLed and replaced by Celery, and no counter may go backwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest
from celery import Celery
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from ingest.handoff import TASK_NAME
from ingest.jobs import ArticleJob, SourceSnapshot
from ingest.settings import Settings
from tests.installation import kill_group, wait_for
from workers.app import make_app
from workers.index.elastic import ElasticIndex
from workers.metrics_server import metrics_dir

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "metrics-demo"
INDEXED = ("newsingest_index_writes_total", {"result": "indexed"})
EXTRACTED = ("newsingest_extractions_total", {"source": SOURCE, "outcome": "ok"})
BATCHES = ("newsingest_batches_stored_total", {})
_WORDS = "harbour ferry council tram budget river bridge school library market festival museum station".split()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Worker:
    """One worker process with its app (to send jobs), its index (to count) and its /metrics."""

    process: subprocess.Popen[bytes]
    app: Celery
    queue: str
    index: ElasticIndex
    metrics_url: str
    metrics_dir: Path
    log: Path
    sent: int = 0
    _numbers: Iterator[int] = field(default_factory=count)

    def send(self, batches: int) -> None:
        """`batches` batches of one article each, all at once (so both children are offered work)."""
        for _ in range(batches):
            self.app.send_task(TASK_NAME, args=[[_job(next(self._numbers))]], queue=self.queue)
        self.sent += batches
        wait_for(lambda: self.indexed() == self.sent, 120, f"{self.sent} documents indexed ({self.log})")

    def indexed(self) -> int:
        self.index.refresh()
        return self.index.count()

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:
            text = response.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def indexed_by_process(self) -> dict[int, float]:
        """Documents indexed per process, read from each process's own counter file alone."""
        counts = {}
        for file in self.metrics_dir.glob("counter_*.db"):
            alone = self.metrics_dir.parent / f"alone-{file.stem}"
            alone.mkdir(exist_ok=True)
            shutil.copy(file, alone / file.name)
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=str(alone))
            counts[int(file.stem.split("_")[1])] = registry.get_sample_value(INDEXED[0], INDEXED[1]) or 0.0
            shutil.rmtree(alone)
        return counts


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], series: tuple[str, dict[str, str]]) -> float:
    name, labels = series
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _job(n: int) -> dict[str, object]:
    words = " ".join(_WORDS[(n + i) % len(_WORDS)] for i in range(40))
    body = "".join(f"<p>Report {n}, part {part}: the {words} all came up at the meeting.</p>" for part in range(4))
    html = f"<html><head><title>Report {n} from the harbour</title></head><body><article><h1>Report {n}</h1>{body}</article></body></html>"
    url = f"https://metrics.example/report-{n}"
    source = SourceSnapshot(name=SOURCE, kind="rss", url="https://metrics.example/feed.xml")
    return ArticleJob(url=url, final_url=url, fetched_at=datetime.now(UTC), status=200, html=html, source=source).to_message()


@pytest.fixture
def worker(
    tmp_path: Path, elasticsearch_url: str, redis_url: str, es_alias: str, redis_prefix: str
) -> Iterator[Worker]:
    port = _free_port()
    queue = f"{es_alias}-queue"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        NEWSINGEST_REDIS_URL=redis_url,
        NEWSINGEST_ELASTICSEARCH_URL=elasticsearch_url,
        NEWSINGEST_INDEX_ALIAS=es_alias,
        NEWSINGEST_KEY_PREFIX=redis_prefix,
        NEWSINGEST_CELERY__QUEUE=queue,
        NEWSINGEST_DATA_DIR=str(tmp_path / "data"),
        NEWSINGEST_OPS__WORKER_METRICS_PORT=str(port),
        PYTHONPATH=str(ROOT),
    )
    settings = Settings(
        redis_url=redis_url, elasticsearch_url=elasticsearch_url, index_alias=es_alias,
        key_prefix=redis_prefix, celery={"queue": queue}, data_dir=tmp_path / "data",
        ops={"worker_metrics_port": port},
    )
    index = ElasticIndex(elasticsearch_url, es_alias)
    index.ensure_ready()
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest.cli", "worker", "--concurrency", "2"],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=out, start_new_session=True,
        )
    started = Worker(
        process, make_app(settings), queue, index, f"http://127.0.0.1:{port}/metrics",
        metrics_dir(settings), log,
    )
    try:
        wait_for(lambda: "worker_metrics_serving" in log.read_text(), 120, f"the worker's /metrics ({log})")
        wait_for(lambda: len(started.children()) == 2, 60, "two pool children")
        yield started
    finally:
        kill_group(process, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            kill_group(process, signal.SIGKILL)
            process.wait()
        started.app.close()
        index.close()


def _until_both_children_worked(worker: Worker) -> None:
    """Send rounds of batches until two processes have indexed documents (bounded: a few rounds)."""
    for _ in range(6):
        worker.send(4)
        if len([n for n in worker.indexed_by_process().values() if n > 0]) >= 2:
            return
    pytest.fail(f"one child took every batch of {worker.sent}: {worker.indexed_by_process()}")


def test_metrics_sum_the_series_of_both_children(worker: Worker) -> None:
    _until_both_children_worked(worker)
    samples = worker.scrape()
    assert _value(samples, INDEXED) == worker.sent == sum(worker.indexed_by_process().values())
    assert _value(samples, EXTRACTED) == worker.sent
    assert _value(samples, BATCHES) == worker.sent  # one article per batch


def test_counters_never_go_backwards_when_a_child_is_killed_and_replaced(worker: Worker) -> None:
    _until_both_children_worked(worker)
    before = worker.scrape()
    worked = {pid for pid, n in worker.indexed_by_process().items() if n > 0}
    victim = next(pid for pid in worker.children() if pid in worked)
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: victim not in worker.children() and len(worker.children()) == 2, 60, "a child replacing the killed one"
    )
    after_kill = worker.scrape()
    assert all(after_kill.get(key, 0.0) >= value for key, value in before.items() if key[0].endswith("_total"))
    worker.send(4)
    after = worker.scrape()
    assert _value(after, INDEXED) == worker.sent
    assert _value(after, EXTRACTED) == worker.sent
