"""Faults injected into real runs: jobs removed from the queue, pages that hang extraction.

(Killed workers: tests/faults/test_worker_faults.py.)

Each test asserts with `newsingest audit` and an index count: lost 0 (every accepted job indexed
or dead-lettered), duplicated 0 (documents == distinct articles).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.faults.recovery import FAST_RECONCILE, settle
from tests.faults.servers import RedisServer
from tests.installation import Installation, wait_for

pytestmark = pytest.mark.faults

MakeInstallation = Callable[..., Installation]


def _settled(installation: Installation, articles: int) -> Callable[[], bool]:
    def settled() -> bool:
        code, audit = installation.audit()
        return code == 0 and audit["accepted"] == articles and audit["done"] + audit["dead"] == articles
    return settled


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_a_page_that_hangs_extraction_is_dead_lettered_and_its_batch_indexed(
    make_installation: MakeInstallation, fault_report: Callable[..., None], mode: str
) -> None:
    installation = make_installation(mode, articles=9, poison=1)
    if installation.distributed:
        installation.start_worker()
    started = time.monotonic()
    result = installation.cli("run", "--once", "--sources", str(installation.sources_file))
    assert result.returncode == 0, result.stderr[-3000:]
    fault_report("poison article (hangs extraction) in a batch", mode, settle(installation, 9, started))

    letters = installation.dead_letters()
    assert [letter["url"].rsplit("/", 1)[-1] for letter in letters] == ["story-9.html"]
    assert "per-article time limit" in letters[0]["reason"]
    assert installation.count() == 9
    code, audit = installation.audit()
    assert code == 0 and (audit["done"], audit["dead"], audit["missing"]) == (9, 1, 0)


def test_retrying_a_dead_letter_after_the_fix_indexes_the_article(make_installation: MakeInstallation) -> None:
    installation = make_installation("standalone", articles=4, poison=1)
    first = installation.cli("run", "--once", "--sources", str(installation.sources_file))
    assert first.returncode == 0, first.stderr[-3000:]
    assert installation.count() == 4

    # The fix: a limit the page fits in.
    retried = installation.cli("deadletters", "retry", "--all", NEWSINGEST_RELIABILITY__ARTICLE_TIME_LIMIT_S="60")
    assert retried.returncode == 0, retried.stderr[-3000:]
    assert installation.count() == 5
    assert installation.dead_letters() == []


def test_a_job_removed_from_the_queue_is_missing_until_the_reconciler_brings_it_back(
    make_installation: MakeInstallation, private_redis: RedisServer, fault_report: Callable[..., None]
) -> None:
    installation = make_installation("distributed", articles=12)
    # No worker yet: the jobs wait in the queue, and `run --once` gives up waiting for them.
    queued = installation.cli(
        "run", "--once", "--sources", str(installation.sources_file), NEWSINGEST_ONCE_TIMEOUT_S="1"
    )
    assert queued.returncode == 1, queued.stderr[-3000:]
    # Past the (here tiny) timeout but still queued: waiting, not missing, while the queue holds them.
    waiting = installation.cli("audit", "--json", NEWSINGEST_RELIABILITY__RECONCILE_TIMEOUT_S="0.01")
    assert waiting.returncode == 0, waiting.stdout + waiting.stderr
    assert '"pending": 12' in waiting.stdout and '"missing": 0' in waiting.stdout, waiting.stdout
    env = installation.env
    with private_redis.client() as client:
        assert client.delete(env["NEWSINGEST_KEY_PREFIX"] + env["NEWSINGEST_CELERY__QUEUE"]) == 1

    # Handed off longer ago than the timeout, never done, and the queue empty: missing.
    audit = installation.cli("audit", "--json", NEWSINGEST_RELIABILITY__RECONCILE_TIMEOUT_S="0.01")
    assert audit.returncode == 1 and '"missing": 12' in audit.stdout, audit.stdout + audit.stderr

    started = time.monotonic()
    installation.start_worker()
    installation.start("run", "--sources", str(installation.sources_file), log_name="daemon.log", **FAST_RECONCILE)
    wait_for(_settled(installation, 12), 90, "every job indexed after reconciling")
    fault_report("queued batch deleted from Redis (reconciler)", "distributed", settle(installation, 12, started))
    assert installation.count() == 12
