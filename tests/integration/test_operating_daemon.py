"""Operating a real daemon process: its /metrics after a run, the data directory lock, SIGHUP, a forced stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.origin import Origin, running_origin

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _documents(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path) as db:
            return int(db.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _sources(path: Path, origin: Origin, *extra: str) -> Path:
    lines = [
        "sources:",
        f"  - name: ww\n    url: {origin.base}/feed.xml\n    poll_interval: 1h\n    allow_hosts: ['{origin.host}']",
        *extra,
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextmanager
def _daemon(tmp: Path, sources: Path, log_name: str, **env_extra: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(NEWSINGEST_DATA_DIR=str(tmp / "data"), PYTHONPATH=str(ROOT), **env_extra)
    with (tmp / log_name).open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest.cli", "run", "--sources", str(sources)],
            env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=log,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _events(path: Path) -> list[dict[str, object]]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def _wait_for(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_endpoint_counts_what_a_standalone_run_did(tmp_path: Path) -> None:
    port = _free_port()
    with running_origin() as origin:
        sources = _sources(tmp_path / "sources.yaml", origin)
        with _daemon(tmp_path, sources, "daemon.log", NEWSINGEST_OPS__HTTP_ENABLED="true",
                     NEWSINGEST_OPS__HTTP_PORT=str(port)) as daemon:
            db = tmp_path / "data" / "newsingest.sqlite3"
            _wait_for(lambda: _documents(db) == 6 or daemon.poll() is not None, 120, "6 documents")
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-2000:]
            base = f"http://127.0.0.1:{port}"
            assert (await _get(base + "/healthz"))[0] == 200
            assert (await _get(base + "/readyz"))[0] == 200
            status, text = await _get(base + "/metrics")
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(60) == 0
    assert status == 200
    got = _samples(text)
    assert got[("newsingest_polls_total", (("outcome", "ok"), ("source", "ww")))] == 1
    entries = (ROOT / "seeds" / "feed.xml").read_text(encoding="utf-8").count("<item>")
    with sqlite3.connect(db) as conn:
        dead = int(conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0])
    assert got[("newsingest_entries_found_total", (("source", "ww"),))] == entries
    assert got[("newsingest_articles_handed_off_total", (("source", "ww"),))] == entries
    assert got[("newsingest_fetch_responses_total", (("kind", "page"), ("source", "ww"), ("status", "200")))] == entries
    assert got[("newsingest_fetch_duration_seconds_count", (("kind", "page"),))] == entries
    assert got[("newsingest_fetched_bytes_total", (("source", "ww"),))] > 0
    extracted = sum(v for (name, _), v in got.items() if name == "newsingest_extractions_total")
    assert extracted == entries
    # Two of the feed's entries end as one document (one canonical URL): a write each, one document.
    assert got[("newsingest_index_writes_total", (("result", "indexed"),))] == entries - dead
    assert got[("newsingest_fetch_to_searchable_seconds_count", ())] == entries - dead
    dead_counted = sum(v for (name, _), v in got.items() if name == "newsingest_dead_letters_total")
    assert dead_counted == dead
    assert got[("newsingest_queue_depth", ())] == 0


def test_second_daemon_on_a_data_directory_refuses_naming_lock_and_pid(tmp_path: Path) -> None:
    with running_origin() as origin:
        sources = _sources(tmp_path / "sources.yaml", origin)
        with _daemon(tmp_path, sources, "first.log") as first:
            lock = tmp_path / "data" / "daemon.lock"
            _wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), 60, "the lock")
            with _daemon(tmp_path, sources, "second.log") as second:
                assert second.wait(60) == 2
            first.send_signal(signal.SIGTERM)
            assert first.wait(60) == 0
    message = (tmp_path / "second.log").read_text()
    assert str(lock) in message and f"process {first.pid}" in message


def test_lock_is_released_when_the_daemon_is_killed(tmp_path: Path) -> None:
    with running_origin() as origin:
        sources = _sources(tmp_path / "sources.yaml", origin)
        with _daemon(tmp_path, sources, "first.log") as first:
            lock = tmp_path / "data" / "daemon.lock"
            _wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), 60, "the lock")
            first.kill()
            first.wait()
        with _daemon(tmp_path, sources, "second.log") as second:
            _wait_for(lambda: lock.read_text().strip() == str(second.pid), 60, "the second daemon's lock")
            second.send_signal(signal.SIGTERM)
            assert second.wait(60) == 0


def test_sighup_reloads_an_edited_sources_file(tmp_path: Path) -> None:
    with running_origin() as origin:
        sources = _sources(tmp_path / "sources.yaml", origin)
        # The watcher would notice the edit within the hour only: the reload is the signal's doing.
        with _daemon(tmp_path, sources, "daemon.log", NEWSINGEST_POLLING__RELOAD_CHECK_S="3600") as daemon:
            log = tmp_path / "daemon.log"
            _wait_for(lambda: any(e["event"] == "poll_finished" for e in _events(log)), 60, "the first poll")
            _sources(sources, origin, f"  - name: extra\n    url: {origin.base}/feed.xml\n    poll_interval: 1h\n"
                     f"    allow_hosts: ['{origin.host}']")
            daemon.send_signal(signal.SIGHUP)
            _wait_for(lambda: any(e["event"] == "sources_reloaded" for e in _events(log)), 30, "sources_reloaded")
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(60) == 0
    reloaded = next(e for e in _events(log) if e["event"] == "sources_reloaded")
    assert reloaded["added"] == ["extra"]


def test_second_stop_signal_exits_at_once_during_the_grace_period(tmp_path: Path) -> None:
    with running_origin() as origin:
        sources = tmp_path / "sources.yaml"
        # A feed that sends headers and then nothing: its poll is in flight for the whole grace period.
        sources.write_text(
            f"sources:\n  - name: slow\n    url: {origin.base}/slow/page.html\n    poll_interval: 1h\n"
            f"    allow_hosts: ['{origin.host}']\n",
            encoding="utf-8",
        )
        with _daemon(tmp_path, sources, "daemon.log", NEWSINGEST_SHUTDOWN_GRACE_S="60") as daemon:
            log = tmp_path / "daemon.log"
            _wait_for(lambda: any(e["event"] == "starting" for e in _events(log)), 60, "the daemon to start")
            time.sleep(2)  # its one poll is now waiting on the slow feed (or about to: either is in flight)
            daemon.send_signal(signal.SIGTERM)
            _wait_for(lambda: any(e["event"] == "shutdown_waiting" for e in _events(log)), 30, "the drain")
            daemon.send_signal(signal.SIGTERM)
            returncode = daemon.wait(15)
    assert returncode == 130
    assert any(e["event"] == "shutdown_forced" for e in _events(log))


def test_signals_while_the_daemon_waits_for_elasticsearch_at_start_up_reload_is_noted_and_stop_is_clean(tmp_path: Path) -> None:
    # `systemctl reload` or `stop` can come while the daemon still waits for its index: their default
    # actions would kill it (a reload) or end it by a signal (a stop).
    with running_origin() as origin:
        sources = _sources(tmp_path / "sources.yaml", origin)
        nowhere = f"http://127.0.0.1:{_free_port()}"  # nothing listens: the daemon waits at start-up
        with _daemon(
            tmp_path, sources, "daemon.log",
            NEWSINGEST_ELASTICSEARCH_URL=nowhere, NEWSINGEST_REDIS_URL=os.environ.get("NEWSINGEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        ) as daemon:
            log = tmp_path / "daemon.log"
            _wait_for(lambda: any(e["event"] == "waiting_for_elasticsearch" for e in _events(log)), 60, "the wait")
            daemon.send_signal(signal.SIGHUP)
            _wait_for(
                lambda: any(e["event"] == "reload_requested_during_startup" for e in _events(log)), 30, "the note"
            )
            assert daemon.poll() is None
            daemon.send_signal(signal.SIGTERM)  # still starting: a clean stop
            assert daemon.wait(30) == 0
    assert any(e["event"] == "stopped_during_startup" for e in _events(log))
