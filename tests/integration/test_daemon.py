"""The daemon as people run it: polls on its own, then stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.origin import running_origin

ROOT = Path(__file__).resolve().parents[2]


def _documents(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(db_path) as db:
            return int(db.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is still being created
        return 0


def test_daemon_ingests_then_drains_and_exits_on_sigterm(tmp_path: Path) -> None:
    db_path = tmp_path / "data" / "newsingest.sqlite3"
    with running_origin() as origin:
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            f"sources:\n  - name: ww\n    url: {origin.base}/feed.xml\n    poll_interval: 1h\n"
            f"    allow_hosts: ['{origin.host}']\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
        env.update(NEWSINGEST_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
        daemon = subprocess.Popen(
            [sys.executable, "-m", "ingest.cli", "run", "--sources", str(sources)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while _documents(db_path) < 6 and time.monotonic() < deadline and daemon.poll() is None:
                time.sleep(0.5)
            assert _documents(db_path) == 6, "the daemon did not ingest the feed in 120 s"
            assert daemon.poll() is None, "the daemon exited on its own"
            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=60)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    assert daemon.returncode == 0, stderr[-2000:]
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert "shutdown_requested" in events
