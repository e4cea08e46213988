"""Real Redis and Elasticsearch for integration tests: checked once per run, isolated per test.

A missing server fails the run (it is never skipped): start both with `scripts/services.sh up`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from elasticsearch import ApiError, Elasticsearch, TransportError

from tests.installation import drop_alias

ELASTICSEARCH_URL_VARIABLE = "NEWSINGEST_TEST_ELASTICSEARCH_URL"
REDIS_URL_VARIABLE = "NEWSINGEST_TEST_REDIS_URL"


def _fail_unless_reachable(what: str, url: str, problem: Exception | None) -> None:
    # Fail, never skip: a run without its servers must not look green.
    if problem is not None:
        pytest.fail(
            f"{what} is not reachable at {url}: start it with scripts/services.sh up "
            f"({type(problem).__name__}: {problem})",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def elasticsearch_url() -> str:
    url = os.environ.get(ELASTICSEARCH_URL_VARIABLE, "http://127.0.0.1:9200")
    client = Elasticsearch(url, request_timeout=40)
    problem: Exception | None = None
    try:
        # cluster health, not info(): GET / answers 405 on the test distribution.
        client.cluster.health(wait_for_status="yellow", timeout="30s")
    except (ApiError, TransportError) as exc:
        problem = exc
    finally:
        client.close()
    _fail_unless_reachable("Elasticsearch", url, problem)
    return url


@pytest.fixture(scope="session")
def es_client(elasticsearch_url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(elasticsearch_url, request_timeout=60)
    yield client
    client.close()


@pytest.fixture
def es_alias(es_client: Elasticsearch) -> Iterator[str]:
    """A fresh alias name; its indices (`{alias}*`) and template are deleted after the test."""
    alias = f"test-{uuid.uuid4().hex[:8]}"
    yield alias
    drop_alias(es_client, alias)


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get(REDIS_URL_VARIABLE, "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    problem: Exception | None = None
    try:
        client.ping()
    except redis.RedisError as exc:
        problem = exc
    finally:
        client.close()
    _fail_unless_reachable("Redis", url, problem)
    return url


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A fresh key prefix (`test:<uuid8>:`); every key under it is deleted after the test."""
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        redis_client.delete(*keys)
