"""Distributed mode through a secured Redis: TLS verified against our CA, a password from a file, and
an ACL user limited to the key prefix. Also: a pickle message injected into the queue never runs.

The secured Redis is private to this module (tests/redis_tls.py); Elasticsearch is the shared one.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.installation import Installation, drop_alias, kill_group, log_events, wait_for
from tests.origin import Origin, running_origin
from tests.redis_tls import USER, SecuredRedis, start_secured_redis

UNIQUE_ARTICLES_IN_FEED = 6


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with running_origin() as server:
        yield server


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"sec:{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, prefix: str) -> Iterator[SecuredRedis]:
    server = start_secured_redis(tmp_path_factory.mktemp("secured-redis"), prefix)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def alias(elasticsearch_url: str) -> Iterator[str]:
    from elasticsearch import Elasticsearch

    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    with Elasticsearch(elasticsearch_url) as client:
        drop_alias(client, name)


def _secured_env(tmp: Path, server: SecuredRedis, prefix: str, alias: str, elasticsearch_url: str) -> dict[str, str]:
    """The password goes in a file (as a container secret would), not in the URL."""
    password_file = tmp / "redis-password"
    password_file.write_text(server.password + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(
        NEWSINGEST_DATA_DIR=str(tmp / "data"),
        NEWSINGEST_HTTP__TIMEOUT_S="3",
        NEWSINGEST_POLLING__HOST_DELAY_S="0",
        NEWSINGEST_REDIS_URL=f"rediss://{USER}@127.0.0.1:{server.port}/0",
        NEWSINGEST_REDIS__PASSWORD_FILE=str(password_file),
        NEWSINGEST_REDIS__CA_CERTS=str(server.ca_file),
        NEWSINGEST_ELASTICSEARCH_URL=elasticsearch_url,
        NEWSINGEST_INDEX_ALIAS=alias,
        NEWSINGEST_KEY_PREFIX=prefix,
        NEWSINGEST_CELERY__QUEUE=f"{alias}-queue",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    return env


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    origin: Origin,
    secured: SecuredRedis,
    prefix: str,
    alias: str,
    elasticsearch_url: str,
) -> Iterator[Installation]:
    """A worker running against the secured Redis; the daemon is run by each test."""
    tmp = tmp_path_factory.mktemp("secured-deployment")
    sources_file = origin.write_sources(tmp / "sources.yaml")
    installation = Installation(_secured_env(tmp, secured, prefix, alias, elasticsearch_url), tmp, sources_file)
    installation.start_worker()
    yield installation
    installation.stop_all()


def test_distributed_run_through_tls_and_acl_user(deployment: Installation, secured: SecuredRedis) -> None:
    with secured.admin() as admin:
        admin.acl_log_reset()
    result = deployment.cli("run", "--once", "--sources", str(deployment.sources_file), timeout_s=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert deployment.count() == UNIQUE_ARTICLES_IN_FEED

    status = deployment.cli("status", "--json", "--sources", str(deployment.sources_file))
    checks = {check["name"]: check for check in json.loads(status.stdout)["checks"]}
    assert checks["redis"]["ok"], checks["redis"]
    assert checks["workers"]["ok"], checks["workers"]  # remote control (pidbox) works inside the prefix
    assert checks["queue"]["ok"], checks["queue"]

    code, figures = deployment.audit()
    assert code == 0, figures
    listed = deployment.cli("deadletters", "list", "--json")
    assert listed.returncode == 0, listed.stderr[-3000:]

    # Nothing the daemon, the worker or the commands did was refused: the ACL rules are enough.
    assert secured.refusals() == []


def test_the_daemon_runs_unattended_through_the_acl_user(
    deployment: Installation, secured: SecuredRedis, prefix: str
) -> None:
    """Leases (Lua scripts), the feed state and the ops checks of a long-running daemon stay inside the prefix."""
    with secured.admin() as admin:
        admin.acl_log_reset()
    sources = deployment.workdir / "daemon-sources.yaml"  # a source never polled here: due at once
    sources.write_text(
        deployment.sources_file.read_text(encoding="utf-8").replace("name: worldwire", "name: worldwire-daemon"),
        encoding="utf-8",
    )
    daemon = deployment.start("run", "--sources", str(sources), log_name="daemon.log")

    def polled_under_its_lease() -> bool:
        assert daemon.poll() is None, deployment.log("daemon.log")[-3000:]
        events = log_events(deployment.workdir / "daemon.log") if deployment.log("daemon.log") else []
        return any(e.get("event") == "poll_finished" and e.get("source") == "worldwire-daemon" for e in events)

    wait_for(polled_under_its_lease, 120, "the daemon polling its source")
    with secured.admin() as admin:
        assert admin.get(f"{prefix}lease:worldwire-daemon"), "the daemon polled without holding the lease"
    kill_group(daemon, signal.SIGTERM)
    assert daemon.wait(60) == 0, deployment.log("daemon.log")[-3000:]
    assert secured.refusals() == []


def test_the_acl_user_cannot_touch_keys_outside_the_prefix(secured: SecuredRedis, prefix: str) -> None:
    with secured.client() as client:
        client.set(f"{prefix}mine", "1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.set("elsewhere", "1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.get("elsewhere")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.publish("elsewhere", "hello")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushall()
    with secured.admin() as admin:
        assert admin.exists("elsewhere") == 0


def test_tls_without_the_ca_setting_is_one_clear_startup_error(deployment: Installation, secured: SecuredRedis) -> None:
    dropped = ("NEWSINGEST_REDIS__CA_CERTS", "NEWSINGEST_REDIS__PASSWORD_FILE")
    env = {k: v for k, v in deployment.env.items() if k not in dropped}
    bare = Installation(env, deployment.workdir, deployment.sources_file)
    url = f"rediss://{USER}:{secured.password}@127.0.0.1:{secured.port}/0"  # this time in the URL itself
    for command in (("run", "--once", "--sources", str(deployment.sources_file)), ("worker",), ("status",)):
        result = bare.cli(*command, timeout_s=60, NEWSINGEST_REDIS_URL=url)
        assert result.returncode == 2, result.stderr[-3000:]
        assert "NEWSINGEST_REDIS__CA_CERTS" in result.stderr
        assert f"rediss://{USER}:***@127.0.0.1:{secured.port}/0" in result.stderr
        assert secured.password not in result.stderr


def test_a_wrong_password_is_one_clear_error_not_a_wait(deployment: Installation, secured: SecuredRedis) -> None:
    wrong = deployment.workdir / "wrong-password"
    wrong.write_text("not-the-password\n", encoding="utf-8")
    for command in (("run", "--once", "--sources", str(deployment.sources_file)), ("worker",)):
        result = deployment.cli(*command, timeout_s=60, NEWSINGEST_REDIS__PASSWORD_FILE=str(wrong))
        assert result.returncode == 2, result.stderr[-3000:]
        refusal = [line for line in result.stderr.splitlines() if "refused the user or password" in line]
        assert len(refusal) == 1, result.stderr[-3000:]
        assert f"rediss://{USER}:***@127.0.0.1:{secured.port}/0" in refusal[0]
        assert "not-the-password" not in result.stderr


def test_a_server_certificate_from_another_ca_is_refused_at_start(secured: SecuredRedis, tmp_path: Path) -> None:
    from ingest.redis_connect import RedisAccessError, RedisTarget, check_access

    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "other.key"),
         "-out", str(other_ca), "-days", "1", "-subj", "/CN=someone else"],
        check=True, capture_output=True, timeout=60,
    )
    with pytest.raises(RedisAccessError, match="TLS failed") as raised:
        check_access(RedisTarget(secured.url, other_ca))
    assert "NEWSINGEST_REDIS__CA_CERTS" in str(raised.value) and secured.password not in str(raised.value)


class _WritesMarker:
    """Unpickling this opens (creates) the marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def _pickle_message(task_id: str, queue: str, body: bytes) -> bytes:
    """A Celery protocol-2 message for process_batch as kombu's Redis transport stores it."""
    envelope = {
        "body": base64.b64encode(body).decode("ascii"),
        "content-encoding": "binary",
        "content-type": "application/x-python-serialize",
        "headers": {
            "lang": "py", "task": "newsingest.process_batch", "id": task_id, "root_id": task_id,
            "parent_id": None, "group": None, "retries": 0, "eta": None, "expires": None,
            "timelimit": [None, None], "argsrepr": "(...)", "kwargsrepr": "{}", "origin": "attacker@host",
        },
        "properties": {
            "correlation_id": task_id, "reply_to": "", "delivery_mode": 2, "priority": 0,
            "body_encoding": "base64", "delivery_tag": str(uuid.uuid4()),
            "delivery_info": {"exchange": "", "routing_key": queue},
        },
    }
    return json.dumps(envelope).encode("utf-8")


def test_a_pickle_message_is_refused_and_dead_lettered_not_run(
    deployment: Installation, secured: SecuredRedis, prefix: str
) -> None:
    from ingest.handoff import TASK_NAME

    marker = deployment.workdir / f"pwned-{uuid.uuid4().hex[:6]}"
    task_id = str(uuid.uuid4())
    body = pickle.dumps(((_WritesMarker(marker),), {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}))
    queue = deployment.env["NEWSINGEST_CELERY__QUEUE"]
    message = json.loads(_pickle_message(task_id, queue, body))
    message["headers"]["task"] = TASK_NAME
    queue_key = prefix + queue
    with secured.client() as client:
        client.lpush(queue_key, json.dumps(message))

        def refused() -> bool:
            letters = [letter for letter in deployment.dead_letters() if letter.get("job_id") == task_id]
            return bool(letters) and client.llen(queue_key) == 0

        wait_for(refused, 120, "a dead letter for the pickle message")
        letter = next(letter for letter in deployment.dead_letters() if letter.get("job_id") == task_id)
        assert "application/x-python-serialize" in letter["reason"]
        assert letter["error_type"] == "ContentDisallowed"
        time.sleep(2)  # a message that looped would be back in the queue or the unacked hash by now
        assert client.llen(queue_key) == 0
        held = client.hvals(f"{prefix}unacked")
        assert not [raw for raw in held if task_id.encode() in raw]
    assert not marker.exists(), "the pickle payload was executed"
