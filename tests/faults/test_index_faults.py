"""Faults on the index side: a document the mapping refuses, every batch delivered twice, and
Elasticsearch stopped for two minutes or killed in the middle of a bulk request.

Distributed mode throughout (the index is Elasticsearch). The tests that stop or kill the shared
Elasticsearch must run under the exclusive lock (`flock -x /tmp/ni-es.lock ...`).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from elasticsearch import Elasticsearch as ElasticsearchClient
from elasticsearch import NotFoundError

from ingest.settings import CelerySettings, IndexSettings
from tests.faults.news_site import NewsSite
from tests.faults.recovery import settle
from tests.faults.servers import Elasticsearch, RedisServer
from tests.installation import Installation, log_events, wait_for

pytestmark = pytest.mark.faults

MakeInstallation = Callable[..., Installation]

OUTAGE_S = 120  # the table fixes it: Elasticsearch down two minutes

# Lucene refuses any single term over 32,766 bytes, and `categories` is a keyword field with no
# ignore_above: a feed whose CMS dumps a whole tag cloud into one <category> makes such a term.
# The Article model has no length limit for it, so only the index can say no.
_TAG_CLOUD = ", ".join(f"harbour topic {n}" for n in range(3_000))


def _queue_key(installation: Installation) -> str:
    return installation.env["NEWSINGEST_KEY_PREFIX"] + installation.env["NEWSINGEST_CELERY__QUEUE"]


def _refused_alone(installation: Installation, log: str, fault: str, fault_report: Callable[..., None]) -> dict[str, Any]:
    """Run the 10-story archive whose story 2 the index refuses; check it alone was dead-lettered, once.

    Returns its dead letter (for the reason). Batches are the feed's order in fives, so story 2's
    batch is stories 0-4.
    """
    if installation.distributed:
        installation.start_worker()
    started = time.monotonic()
    result = installation.cli("run", "--once", "--sources", str(installation.sources_file))
    assert result.returncode == 0, result.stderr[-3000:]
    if not installation.distributed:
        (installation.workdir / log).write_text(result.stderr, encoding="utf-8")

    settled = settle(installation, 9, started)
    fault_report(fault, "distributed" if installation.distributed else "standalone", settled)
    assert settled.settled and (settled.lost, settled.duplicated) == (0, 0), settled
    assert (settled.audit["done"], settled.audit["dead"]) == (9, 1)
    letters = installation.dead_letters()
    assert [(letter["url"].rsplit("/", 1)[-1], letter["stage"]) for letter in letters] == [("story-2.html", "index")]
    assert {doc["version"] for doc in installation.documents().values()} == {1}
    # Each batch stored once: the refusal neither failed nor repeated the batch it came in.
    events = log_events(installation.workdir / log)
    stored = sorted((e["indexed"], e["dead_letters"]) for e in events if e.get("event") == "batch_stored")
    assert stored == [(4, 1), (5, 0)]
    assert not [e for e in events if str(e.get("event", "")).endswith(("_retrying", "batch_failed"))]
    return letters[0]


def test_a_document_the_mapping_refuses_is_dead_lettered_and_the_rest_of_its_batch_indexed(
    make_installation: MakeInstallation, fault_report: Callable[..., None]
) -> None:
    installation = make_installation("distributed", articles=10)
    feed = installation.workdir / "archive" / "feed.xml"
    guid = '<guid isPermaLink="false">harbour-2</guid>'
    feed.write_text(feed.read_text().replace(guid, f"{guid}<category>{_TAG_CLOUD}</category>"))
    assert len(_TAG_CLOUD.encode()) > 32_766

    letter = _refused_alone(installation, "worker.log", "document the mapping refuses, in a batch", fault_report)
    assert "document_parsing_exception" in letter["reason"] and "[categories]" in letter["reason"]


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_a_document_no_index_can_encode_is_dead_lettered_and_the_rest_of_its_batch_indexed(
    make_installation: MakeInstallation, fault_report: Callable[..., None], mode: str
) -> None:
    # SQLite has no mapping to refuse a value (no term limit, TEXT up to 1 GB); what neither index
    # can store is text no UTF-8 encoder takes: a JSON Feed tag holding half an emoji (a lone
    # surrogate escape, from a CMS that cut a string between the two halves).
    installation = make_installation(mode, articles=10)
    items = [
        {"id": f"harbour-{n}", "url": f"pages/story-{n}.html", "title": f"Story {n}", "tags": ["harbour"]}
        for n in range(10)
    ]
    items[2]["tags"] = ["harbour \ud83d"]
    feed = installation.workdir / "archive" / "feed.json"
    feed.write_text(json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Harbour", "items": items}))
    installation.sources_file.write_text(
        f"sources:\n  - name: harbour\n    url: {feed.as_uri()}\n    kind: jsonfeed\n    poll_interval: 1h\n",
        encoding="utf-8",
    )

    log = "worker.log" if mode == "distributed" else "run.log"
    letter = _refused_alone(installation, log, "document no index can encode, in a batch", fault_report)
    assert "surrogates not allowed" in letter["reason"]


def test_every_batch_delivered_twice_leaves_the_index_as_if_delivered_once(
    make_installation: MakeInstallation,
    news_site: NewsSite,
    private_redis: RedisServer,
    fault_report: Callable[..., None],
) -> None:
    installation = make_installation("distributed", site=news_site)
    # No worker yet: every batch waits in the queue, and `run --once` gives up waiting for them.
    queued = installation.cli(
        "run", "--once", "--sources", str(installation.sources_file), NEWSINGEST_ONCE_TIMEOUT_S="1", timeout_s=300
    )
    assert queued.returncode == 1, queued.stderr[-3000:]
    queue = _queue_key(installation)
    with private_redis.client() as client:
        batches = client.lrange(queue, 0, -1)
        assert len(batches) >= news_site.expected_documents // 5
        # The same messages (task ids included) again, behind the originals: the broker's duplicate.
        client.lpush(queue, *reversed(batches))

        started = time.monotonic()
        installation.start_worker()
        # The ledger is content with the first copies: wait until the second ones have run too.
        unacked = installation.env["NEWSINGEST_KEY_PREFIX"] + "unacked"
        wait_for(
            lambda: client.llen(queue) == 0 and client.hlen(unacked) == 0, 300, "every copy of every batch processed"
        )
    settled = settle(installation, news_site.expected_documents, started)
    fault_report("every batch delivered twice", "distributed", settled)
    assert settled.settled and (settled.lost, settled.duplicated) == (0, 0), settled
    code, audit = installation.audit()
    assert (code, audit["missing"], audit["dead"]) == (0, 0, 0)
    assert installation.dead_letters() == []
    documents = installation.documents()
    assert {doc["version"] for doc in documents.values()} == {1}
    assert len([doc for doc in documents.values() if doc["duplicate_of"]]) == news_site.syndicated


def _start_a_slowed_run(installation: Installation, news_site: NewsSite) -> subprocess.Popen[bytes]:
    """A worker and `run --once` over the news web, pages slowed so a fault lands while work still arrives."""
    news_site.page_delay_s = 0.3
    installation.start_worker()
    daemon = installation.start("run", "--once", "--sources", str(installation.sources_file), log_name="daemon.log")

    def indexing() -> bool:
        try:
            return installation.count() > 0
        except NotFoundError:  # the worker has not created the index yet
            return False

    wait_for(indexing, 180, "the first documents indexed", every_s=0.2)
    return daemon


def _wait_for_a_bulk_request_on_the_server(url: str, deadline_s: float = 60) -> bool:
    """Watch the server's task list until a bulk request is being written on it: the moment to kill it.

    A batch's bulk lasts milliseconds, so the kill lands in it or just after its answer (the worker's
    next request then finds the server gone); if none is caught, False, and the kill lands between
    batches. Either way the worker was writing, and the expectations are the same.
    """
    end = time.monotonic() + deadline_s
    with ElasticsearchClient(url) as client:
        while time.monotonic() < end:
            found = client.perform_request(
                "GET",
                "/_tasks",
                params={"actions": "indices:data/write/bulk*", "detailed": "true"},
                headers={"accept": "application/json"},
            )
            tasks = [task for node in found.body["nodes"].values() for task in node["tasks"].values()]
            # Still writing: a "finished" bulk may already be answering, and the kill would come too late.
            if any(task.get("status", {}).get("phase") not in (None, "finished") for task in tasks):
                return True
    return False


@pytest.mark.timeout(600)  # the outage itself is two minutes
def test_elasticsearch_down_two_minutes_mid_run_loses_and_duplicates_nothing(
    make_installation: MakeInstallation,
    news_site: NewsSite,
    elasticsearch_server: Elasticsearch,
    fault_report: Callable[..., None],
) -> None:
    installation = make_installation("distributed", site=news_site)
    daemon = _start_a_slowed_run(installation, news_site)
    elasticsearch_server.stop()
    started = time.monotonic()
    worker_log = installation.workdir / "worker.log"

    def retrying() -> list[dict[str, Any]]:
        return [e for e in log_events(worker_log) if e.get("event") == "index_unavailable_retrying"]

    wait_for(lambda: len(retrying()) > 0, 120, "the worker saying it waits for the index")
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - started)))  # the outage the table asks for
    elasticsearch_server.start()

    settled = settle(installation, news_site.expected_documents, started)
    fault_report("elasticsearch down 2 min", "distributed", settled)
    assert settled.settled and (settled.lost, settled.duplicated) == (0, 0), settled
    assert daemon.wait(300) == 0  # `run --once` saw every batch through
    assert settled.audit["dead"] == 0 and installation.dead_letters() == []
    assert {doc["version"] for doc in installation.documents().values()} == {1}
    assert all(process.poll() is None for process in installation.processes if process is not daemon)
    waits = retrying()
    assert all(e["waiting_for"] == "the index (elasticsearch)" for e in waits)
    # Backoff capped below the visibility timeout, or a waiting batch would be delivered again.
    cap_s = IndexSettings().unavailable_retry_max_s
    assert cap_s < CelerySettings().visibility_timeout_s
    assert max(e["retry_in_s"] for e in waits) <= cap_s


def test_elasticsearch_killed_mid_bulk_loses_and_duplicates_nothing(
    make_installation: MakeInstallation,
    news_site: NewsSite,
    elasticsearch_server: Elasticsearch,
    fault_report: Callable[..., None],
) -> None:
    installation = make_installation("distributed", site=news_site)
    daemon = _start_a_slowed_run(installation, news_site)
    _wait_for_a_bulk_request_on_the_server(installation.env["NEWSINGEST_ELASTICSEARCH_URL"])
    elasticsearch_server.kill()  # SIGKILL of the JVM
    started = time.monotonic()
    elasticsearch_server.start()

    settled = settle(installation, news_site.expected_documents, started)
    fault_report("elasticsearch killed mid-bulk", "distributed", settled)
    assert settled.settled and (settled.lost, settled.duplicated) == (0, 0), settled
    assert daemon.wait(300) == 0
    assert settled.audit["dead"] == 0 and installation.dead_letters() == []
    assert {doc["version"] for doc in installation.documents().values()} == {1}
    events = log_events(installation.workdir / "worker.log")
    assert [e for e in events if e.get("event") == "index_unavailable_retrying"]  # the failure, named
