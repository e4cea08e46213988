"""Installation: one newsingest installation under test (its environment, the processes it
started) and how to run its CLI; helpers to kill process groups and wait for conditions."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Installation:
    """One newsingest installation: its environment and the processes it started."""

    env: dict[str, str]
    workdir: Path
    sources_file: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def distributed(self) -> bool:
        return "NEWSINGEST_REDIS_URL" in self.env

    def distribute(self, redis_url: str, elasticsearch_url: str, alias: str, key_prefix: str) -> None:
        """Switch to distributed mode on these servers, under names of its own (index alias, Redis keys,
        Celery queue) so it shares them with nothing else."""
        self.env.update(
            NEWSINGEST_REDIS_URL=redis_url,
            NEWSINGEST_ELASTICSEARCH_URL=elasticsearch_url,
            NEWSINGEST_INDEX_ALIAS=alias,
            NEWSINGEST_KEY_PREFIX=key_prefix,
            NEWSINGEST_CELERY__QUEUE=f"{alias}-queue",
        )

    def cli(self, *args: str, timeout_s: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingest.cli", *args],
            env={**self.env, **env},
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def start(self, *args: str, log_name: str, **env: str) -> subprocess.Popen[bytes]:
        """A long-running CLI process in its own process group (so a test can kill all of it)."""
        with (self.workdir / log_name).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "ingest.cli", *args],
                env={**self.env, **env},
                cwd=self.workdir,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start_worker(self, log_name: str = "worker.log", **env: str) -> subprocess.Popen[bytes]:
        return self.start("worker", "--concurrency", "1", log_name=log_name, **env)

    def audit(self) -> tuple[int, dict[str, Any]]:
        """`audit --json`: exit code and figures. An audit that printed no figures (it could not
        read the ledger at that moment) fails the test with its error output if it happens again."""
        for attempt in range(3):
            result = self.cli("audit", "--json")
            try:
                return result.returncode, json.loads(result.stdout)
            except ValueError:
                if attempt == 2:
                    pytest.fail(f"audit printed no figures (exit {result.returncode}): {result.stderr[-3000:]}")
                time.sleep(1)
        raise AssertionError("unreachable")

    def count(self) -> int:
        if self.distributed:
            from elasticsearch import Elasticsearch

            with Elasticsearch(self.env["NEWSINGEST_ELASTICSEARCH_URL"], **es_credentials(self.env)) as client:
                client.indices.refresh(index=self.env["NEWSINGEST_INDEX_ALIAS"])
                return int(client.count(index=self.env["NEWSINGEST_INDEX_ALIAS"])["count"])
        import sqlite3

        with sqlite3.connect(Path(self.env["NEWSINGEST_DATA_DIR"]) / "newsingest.sqlite3") as db:
            return int(db.execute("SELECT count(*) FROM articles").fetchone()[0])

    def log(self, name: str) -> str:
        """What a process started with `log_name=name` has written so far ("" before it wrote)."""
        path = self.workdir / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def documents(self, fields: tuple[str, ...] = ("version", "cluster_id", "duplicate_of")) -> dict[str, dict[str, Any]]:
        """Every indexed document by id, with these fields (by default those exactness checks need)."""
        if self.distributed:
            from elasticsearch import Elasticsearch

            alias = self.env["NEWSINGEST_INDEX_ALIAS"]
            with Elasticsearch(self.env["NEWSINGEST_ELASTICSEARCH_URL"], **es_credentials(self.env)) as client:
                client.indices.refresh(index=alias)
                hits = client.search(index=alias, size=10_000, source=list(fields))["hits"]["hits"]
            return {hit["_id"]: {f: hit["_source"].get(f) for f in fields} for hit in hits}
        import sqlite3

        with sqlite3.connect(Path(self.env["NEWSINGEST_DATA_DIR"]) / "newsingest.sqlite3") as db:
            rows = db.execute("SELECT id, document FROM articles").fetchall()
        return {doc_id: {f: json.loads(document).get(f) for f in fields} for doc_id, document in rows}

    def dead_letters(self) -> list[dict[str, Any]]:
        result = self.cli("deadletters", "list", "--json")
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                kill_group(process, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                kill_group(process, signal.SIGKILL)
                process.wait()


def base_env(tmp: Path) -> dict[str, str]:
    """The environment of a test installation in `tmp`: this process's, without any NEWSINGEST_ setting
    of the caller's, a data directory in `tmp`, and no politeness delay (every source is one origin)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(
        NEWSINGEST_DATA_DIR=str(tmp / "data"),
        NEWSINGEST_HTTP__TIMEOUT_S="3",
        # Every source here is on one local origin: the default 1 s between requests to a host
        # would only make the test wait (politeness itself is tested in test_fetching.py).
        NEWSINGEST_POLLING__HOST_DELAY_S="0",
        NEWSINGEST_PROCESSING_WORKERS="2",
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )
    return env


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def es_credentials(env: dict[str, str]) -> dict[str, Any]:
    """Client options for the writer identity and CA an installation's environment names (tests/secured);
    none for the plain Elasticsearch."""
    options: dict[str, Any] = {}
    user = env.get("NEWSINGEST_ELASTICSEARCH__USERNAME")
    if user:
        password = env.get("NEWSINGEST_ELASTICSEARCH__PASSWORD")
        if password is None:
            password = Path(env["NEWSINGEST_ELASTICSEARCH__PASSWORD_FILE"]).read_text(encoding="utf-8").strip()
        options["basic_auth"] = (user, password)
    if "NEWSINGEST_ELASTICSEARCH__CA_CERTS" in env:
        options["ca_certs"] = env["NEWSINGEST_ELASTICSEARCH__CA_CERTS"]
    return options


def log_events(path: Path) -> list[dict[str, Any]]:
    """The structlog JSON lines a process wrote to its log file (Celery's, tracebacks' and other
    plain lines skipped, and a line cut short by a kill)."""
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def kill_group(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def wait_for(condition: Callable[[], bool], deadline_s: float, what: str, every_s: float = 0.5) -> None:
    """Wait until condition() holds; fail naming `what` after deadline_s (a deadline, not a timing)."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"not within {deadline_s:g}s: {what}")
        time.sleep(every_s)


def drop_alias(client: Any, alias: str) -> None:
    """Delete the indices behind `alias` (`{alias}*`) and its template, whatever exists of them.
    Names, not a wildcard delete: action.destructive_requires_name is on by default."""
    from workers.index.mapping import template_name

    lenient = client.options(ignore_status=404)
    found = lenient.indices.get(index=f"{alias}*", expand_wildcards="all", allow_no_indices=True)
    if found.meta.status == 200 and found.body:
        lenient.indices.delete(index=",".join(found.body))
    lenient.indices.delete_index_template(name=template_name(alias))
