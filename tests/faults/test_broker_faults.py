"""Broker faults: the private Redis of a distributed run restarted, killed, or down for a minute.

The daemon (`run`, with a reconciler that acts within seconds) and one worker ingest the local news
web; the fault lands while the daemon is still fetching the Harbour Times (its pages are slowed):
restarts and kills while the worker holds a batch, the long outage while the daemon fetches. Each test waits until both processes
have said they lost the broker before it starts Redis again, so the fault is seen, not slept past.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.news_site import HOSTS, NewsSite
from tests.faults.recovery import FAST_RECONCILE, assert_exact, settle
from tests.faults.servers import RedisServer
from tests.installation import Installation, log_events, wait_for

pytestmark = pytest.mark.faults

MakeInstallation = Callable[..., Installation]
# The Harbour Times pages at 0.1 s each, two at a time (the per-host limit): about 12 s of fetching,
# so the fault lands while the daemon still fetches and the worker already processes the wire.
PAGE_DELAY_S = 0.1
# Harbour Times page requests when the fault is injected: of 240 (200 stories, 40 again from the
# port section), so the front-page poll is surely still fetching.
FETCHED_BEFORE_FAULT = 80
DAEMON_WAITS = "broker_unreachable"  # the daemon's line for "the broker is away, waiting for it"
OUTAGE_S = 60
# Peak growth of a process tree's RSS during the outage ("flat", with room to spare). What the daemon
# may hold is bounded by the polls in flight: here the site's 269 pages, about 6 KB each with their
# job, under 2 MB, and it stops fetching (asserted directly below). The worker holds no work while it
# cannot reach the broker. Measured here: +24 KB (daemon), +60-80 KB (worker and its pool child).
# 16 MB leaves room for a batch finishing at the outage's start, and catches a reconnect loop that
# spins without backoff keeping what it fails with (thousands of attempts a second).
RSS_GROWTH_BOUND_BYTES = 16 * 1024 * 1024


def _start_run(make_installation: MakeInstallation, news_site: NewsSite) -> tuple[Installation, subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    news_site.page_delay_s = PAGE_DELAY_S
    installation = make_installation("distributed", site=news_site)
    worker = installation.start_worker("worker.log")
    daemon = installation.start("run", "--sources", str(installation.sources_file), log_name="daemon.log", **FAST_RECONCILE)
    return installation, daemon, worker


def _wait_until_mid_fetch(site: NewsSite) -> None:
    wait_for(lambda: _harbour_pages_fetched(site) >= FETCHED_BEFORE_FAULT, 180, "the daemon fetching the Harbour Times")


def _wait_until_the_worker_holds_a_batch(installation: Installation, redis: RedisServer) -> None:
    """Late acks: a batch is in `unacked` from its delivery until the worker has processed it. The
    first batches (the wire's, the port section's) go while the Harbour Times is still fetched."""
    unacked = installation.env["NEWSINGEST_KEY_PREFIX"] + "unacked"
    with redis.client() as client:
        wait_for(lambda: client.hlen(unacked) > 0, 180, "the worker holding a batch", every_s=0.01)


def _harbour_pages_fetched(site: NewsSite) -> int:
    return sum(n for path, n in site.hits.items() if path.startswith(HOSTS[0]) and "/news/" in path)


def _pages_fetched(site: NewsSite) -> int:
    return sum(n for path, n in site.hits.items() if "/news/" in path or "/wire/" in path)


def _events(installation: Installation, name: str) -> list[dict[str, Any]]:
    """The JSON log lines a process wrote (tracebacks and other plain lines left out)."""
    return log_events(installation.workdir / name)


def _both_waiting_for(installation: Installation, redis: RedisServer) -> Callable[[], bool]:
    """The daemon's named line, and the worker's (Celery's consumer) naming the broker it retries
    (Celery masks a password as `:**@` whether there is one or not)."""
    broker = rf"redis://(:\*+@)?127\.0\.0\.1:{redis.port}/0"

    def waiting() -> bool:
        worker = installation.log("worker.log")
        return DAEMON_WAITS in installation.log("daemon.log") and re.search(f"Cannot connect to {broker}", worker) is not None

    return waiting


def _assert_alive(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        assert process.poll() is None, f"process {process.args} exited with {process.returncode}"


def test_redis_restarted_gracefully_loses_and_duplicates_nothing(
    make_installation: MakeInstallation, news_site: NewsSite, private_redis: RedisServer, fault_report: Callable[..., None]
) -> None:
    installation, daemon, worker = _start_run(make_installation, news_site)
    _wait_until_the_worker_holds_a_batch(installation, private_redis)
    injected = time.monotonic()
    private_redis.shutdown()
    wait_for(_both_waiting_for(installation, private_redis), 60, "daemon and worker saying they wait for the broker")
    private_redis.start()

    settled = settle(installation, news_site.expected_documents, injected)
    fault_report("Redis restarted (SHUTDOWN)", "distributed", settled)
    assert_exact(installation, settled)
    _assert_alive(daemon, worker)
    assert "broker_reconnected" in installation.log("daemon.log")


def test_redis_killed_and_restarted_loses_and_duplicates_nothing(
    make_installation: MakeInstallation, news_site: NewsSite, private_redis: RedisServer, fault_report: Callable[..., None]
) -> None:
    installation, daemon, worker = _start_run(make_installation, news_site)
    _wait_until_the_worker_holds_a_batch(installation, private_redis)
    injected = time.monotonic()
    private_redis.kill()  # the AOF's last second (queued batches, marks, seen entries) may be gone
    wait_for(_both_waiting_for(installation, private_redis), 60, "daemon and worker saying they wait for the broker")
    private_redis.start()

    settled = settle(installation, news_site.expected_documents, injected)
    fault_report("Redis killed (SIGKILL), restarted", "distributed", settled)
    assert_exact(installation, settled)
    _assert_alive(daemon, worker)


@pytest.mark.timeout(600)  # the outage itself is a minute, then the whole run must settle
def test_redis_down_a_minute_keeps_daemon_and_worker_up_waiting_with_bounded_memory(
    make_installation: MakeInstallation, news_site: NewsSite, private_redis: RedisServer, fault_report: Callable[..., None]
) -> None:
    installation, daemon, worker = _start_run(make_installation, news_site)
    _wait_until_mid_fetch(news_site)
    injected = time.monotonic()
    private_redis.shutdown()
    wait_for(_both_waiting_for(installation, private_redis), 60, "daemon and worker saying they wait for the broker")
    pages_when_paused = _pages_fetched(news_site)
    trees = {"daemon": daemon.pid, "worker": worker.pid}
    first = {name: _tree_rss_bytes(pid) for name, pid in trees.items()}
    peak = dict(first)
    while time.monotonic() - injected < OUTAGE_S:
        time.sleep(1)
        _assert_alive(daemon, worker)  # the same processes throughout: none exited to be restarted
        peak = {name: max(peak[name], _tree_rss_bytes(pid)) for name, pid in trees.items()}
    pages_during_outage = _pages_fetched(news_site) - pages_when_paused
    private_redis.start()

    settled = settle(installation, news_site.expected_documents, injected)
    fault_report(f"Redis down {OUTAGE_S} s", "distributed", settled)
    assert_exact(installation, settled)
    _assert_alive(daemon, worker)
    # Fetching paused: at most the pages already being fetched (the daemon's fetch concurrency, 8)
    # came in after it said it waits, of the ~150 still to fetch.
    assert pages_during_outage <= 8, pages_during_outage
    growth = {name: peak[name] - first[name] for name in trees}
    print(f"RSS at the outage's start {first}, peak growth during it {growth} (bytes)")
    assert all(grown < RSS_GROWTH_BOUND_BYTES for grown in growth.values()), (growth, first)
    # Named with what it waits for (the broker's address, never a password), again while it waits.
    waits_for = f"the broker at redis://127.0.0.1:{private_redis.port}/0"
    lines = _events(installation, "daemon.log")
    assert [line["waiting_for"] for line in lines if line["event"] == DAEMON_WAITS] == [waits_for]
    assert {line["waiting_for"] for line in lines if line["event"] == "broker_still_unreachable"} == {waits_for}
    assert [line["event"] for line in lines if line["event"] == "broker_reconnected"] == ["broker_reconnected"]
    # Its sources' leases (expired during the outage) are the daemon's again: no standby polls them twice.
    leases = [installation.env["NEWSINGEST_KEY_PREFIX"] + f"lease:{name}" for name in ("harbour", "harbour-port", "coast-wire")]
    with private_redis.client() as client:
        wait_for(
            lambda: all(f":{daemon.pid}:".encode() in (client.get(key) or b"") for key in leases),
            60, "the daemon holding its sources' leases again",
        )


def test_a_daemon_told_to_stop_while_redis_is_down_stops_within_its_grace(
    make_installation: MakeInstallation, news_site: NewsSite, private_redis: RedisServer
) -> None:
    installation, daemon, _worker = _start_run(make_installation, news_site)
    _wait_until_mid_fetch(news_site)
    private_redis.shutdown()
    wait_for(_both_waiting_for(installation, private_redis), 60, "daemon and worker saying they wait for the broker")
    daemon.send_signal(signal.SIGTERM)

    # The polls waiting for the broker get the shutdown grace (2 s here), then the daemon exits; what it
    # could not hand off is in the ledger or is fetched again at the next start.
    assert daemon.wait(60) == 0, installation.log("daemon.log")[-3000:]
    events = [line["event"] for line in _events(installation, "daemon.log")]
    assert "shutdown_requested" in events and "state_not_saved" in events


def _tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (the worker's pool children too)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(match.group(1)) * 1024 if match else 0
    return total
