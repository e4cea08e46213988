"""A live worker's renewal of what it holds: newer delivery times, and never an acknowledged message back."""

from __future__ import annotations

import pytest
import redis

from workers.held_batches import UNACKED_INDEX, renew

pytestmark = pytest.mark.integration


def test_renewal_moves_the_delivery_time_of_held_messages(redis_client: redis.Redis, redis_prefix: str) -> None:
    key = redis_prefix + UNACKED_INDEX
    redis_client.zadd(key, {"held": 100.0})
    assert renew(redis_client, key, ["held"], now=5000.0) == 1
    assert redis_client.zscore(key, "held") == 5000.0


def test_renewal_never_brings_back_an_acknowledged_message(redis_client: redis.Redis, redis_prefix: str) -> None:
    # Acknowledged between the worker listing what it holds and the renewal: it must stay gone.
    key = redis_prefix + UNACKED_INDEX
    redis_client.zadd(key, {"held": 100.0})
    assert renew(redis_client, key, ["held", "acked"], now=5000.0) == 1
    assert redis_client.zrange(key, 0, -1) == [b"held"]
