"""One planted secret, used as every credential newsingest holds, never shows up anywhere a person reads.

The secret is the Redis password (a private redis-server with --requirepass), the Elasticsearch
password, the API token, and the credentials in a feed URL and an article URL. A real worker indexes
an article and dead-letters another; the daemon polls; status, audit and deadletters run; a wrong
Redis password is tried. Then every log, every output, /metrics, the dead-letter index and the data
directory are searched for the secret.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from elasticsearch import Elasticsearch

from ingest.handoff import TASK_NAME
from ingest.jobs import ArticleJob, SourceSnapshot
from ingest.settings import Settings
from tests.installation import kill_group, wait_for
from workers.app import make_app

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = f"plantedS3cret-{secrets.token_hex(6)}"
SOURCE = "secret-demo"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Setup:
    env: dict[str, str]
    settings: Settings
    tmp: Path
    metrics_url: str
    worker_log: Path


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--requirepass", SECRET,
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://:{SECRET}@127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    try:
        wait_for(answers, 30, "the private redis-server")
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(30)


@pytest.fixture
def setup(tmp_path: Path, private_redis: str, elasticsearch_url: str, es_alias: str) -> Iterator[Setup]:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{SECRET}\n")
    tokens.chmod(0o600)
    port = _free_port()
    closed_port = _free_port()
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        f"  - name: {SOURCE}\n"
        f"    url: http://feeds:{SECRET}@127.0.0.1:{closed_port}/feed.xml?token={SECRET}\n"
        "    kind: rss\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        NEWSINGEST_REDIS_URL=private_redis,
        NEWSINGEST_ELASTICSEARCH_URL=elasticsearch_url,
        NEWSINGEST_ELASTICSEARCH__USERNAME="writer",
        NEWSINGEST_ELASTICSEARCH__PASSWORD=SECRET,  # the services' Elasticsearch has security off: ignored
        NEWSINGEST_API__TOKEN_FILE=str(tokens),
        NEWSINGEST_INDEX_ALIAS=es_alias,
        NEWSINGEST_KEY_PREFIX=f"{es_alias}:",
        NEWSINGEST_CELERY__QUEUE=f"{es_alias}-queue",
        NEWSINGEST_DATA_DIR=str(tmp_path / "data"),
        NEWSINGEST_SOURCES=str(sources),
        NEWSINGEST_OPS__WORKER_METRICS_PORT=str(port),
        PYTHONPATH=str(ROOT),
    )
    settings = Settings(
        redis_url=private_redis, elasticsearch_url=elasticsearch_url, index_alias=es_alias,
        key_prefix=f"{es_alias}:", celery={"queue": f"{es_alias}-queue"}, data_dir=tmp_path / "data",
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest.cli", "worker", "--concurrency", "1"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_for(lambda: "worker_metrics_serving" in log.read_text(), 120, f"the worker's /metrics ({log})")
        yield Setup(env, settings, tmp_path, f"http://127.0.0.1:{port}/metrics", log)
    finally:
        kill_group(process, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            kill_group(process, signal.SIGKILL)
            process.wait()


def _job(n: int, html: str, url: str) -> dict[str, object]:
    source = SourceSnapshot(name=SOURCE, kind="rss", url=f"https://feeds.example/rss?token={SECRET}")
    return ArticleJob(url=url, final_url=url, fetched_at=datetime.now(UTC), status=200, html=html, source=source).to_message()


def _article(n: int) -> str:
    words = "harbour ferry council tram budget river bridge school library market festival museum".split()
    text = " ".join(words[(n + i) % len(words)] for i in range(40))
    body = "".join(f"<p>Report {n}, part {p}: the {text} all came up at the meeting.</p>" for p in range(4))
    return f"<html><head><title>Report {n}</title></head><body><article><h1>Report {n}</h1>{body}</article></body></html>"


def _cli(setup: Setup, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ingest.cli", *args], env=env or setup.env, cwd=setup.tmp,
        capture_output=True, text=True, timeout=300,
    )
    return f"$ newsingest {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"


def test_a_planted_secret_appears_nowhere(setup: Setup, es_client: Elasticsearch, es_alias: str) -> None:
    app = make_app(setup.settings)
    try:
        app.send_task(TASK_NAME, args=[[_job(1, _article(1), "https://news.example/report-1")]],
                      queue=setup.settings.celery.queue)
        # Not an article: dead-lettered, with a URL holding the secret twice.
        poison = f"https://reader:{SECRET}@news.example/teaser?token={SECRET}"
        app.send_task(TASK_NAME, args=[[_job(2, "<html><body>x</body></html>", poison)]],
                      queue=setup.settings.celery.queue)
    finally:
        app.close()
    letters = f"{es_alias}-deadletters"

    def count(index: str) -> int:
        if not es_client.indices.exists(index=index):
            return 0
        es_client.indices.refresh(index=index)
        return int(es_client.count(index=index)["count"])

    wait_for(lambda: count(es_alias) >= 1 and count(letters) >= 1, 120, f"one article and one dead letter ({setup.worker_log})")

    outputs = [
        _cli(setup, "run", "--once"),
        _cli(setup, "status"),
        _cli(setup, "status", "--json"),
        _cli(setup, "deadletters", "list"),
        _cli(setup, "audit"),
    ]
    letter_ids = [hit["_id"] for hit in es_client.search(index=letters, size=10)["hits"]["hits"]]
    outputs += [_cli(setup, "deadletters", "show", letter_id) for letter_id in letter_ids]
    wrong = dict(setup.env, NEWSINGEST_REDIS_URL=setup.env["NEWSINGEST_REDIS_URL"].replace(SECRET, SECRET + "-wrong"))
    outputs.append(_cli(setup, "status", env=wrong))
    outputs.append(_cli(setup, "run", "--once", env=wrong))
    request = urllib.request.Request(setup.metrics_url, headers={"Authorization": f"Bearer {SECRET}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        metrics = response.read().decode()
    stored = json.dumps(es_client.search(index=letters, size=100)["hits"]["hits"])
    data_files = b"".join(p.read_bytes() for p in (setup.tmp / "data").rglob("*") if p.is_file())

    # The runs did something, so finding nothing means something.
    everything = "\n".join(outputs)
    assert "teaser" in stored and "reader:***@news.example" in stored, stored
    assert "newsingest_dead_letters_total" in metrics and SOURCE in metrics
    assert "deadletters show" in everything and "news.example/teaser" in everything
    assert "refused the user or password" in everything  # the wrong password was reported
    assert "article_dead_lettered" in setup.worker_log.read_text()  # with the URL, redacted

    for name, text in [("cli", everything), ("worker log", setup.worker_log.read_text()),
                       ("metrics", metrics), ("dead letters", stored)]:
        assert SECRET not in text, f"the secret leaked into the {name}: ...{text[max(0, text.find(SECRET) - 300):text.find(SECRET) + 50]}"
    assert SECRET.encode() not in data_files


def test_standalone_warns_of_a_shared_settings_file_and_keeps_its_secret(tmp_path: Path) -> None:
    """Standalone mode (SQLite): a world-readable settings file holding a password is named with the fix,
    and neither that password nor a feed's token reaches the output or the data directory."""
    settings_file = tmp_path / "newsingest.toml"
    settings_file.write_text(f'[elasticsearch]\nusername = "writer"\npassword = "{SECRET}"\n')
    settings_file.chmod(0o644)
    closed_port = _free_port()
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: {SOURCE}\n"
        f"    url: http://feeds:{SECRET}@127.0.0.1:{closed_port}/feed.xml?token={SECRET}\n    kind: rss\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(NEWSINGEST_SETTINGS_FILE=str(settings_file), NEWSINGEST_DATA_DIR=str(tmp_path / "data"),
               NEWSINGEST_SOURCES=str(sources), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "ingest.cli", "run", "--once"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert "secret_readable_by_others" in output and f"chmod 600 {settings_file}" in output, output
    assert "poll_failed" in output and f"127.0.0.1:{closed_port}" in output, output  # the feed was tried
    assert SECRET not in output
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())

    settings_file.chmod(0o600)
    quiet = subprocess.run([sys.executable, "-m", "ingest.cli", "status"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert "secret_readable_by_others" not in quiet.stdout + quiet.stderr
    assert SECRET not in quiet.stdout + quiet.stderr
