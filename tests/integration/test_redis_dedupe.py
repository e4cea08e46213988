"""RedisDedupeStore against a real Redis (scripts/services.sh up)."""

from __future__ import annotations

import socket
import threading

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from workers.dedupe_state import RedisDedupeStore
from workers.errors import TransientError

pytestmark = pytest.mark.integration


@pytest.fixture
def store(redis_client: redis.Redis, redis_prefix: str) -> RedisDedupeStore:
    return RedisDedupeStore(redis_client, redis_prefix)


def test_first_claim_of_a_hash_wins(store: RedisDedupeStore) -> None:
    assert store.claim("hash-a", "doc-1") == "doc-1"


def test_later_claims_get_the_first_holder(store: RedisDedupeStore) -> None:
    store.claim("hash-a", "doc-1")
    assert store.claim("hash-a", "doc-2") == "doc-1"


def test_claims_on_different_hashes_are_independent(store: RedisDedupeStore) -> None:
    store.claim("hash-a", "doc-1")
    assert store.claim("hash-b", "doc-2") == "doc-2"


def test_claim_is_stored_under_the_prefix(
    store: RedisDedupeStore, redis_client: redis.Redis, redis_prefix: str
) -> None:
    store.claim("hash-a", "doc-1")
    assert redis_client.get(f"{redis_prefix}dedupe:hash-a") == b"doc-1"


def test_claims_do_not_expire(store: RedisDedupeStore, redis_client: redis.Redis, redis_prefix: str) -> None:
    store.claim("hash-a", "doc-1")
    assert redis_client.ttl(f"{redis_prefix}dedupe:hash-a") == -1


def test_a_decoding_client_gives_the_same_holder(redis_url: str, redis_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        decoding = RedisDedupeStore(client, redis_prefix)
        decoding.claim("hash-a", "doc-1")
        assert decoding.claim("hash-a", "doc-2") == "doc-1"
    finally:
        client.close()


def test_racing_claims_have_exactly_one_winner(redis_url: str, redis_prefix: str) -> None:
    holders: list[str] = []
    start = threading.Barrier(8)

    def claim(doc_id: str) -> None:
        client = redis.Redis.from_url(redis_url)  # one connection each, like separate workers
        try:
            start.wait(timeout=30)
            holders.append(RedisDedupeStore(client, redis_prefix).claim("hash-race", doc_id))
        finally:
            client.close()

    threads = [threading.Thread(target=claim, args=(f"doc-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(holders) == 8 and len(set(holders)) == 1


def test_unreachable_redis_raises_transient_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # No client-side retries: redis-py's default backoff would only make the test slower.
    client = redis.Redis(
        host="127.0.0.1", port=port, socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 0)
    )
    with pytest.raises(TransientError) as raised:
        RedisDedupeStore(client, "test:unreachable:").claim("hash-a", "doc-1")
    assert isinstance(raised.value.__cause__, redis.ConnectionError)
