"""A local news archive and a newsingest installation of real processes, for the fault tests.

The archive is a `file:` source (a feed and its pages, written per test), so no politeness delay
or network enters a test; the processes are the real CLI: `run`, `worker`, `audit`, `deadletters`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (  # noqa: F401  (fixtures)
    elasticsearch_url,
    es_alias,
    es_client,
    redis_client,
    redis_prefix,
    redis_url,
)

ROOT = Path(__file__).resolve().parents[2]
_WORDS = (
    "harbour council tram budget river bridge school library market festival museum station ferry "
    "mayor report vote plan weather storm summer winter farmers rail workers union strike talks "
    "minister hospital nurses doctors police court judge museum gallery concert theatre football "
    "league season coach players village town city region border trade export grain port ships"
).split()

# A real story trailed by a tree just under the size caps: about 5 s of extraction on this machine,
# so it "hangs" extraction against the 1 s per-article limit the tests set, on every attempt, and
# is indexed once the limit is raised (the fix a retry follows).
_POISON_TAIL = "<p>a b</p>" * 23_000


def _story(rng: random.Random, n: int) -> str:
    paragraphs = [
        " ".join(rng.choice(_WORDS) for _ in range(45)).capitalize() + "." for _ in range(5)
    ]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>Story {n} from the harbour</title></head><body><article>"
        f"<h1>Story {n} from the harbour</h1>{body}</article></body></html>"
    )


def write_archive(folder: Path, articles: int, poison: int = 0, seed: int = 8) -> Path:
    """`articles` distinct stories (and `poison` poison pages) under folder; returns the feed path."""
    rng = random.Random(seed)
    (folder / "pages").mkdir(parents=True)
    items = []
    for n in range(articles + poison):
        page = folder / "pages" / f"story-{n}.html"
        html = _story(rng, n)
        if n >= articles:
            html = html.replace("</article>", "</article>" + _POISON_TAIL)
        page.write_text(html, encoding="utf-8")
        items.append(
            f"<item><title>Story {n}</title><link>pages/story-{n}.html</link>"
            f"<guid isPermaLink=\"false\">harbour-{n}</guid>"
            f"<pubDate>Wed, 25 Nov 2026 09:{n % 60:02d}:00 +0000</pubDate></item>"
        )
    feed = folder / "feed.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Harbour Times</title>'
        f"<link>https://harbour.example/</link><description>Local news</description>{''.join(items)}"
        "</channel></rss>",
        encoding="utf-8",
    )
    return feed


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

            with Elasticsearch(self.env["NEWSINGEST_ELASTICSEARCH_URL"]) as client:
                client.indices.refresh(index=self.env["NEWSINGEST_INDEX_ALIAS"])
                return int(client.count(index=self.env["NEWSINGEST_INDEX_ALIAS"])["count"])
        import sqlite3

        with sqlite3.connect(Path(self.env["NEWSINGEST_DATA_DIR"]) / "newsingest.sqlite3") as db:
            return int(db.execute("SELECT count(*) FROM articles").fetchone()[0])

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


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(
        NEWSINGEST_DATA_DIR=str(tmp / "data"),
        NEWSINGEST_POLLING__HOST_DELAY_S="0",
        NEWSINGEST_PROCESSING_WORKERS="2",
        NEWSINGEST_BATCH_SIZE="5",
        NEWSINGEST_RELIABILITY__ARTICLE_TIME_LIMIT_S="1",
        NEWSINGEST_SHUTDOWN_GRACE_S="2",  # teardown: nothing in flight is worth waiting for
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def make_installation(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Installation]]:
    """`make_installation(mode, articles, poison=0)`: an archive and the environment to ingest it."""
    made: list[Installation] = []

    def make(mode: str, articles: int, poison: int = 0) -> Installation:
        feed = write_archive(tmp_path / "archive", articles, poison)
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            f"sources:\n  - name: harbour\n    url: {feed.as_uri()}\n    poll_interval: 1h\n", encoding="utf-8"
        )
        env = _env(tmp_path)
        if mode == "distributed":
            alias, prefix = request.getfixturevalue("es_alias"), request.getfixturevalue("redis_prefix")
            env.update(
                NEWSINGEST_REDIS_URL=request.getfixturevalue("redis_url"),
                NEWSINGEST_ELASTICSEARCH_URL=request.getfixturevalue("elasticsearch_url"),
                NEWSINGEST_INDEX_ALIAS=alias,
                NEWSINGEST_KEY_PREFIX=prefix,
                NEWSINGEST_CELERY__QUEUE=f"{alias}-queue",
            )
        installation = Installation(env, tmp_path, sources)
        made.append(installation)
        return installation

    yield make
    for installation in made:
        installation.stop_all()
