"""The servers a fault test may break: a private Redis per test, and the run's one Elasticsearch.

Redis is cheap, so each test that breaks it gets its own (a free port, its own folder, AOF on as
in the production compose file): shutting it down never touches another suite's broker.
Elasticsearch is one per run (DESIGN decision 14): a test stops or kills the shared server through
`scripts/services.sh` and its pidfile, and the fixture always leaves it up again.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services.sh"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(condition: object, deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > end:
            raise RuntimeError(f"{what} not within {deadline_s:g}s")
        time.sleep(0.1)


@dataclass
class RedisServer:
    """A redis-server process of the test's own: start, SHUTDOWN, SIGKILL, start again (same data)."""

    folder: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def answers(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or _free_port()
        with (self.folder / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
                    "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                    "--maxmemory-policy", "noeviction",
                ],
                stdout=log,
                stderr=log,
            )
        _wait(self.answers, 30, f"redis on port {self.port}")

    def shutdown(self) -> None:
        """The graceful way: SHUTDOWN (the AOF is flushed), as `systemctl stop` would."""
        try:
            with self.client() as client:
                client.shutdown()
        except redis.ConnectionError:
            pass  # the server closes the connection as it goes
        self._reap()

    def kill(self) -> None:
        """SIGKILL: whatever the AOF had not written in its last second is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self.process is not None:
            self.process.wait(30)
            self.process = None


class Elasticsearch:
    """The run's one Elasticsearch: stop it, SIGKILL its JVM, start it again (and wait for yellow)."""

    def __init__(self) -> None:
        home = Path(os.environ.get("NEWSINGEST_SERVICES_HOME", "/var/lib/newsingest-dev"))
        self.pidfile = home / "elasticsearch" / "run" / "elasticsearch.pid"

    @staticmethod
    def _services(action: str) -> None:
        env = {**os.environ, "NEWSINGEST_SERVICES": "elasticsearch"}
        subprocess.run(["bash", str(SERVICES), action], env=env, check=True, timeout=300, capture_output=True)

    def stop(self) -> None:
        self._services("down")

    def kill(self) -> None:
        pid = int(self.pidfile.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        _wait(lambda: not Path(f"/proc/{pid}").exists(), 30, f"the Elasticsearch JVM (pid {pid}) to die")

    def start(self) -> None:
        self._services("up")  # waits for yellow
