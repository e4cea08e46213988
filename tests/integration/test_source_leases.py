"""Per-source leases in real Redis: one poller per source among daemons, and a standby's takeover."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ingest.leases import SourceLeases
from tests.origin import running_origin

ROOT = Path(__file__).resolve().parents[2]


async def test_a_held_lease_is_refused_to_another_daemon(redis_url: str, redis_prefix: str) -> None:
    first = SourceLeases(redis_url, redis_prefix, ttl_s=30, holder="first")
    second = SourceLeases(redis_url, redis_prefix, ttl_s=30, holder="second")
    try:
        assert await first.claim("bbc")
        assert not await second.claim("bbc")
        assert await first.claim("bbc")  # the holder keeps it
    finally:
        await first.close()
        await second.close()


async def test_a_released_lease_goes_to_the_next_daemon_that_asks(redis_url: str, redis_prefix: str) -> None:
    first = SourceLeases(redis_url, redis_prefix, ttl_s=30, holder="first")
    second = SourceLeases(redis_url, redis_prefix, ttl_s=30, holder="second")
    try:
        await first.claim("bbc")
        await first.release_all()
        assert await second.claim("bbc")
        assert await second.holder_of("bbc") == "second"
    finally:
        await first.close()
        await second.close()


async def test_an_unrenewed_lease_expires_for_a_standby(redis_url: str, redis_prefix: str) -> None:
    first = SourceLeases(redis_url, redis_prefix, ttl_s=2, holder="first")
    second = SourceLeases(redis_url, redis_prefix, ttl_s=2, holder="second")
    try:
        await first.claim("bbc")  # and never renewed: as if its daemon died
        await asyncio.sleep(2.3)
        assert await second.claim("bbc")
        assert not await first.claim("bbc")
    finally:
        await first.close()
        await second.close()


def _events(path: Path) -> list[dict[str, object]]:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _wait_for(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def test_two_daemons_poll_a_source_once_and_the_standby_takes_over_a_killed_one(
    tmp_path: Path, redis_url: str, redis_prefix: str, elasticsearch_url: str, es_alias: str
) -> None:
    with running_origin() as origin:
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            f"sources:\n  - name: ww\n    url: {origin.base}/feed.xml\n    poll_interval: 1h\n"
            f"    allow_hosts: ['{origin.host}']\n",
            encoding="utf-8",
        )
        processes: list[subprocess.Popen[bytes]] = []
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        try:
            for number, log in enumerate(logs):
                env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
                env.update(
                    PYTHONPATH=str(ROOT), NEWSINGEST_DATA_DIR=str(tmp_path / f"data{number}"),
                    NEWSINGEST_REDIS_URL=redis_url, NEWSINGEST_ELASTICSEARCH_URL=elasticsearch_url,
                    NEWSINGEST_INDEX_ALIAS=es_alias, NEWSINGEST_KEY_PREFIX=redis_prefix,
                    NEWSINGEST_OPS__LEASE_TTL_S="3",
                )
                with log.open("wb") as out:
                    processes.append(subprocess.Popen(
                        [sys.executable, "-m", "ingest.cli", "run", "--sources", str(sources)],
                        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=out,
                    ))
                if number == 0:  # the first is the holder: it starts first and takes the lease
                    _wait_for(lambda: any(e["event"] == "source_lease_taken" for e in _events(logs[0])), 90, "a lease")
            _wait_for(lambda: any(e["event"] == "poll_finished" for e in _events(logs[0])), 90, "the holder's poll")
            time.sleep(6)  # two lease lifetimes: the standby has asked at least twice
            polls = [sum(e["event"] == "poll_finished" for e in _events(log)) for log in logs]
            assert polls == [1, 0]
            processes[0].send_signal(signal.SIGKILL)
            processes[0].wait()
            _wait_for(lambda: any(e["event"] == "poll_finished" for e in _events(logs[1])), 60, "the takeover")
            processes[1].send_signal(signal.SIGTERM)
            assert processes[1].wait(60) == 0
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    assert any(e["event"] == "source_lease_taken" for e in _events(logs[1]))
