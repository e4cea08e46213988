"""Worker faults in distributed mode: a pool child killed, a whole worker killed, warm restarts under load.

The batches come back by the broker's own means (Celery's requeue of a lost child's batch, kombu's
restore of a dead worker's), so the daemon here keeps the default reconcile timeout unless the row
says otherwise: the reconciler cannot have helped. `/proc` tells the worker's children apart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.news_site import NewsSite
from tests.faults.recovery import FAST_RECONCILE, assert_exact, settle
from tests.faults.servers import RedisServer
from tests.installation import Installation, kill_group, wait_for

pytestmark = pytest.mark.faults

MakeInstallation = Callable[..., Installation]
Report = Callable[..., None]
# Large batches: a pool child holds one for seconds, so a kill lands while it is held.
BIG_BATCHES = {"NEWSINGEST_BATCH_SIZE": "100"}


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): state, ppid, ..."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(int(entry))[1]) == pid:
                    found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    return found


def _cpu_ticks(pid: int) -> int:
    try:
        fields = _stat(pid)
    except OSError:
        return -1
    return int(fields[11]) + int(fields[12])  # utime + stime


def _idle(pids: list[int]) -> bool:
    """No CPU spent over half a second: warmed up, and waiting for work."""
    before = {pid: _cpu_ticks(pid) for pid in pids}
    time.sleep(0.5)
    return all(_cpu_ticks(pid) == before[pid] for pid in pids)


def _group_gone(process: subprocess.Popen[bytes]) -> bool:
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_pool_child_killed_mid_batch_has_its_batch_redelivered_at_once(
    make_installation: MakeInstallation, news_site: NewsSite, private_redis: RedisServer, fault_report: Report
) -> None:
    installation = make_installation("distributed", site=news_site)
    # A visibility timeout far beyond the test and the default reconcile timeout: only Celery's
    # requeue of the lost child's batch (task_reject_on_worker_lost) can bring it back in time.
    installation.env.update(BIG_BATCHES, NEWSINGEST_CELERY__VISIBILITY_TIMEOUT_S="3600")
    worker = installation.start("worker", "--concurrency", "2", log_name="worker.log")
    # Children spend seconds loading models at start: the one to burn CPU after that holds a batch.
    wait_for(lambda: len(_children(worker.pid)) == 2 and _idle(_children(worker.pid)), 180, "two idle pool children")
    children = _children(worker.pid)
    idle_ticks = {pid: _cpu_ticks(pid) for pid in children}
    installation.start("run", "--sources", str(installation.sources_file), log_name="daemon.log")
    unacked = installation.env["NEWSINGEST_KEY_PREFIX"] + "unacked"
    with private_redis.client() as client:

        def holding() -> bool:
            return client.hlen(unacked) > 0 and any(_cpu_ticks(pid) > idle_ticks[pid] for pid in children)

        wait_for(holding, 180, "a pool child preparing a batch", every_s=0.01)
    victim = max(children, key=lambda pid: _cpu_ticks(pid) - idle_ticks[pid])
    os.kill(victim, signal.SIGKILL)
    started = time.monotonic()
    wait_for(lambda: victim not in _children(worker.pid) and len(_children(worker.pid)) == 2, 60, "a new child")

    settled = settle(installation, news_site.expected_documents, started, deadline_s=180)
    fault_report("pool child killed mid-batch", "distributed", settled)
    assert_exact(installation, settled)
    assert "Worker exited prematurely: signal 9 (SIGKILL)" in installation.log("worker.log")  # named
    assert worker.poll() is None and len(_children(worker.pid)) == 2  # the parent lives on, pool full
    assert "Timed out waiting for UP message" not in installation.log("worker.log")  # its new child started
    assert "job_reenqueued" not in installation.log("daemon.log")  # the reconciler did not help


def test_a_whole_worker_killed_mid_batch_has_its_batches_restored_by_the_broker(
    make_installation: MakeInstallation, news_site: NewsSite, private_redis: RedisServer, fault_report: Report
) -> None:
    installation = make_installation("distributed", site=news_site)
    installation.env.update(BIG_BATCHES)
    first = installation.start_worker("worker-1.log")
    # The default reconcile timeout (600 s): what comes back within the test came back by kombu's restore.
    installation.start("run", "--sources", str(installation.sources_file), log_name="daemon.log")
    unacked = installation.env["NEWSINGEST_KEY_PREFIX"] + "unacked"
    with private_redis.client() as client:
        wait_for(lambda: client.hlen(unacked) > 0, 180, "the first worker holding a batch", every_s=0.01)
        kill_group(first, signal.SIGKILL)
        killed = time.monotonic()
        first.wait(30)
        held = {tag.decode() for tag in client.hkeys(unacked)}
        assert held, "the killed worker held no batch"

        installation.start_worker("worker-2.log")
        settled = settle(installation, news_site.expected_documents, killed, deadline_s=180)
        fault_report("whole worker killed (kombu restore, no reconciler)", "distributed", settled)
        assert_exact(installation, settled)
        assert not held & {tag.decode() for tag in client.hkeys(unacked)}  # restored, processed, acknowledged
    assert "job_reenqueued" not in installation.log("daemon.log")


def test_twenty_warm_worker_restarts_under_load_lose_and_duplicate_nothing(
    make_installation: MakeInstallation, news_site: NewsSite, private_redis: RedisServer, fault_report: Report
) -> None:
    installation = make_installation("distributed", site=news_site)
    # Small batches and a prompt SIGTERM keep a backlog for all twenty rounds on a fast machine too:
    # with 5 per batch and a 0.5 s look, a quick worker emptied the queue by the sixth round.
    installation.env.update(NEWSINGEST_BATCH_SIZE="2")
    installation.start("run", "--sources", str(installation.sources_file), log_name="daemon.log", **FAST_RECONCILE)
    prefix, queue = installation.env["NEWSINGEST_KEY_PREFIX"], installation.env["NEWSINGEST_CELERY__QUEUE"]
    restarts = 20
    workers: list[subprocess.Popen[bytes]] = []
    loaded = 0
    with private_redis.client() as client:
        wait_for(lambda: client.llen(prefix + queue) > 0, 180, "a backlog of batches in the queue")
        started = time.monotonic()
        for n in range(restarts + 1):
            log_name = f"worker-{n}.log"
            workers.append(installation.start_worker(log_name))
            if n > 0:
                workers[n - 1].wait(120)  # the warm shutdown finished its batch and exited
            if n == restarts:
                break
            # SIGTERM as soon as this worker has taken a batch: it stops in the middle of the work.
            wait_for(
                lambda: "process_batch[" in installation.log(log_name), 120, f"worker {n} taking a batch", every_s=0.02
            )
            loaded += client.llen(prefix + queue) > 0  # more batches wait behind the one it holds
            workers[n].send_signal(signal.SIGTERM)

    settled = settle(installation, news_site.expected_documents, started, deadline_s=180)
    fault_report(f"worker warm shutdown x{restarts} under load", "distributed", settled)
    assert_exact(installation, settled)
    assert loaded == restarts  # every shutdown came with a backlog waiting
    old = workers[:-1]
    assert [w.returncode for w in old] == [0] * restarts  # each a clean warm shutdown
    assert all(_group_gone(w) for w in old)  # no pool child left behind
    assert workers[-1].poll() is None
    logs = [installation.log(f"worker-{n}.log") for n in range(restarts + 1)]
    assert [log.count('"worker_starting"') for log in logs] == [1] * (restarts + 1)  # none restarted itself


def test_a_batch_held_longer_than_the_visibility_timeout_is_delivered_once(
    make_installation: MakeInstallation, private_redis: RedisServer
) -> None:
    # One batch of ten pages, eight of them seconds each: it is held twice as long as the 10 s
    # visibility timeout and more, and only the worker's renewals keep kombu's restore sweep off it.
    installation = make_installation("distributed", articles=2, poison=8)
    installation.env.update(
        NEWSINGEST_BATCH_SIZE="10",
        NEWSINGEST_RELIABILITY__ARTICLE_TIME_LIMIT_S="60",
        NEWSINGEST_CELERY__VISIBILITY_TIMEOUT_S="10",
    )
    installation.start_worker()
    started = time.monotonic()
    result = installation.cli("run", "--once", "--sources", str(installation.sources_file), timeout_s=280)
    assert result.returncode == 0, result.stderr[-3000:]

    settled = settle(installation, 10, started, deadline_s=120)
    assert settled.settled and (settled.lost, settled.duplicated) == (0, 0), settled
    # A copy put back meanwhile would still be in the queue, held, or received a second time.
    prefix, queue = installation.env["NEWSINGEST_KEY_PREFIX"], installation.env["NEWSINGEST_CELERY__QUEUE"]
    with private_redis.client() as client:
        assert (client.llen(prefix + queue), client.hlen(prefix + "unacked")) == (0, 0)
    assert installation.log("worker.log").count("] received") == 1
