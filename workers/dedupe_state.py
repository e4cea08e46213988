"""RedisDedupeStore: which document first claimed a content hash, shared by every worker (distributed mode).

One key per content hash, `{prefix}dedupe:{content_hash}` -> doc_id, with no TTL for now. Never decides
what counts as a duplicate (that is workers.dedupe); only records who came first.
"""

from __future__ import annotations

from typing import Any

import redis

from workers.errors import TransientError


class RedisDedupeStore:
    """DedupeStore over Redis: `SET key doc_id NX` then `GET key`, in one MULTI/EXEC."""

    def __init__(self, redis_client: redis.Redis, key_prefix: str) -> None:
        self._redis = redis_client
        self._prefix = key_prefix

    def key(self, content_hash: str) -> str:
        return f"{self._prefix}dedupe:{content_hash}"

    def claim(self, content_hash: str, doc_id: str) -> str:
        key = self.key(content_hash)
        try:
            # MULTI/EXEC makes SET NX + GET one atomic step and one round trip: of two racing
            # workers exactly one sets the key, and both read the same holder back.
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(key, doc_id, nx=True)
                pipe.get(key)
                _, holder = pipe.execute()
        except redis.RedisError as exc:
            raise TransientError(f"redis dedupe claim failed for {key}: {exc}") from exc
        return _text(holder, key)


def _text(holder: Any, key: str) -> str:
    if isinstance(holder, bytes):  # a client without decode_responses
        return holder.decode("utf-8")
    if isinstance(holder, str):
        return holder
    # Only if something deleted or retyped the key inside our transaction (e.g. an eviction policy).
    raise TransientError(f"redis dedupe claim read back {holder!r} for {key}")
