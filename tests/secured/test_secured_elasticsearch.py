"""newsingest against Elasticsearch with security on: least-privileged users over verified HTTPS.

The pipeline (daemon, a real Celery worker, the secured Redis of tests/redis_tls.py) indexes as
newsingest-writer; the read commands work as newsingest-reader, which the cluster refuses every
change; the writer is refused indices outside `news-*`; a wrong password or an untrusted certificate
stops start-up with one line instead of a wait that never ends.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import AuthorizationException, Elasticsearch

from tests.installation import Installation
from tests.origin import Origin, running_origin
from tests.redis_tls import USER, SecuredRedis, start_secured_redis
from tests.secured.conftest import ADMIN, READER, WRITER, SecuredElastic

pytestmark = pytest.mark.secured

UNIQUE_ARTICLES_IN_FEED = 6
PLAIN_REDIS = os.environ.get("NEWSINGEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with running_origin() as server:
        yield server


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"essec:{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="module")
def secured_redis(tmp_path_factory: pytest.TempPathFactory, prefix: str) -> Iterator[SecuredRedis]:
    server = start_secured_redis(tmp_path_factory.mktemp("secured-redis"), prefix)
    yield server
    server.stop()


def _base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(
        NEWSINGEST_DATA_DIR=str(tmp / "data"),
        NEWSINGEST_HTTP__TIMEOUT_S="3",
        NEWSINGEST_POLLING__HOST_DELAY_S="0",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    return env


@pytest.fixture(scope="module")
def ingested(
    tmp_path_factory: pytest.TempPathFactory,
    origin: Origin,
    secured_es: SecuredElastic,
    secured_redis: SecuredRedis,
    prefix: str,
    news_alias: str,
) -> Iterator[Installation]:
    """One run of the whole pipeline, writing as newsingest-writer, reading as newsingest-reader."""
    tmp = tmp_path_factory.mktemp("secured-pipeline")
    sources_file = origin.write_sources(tmp / "sources.yaml")
    redis_password = tmp / "redis-password"
    redis_password.write_text(secured_redis.password + "\n", encoding="utf-8")
    env = _base_env(tmp)
    env.update(
        secured_es.env(),
        NEWSINGEST_REDIS_URL=f"rediss://{USER}@127.0.0.1:{secured_redis.port}/0",
        NEWSINGEST_REDIS__PASSWORD_FILE=str(redis_password),
        NEWSINGEST_REDIS__CA_CERTS=str(secured_redis.ca_file),
        NEWSINGEST_INDEX_ALIAS=news_alias,
        NEWSINGEST_KEY_PREFIX=prefix,
        NEWSINGEST_CELERY__QUEUE=f"{news_alias}-queue",
    )
    installation = Installation(env, tmp, sources_file)
    installation.start_worker()
    try:
        result = installation.cli("run", "--once", "--sources", str(sources_file), timeout_s=300)
        assert result.returncode == 0, result.stderr[-3000:] + installation.log("worker.log")[-3000:]
        yield installation
    finally:
        installation.stop_all()


def _plain_redis_env(tmp: Path, secured_es: SecuredElastic, alias: str, **es_env: str) -> dict[str, str]:
    env = _base_env(tmp)
    env.update(
        NEWSINGEST_REDIS_URL=PLAIN_REDIS,
        NEWSINGEST_ELASTICSEARCH_URL=secured_es.url,
        NEWSINGEST_INDEX_ALIAS=alias,
        NEWSINGEST_KEY_PREFIX=f"essec:{uuid.uuid4().hex[:8]}:",
    )
    env.update(es_env)
    return env


# -- the pipeline and the read commands -------------------------------------------------------------


def test_the_pipeline_indexes_as_the_writer_over_verified_https(
    ingested: Installation, secured_es: SecuredElastic, news_alias: str
) -> None:
    assert ingested.count() == UNIQUE_ARTICLES_IN_FEED
    status = ingested.cli("status", "--json", "--sources", str(ingested.sources_file))
    checks = {check["name"]: check for check in json.loads(status.stdout)["checks"]}
    assert checks["elasticsearch"]["ok"], checks["elasticsearch"]
    # status runs as the reader, and checks the writer too; neither holds more than it needs.
    assert checks["es_identity"]["value"]["username"] == READER, checks["es_identity"]
    assert checks["es_identity"]["value"]["more_than_needed"] == [], checks["es_identity"]
    assert checks["es_writer"]["value"]["username"] == WRITER, checks["es_writer"]
    assert checks["es_writer"]["value"]["roles"] == ["newsingest_writer"]
    assert checks["es_writer"]["ok"], checks["es_writer"]


def test_the_reader_can_search_stats_and_export(ingested: Installation) -> None:
    found = ingested.cli("search", "Erdogan", "--json")
    assert found.returncode == 0, found.stderr[-2000:]
    assert [json.loads(line) for line in found.stdout.splitlines() if line.strip()]
    stats = ingested.cli("stats", "--json")
    assert stats.returncode == 0, stats.stderr[-2000:]
    exported = ingested.cli("export")
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert len([line for line in exported.stdout.splitlines() if line.strip()]) == UNIQUE_ARTICLES_IN_FEED


def test_the_reader_is_refused_every_change(ingested: Installation, secured_es: SecuredElastic, news_alias: str) -> None:
    with secured_es.client(READER) as reader:
        index = next(iter(reader.indices.get_alias(name=news_alias)))
        doc_id = reader.search(index=news_alias, size=1)["hits"]["hits"][0]["_id"]
        changes = {
            "index a document": lambda: reader.index(index=news_alias, document={"title": "forged"}),
            "delete a document": lambda: reader.delete(index=index, id=doc_id),
            "change the mapping": lambda: reader.indices.put_mapping(
                index=index, properties={"forged": {"type": "keyword"}}
            ),
            "move the alias": lambda: reader.indices.update_aliases(
                actions=[{"remove": {"index": index, "alias": news_alias}}]
            ),
            "delete the index": lambda: reader.indices.delete(index=index),
        }
        for what, change in changes.items():
            with pytest.raises(AuthorizationException) as refused:
                change()
            assert refused.value.meta.status == 403, what
    assert ingested.count() == UNIQUE_ARTICLES_IN_FEED  # nothing changed


def test_a_writing_command_run_as_the_reader_stops_with_one_line(
    tmp_path: Path, secured_es: SecuredElastic, news_alias: str, admin: Elasticsearch
) -> None:
    alias = f"{news_alias}-ro"
    env = _plain_redis_env(tmp_path, secured_es, alias, **secured_es.env(writer=READER, reader=None))
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources: []\n", encoding="utf-8")
    installation = Installation(env, tmp_path, sources)
    result = installation.cli("run", "--once", "--sources", str(sources), timeout_s=120)
    assert result.returncode != 0
    refusals = [line for line in result.stderr.splitlines() if "HTTP 403" in line]
    assert len(refusals) == 1, result.stderr[-3000:]
    assert f"user [{READER}]" in refusals[0] and "action [" in refusals[0], refusals[0]
    assert alias in refusals[0], refusals[0]
    assert "waiting_for_elasticsearch" not in result.stderr
    assert not admin.indices.exists(index=f"{alias}*", allow_no_indices=False, expand_wildcards="all")


# -- the writer stays inside news-* ------------------------------------------------------------------


def test_the_writer_cannot_touch_an_index_outside_its_pattern(secured_es: SecuredElastic, admin: Elasticsearch) -> None:
    other = f"other-index-{uuid.uuid4().hex[:8]}"
    admin.index(index=other, id="1", document={"title": "not newsingest's"}, refresh=True)
    try:
        with secured_es.client(WRITER) as writer:
            attempts = {
                "create an index": lambda: writer.indices.create(index=f"{other}-new"),
                "write a document": lambda: writer.index(index=other, document={"title": "forged"}),
                "read a document": lambda: writer.search(index=other),
                "delete the index": lambda: writer.indices.delete(index=other),
            }
            for what, attempt in attempts.items():
                with pytest.raises(AuthorizationException) as refused:
                    attempt()
                assert refused.value.meta.status == 403, what
        assert admin.count(index=other)["count"] == 1
    finally:
        admin.options(ignore_status=404).indices.delete(index=[other, f"{other}-new"])  # names: wildcards refused


# -- start-up refusals: one line, no retry storm -------------------------------------------------------


def _start_up_error(tmp_path: Path, env: dict[str, str], command: str) -> list[str]:
    """Run `command` (worker or run --once): it must end by itself, non-zero; its stderr lines."""
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources: []\n", encoding="utf-8")
    installation = Installation(env, tmp_path, sources)
    args = ["worker", "--concurrency", "1"] if command == "worker" else ["run", "--once", "--sources", str(sources)]
    result = installation.cli(*args, timeout_s=90)  # a retry storm would run into this deadline
    assert result.returncode == 2, result.stderr[-3000:]
    assert "waiting_for_elasticsearch" not in result.stderr
    return result.stderr.splitlines()


@pytest.mark.parametrize("command", ["worker", "run"])
def test_a_wrong_password_is_one_clear_error_at_start_up(
    tmp_path: Path, secured_es: SecuredElastic, news_alias: str, command: str
) -> None:
    env = _plain_redis_env(
        tmp_path,
        secured_es,
        news_alias,
        NEWSINGEST_ELASTICSEARCH__CA_CERTS=str(secured_es.ca_file),
        NEWSINGEST_ELASTICSEARCH__USERNAME=WRITER,
        NEWSINGEST_ELASTICSEARCH__PASSWORD="not-the-password",
    )
    lines = _start_up_error(tmp_path, env, command)
    errors = [line for line in lines if "rejected the credentials" in line]
    assert len(errors) == 1, lines
    assert secured_es.url in errors[0] and WRITER in errors[0] and "HTTP 401" in errors[0]
    assert "not-the-password" not in "\n".join(lines)


@pytest.mark.parametrize("ca", ["none", "other"])
def test_an_untrusted_certificate_is_one_clear_error_at_start_up(
    tmp_path: Path, secured_es: SecuredElastic, news_alias: str, other_ca: Path, ca: str
) -> None:
    es_env = {k: v for k, v in secured_es.env(reader=None).items() if not k.endswith("CA_CERTS")}
    if ca == "other":
        es_env["NEWSINGEST_ELASTICSEARCH__CA_CERTS"] = str(other_ca)
    env = _plain_redis_env(tmp_path, secured_es, news_alias, **es_env)
    lines = _start_up_error(tmp_path, env, "worker")
    errors = [line for line in lines if "not trusted" in line]
    assert len(errors) == 1, lines
    assert secured_es.url in errors[0] and "NEWSINGEST_ELASTICSEARCH__CA_CERTS" in errors[0]


def test_unverified_tls_works_and_says_so(ingested: Installation, secured_es: SecuredElastic) -> None:
    env = {k: v for k, v in ingested.env.items() if k != "NEWSINGEST_ELASTICSEARCH__CA_CERTS"}
    env["NEWSINGEST_ELASTICSEARCH__VERIFY_CERTS"] = "false"
    unverified = Installation(env, ingested.workdir, ingested.sources_file)
    result = unverified.cli("search", "Erdogan", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()
    warnings = [line for line in result.stderr.splitlines() if "elasticsearch_tls_unverified" in line]
    assert len(warnings) == 1 and secured_es.url in warnings[0], result.stderr[-2000:]


def test_status_warns_when_the_identity_holds_more_than_it_needs(
    tmp_path: Path, secured_es: SecuredElastic, news_alias: str
) -> None:
    env = _plain_redis_env(tmp_path, secured_es, news_alias, **secured_es.env(writer=WRITER, reader=ADMIN))
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources: []\n", encoding="utf-8")
    status = Installation(env, tmp_path, sources).cli("status", "--json", "--sources", str(sources))
    checks = {check["name"]: check for check in json.loads(status.stdout)["checks"]}
    identity = checks["es_identity"]
    assert identity["value"]["username"] == ADMIN and "superuser" in identity["value"]["roles"]
    assert not identity["ok"] and "holds more than it needs" in identity["detail"], identity
    assert "cluster all" in identity["value"]["more_than_needed"]
