"""Redis adapters of the pipeline's shared state, used by every worker (distributed mode).

RedisDedupeStore: which document first claimed a content hash, `{prefix}dedupe:{content_hash}` -> doc_id,
with no TTL. RedisStoryState adds the near-duplicate LSH index and per-site boilerplate counts, both
bounded by time windows. Never decides what counts as a duplicate (workers.dedupe, workers.neardup);
only records who came first, atomically.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import redis

from ingest.settings import DedupeSettings
from workers.errors import TransientError
from workers.neardup import HEX_WIDTH, band_keys, from_hex, to_hex
from workers.ports import StoryMatch, StoryRemoval


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


# Atomic near-duplicate admission (see NearDuplicateIndex.admit). KEYS: the sequence counter, this
# document's record, then its LSH band sets. Other documents' records are read by name (prefix .. id):
# fine on one Redis server, not on a cluster. Signatures are fixed-width hex, compared slice by slice.
_ADMIT = """
local seq_key, doc_key = KEYS[1], KEYS[2]
local doc_id, sig, now, window = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local threshold, holder, doc_prefix, width = tonumber(ARGV[5]), ARGV[6], ARGV[7], tonumber(ARGV[8])
local seq = redis.call('HGET', doc_key, 'seq')
if seq then seq = tonumber(seq) else seq = redis.call('INCR', seq_key) end
local cluster, matched, best, best_seq = doc_id, '', -1, nil
if holder ~= '' and holder ~= doc_id then
  cluster = redis.call('HGET', doc_prefix .. holder, 'cluster') or holder
  matched, best = holder, 1
else
  local seen = {}
  local n = string.len(sig) / width
  for i = 3, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. (now - window))
    for _, other in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
      if other ~= doc_id and not seen[other] then
        seen[other] = true
        local rec = redis.call('HMGET', doc_prefix .. other, 'seq', 'cluster', 'sig')
        local other_seq = tonumber(rec[1])
        if other_seq and other_seq < seq and rec[3] and string.len(rec[3]) == string.len(sig) then
          local same = 0
          for j = 0, n - 1 do
            local a = j * width + 1
            if string.sub(sig, a, a + width - 1) == string.sub(rec[3], a, a + width - 1) then same = same + 1 end
          end
          local score = same / n
          if score >= threshold and (score > best or (score == best and other_seq < best_seq)) then
            best, best_seq, cluster, matched = score, other_seq, rec[2], other
          end
        end
      end
    end
  end
end
if cluster == doc_id then matched, best = '', -1 end
redis.call('HSET', doc_key, 'seq', seq, 'cluster', cluster, 'sig', sig)
redis.call('EXPIRE', doc_key, window)
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], now, doc_id)
  redis.call('EXPIRE', KEYS[i], window)
end
return {cluster, matched, tostring(best)}
"""

# One set of documents per (site, line), filled only up to the count that makes a line boilerplate, so a
# line on every page of a big site costs a few members, not one per article. Returns the counts.
_OBSERVE = """
local limit, doc_id, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('SCARD', key)
  if count < limit and redis.call('SADD', key, doc_id) == 1 then count = count + 1 end
  redis.call('EXPIRE', key, ttl)
  counts[i] = count
end
return counts
"""


# A removed document's exact-text claim: passed to ARGV[2] (or dropped when empty), only if ARGV[1] holds it.
_PASS_CLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end
return 1
"""
# A remaining document's near-duplicate record moves story; an expired record is not brought back.
_MOVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'cluster', ARGV[1])
return 1
"""


class RedisStoryState(RedisDedupeStore):
    """StoryState over Redis, shared by every worker: exact claims, near-duplicate LSH, boilerplate counts.

    Keys: `{prefix}nd:seq`, `{prefix}nd:doc:{doc_id}` (hash: seq, cluster, sig), `{prefix}nd:band:{band}`
    (sorted set of doc ids by admission time), `{prefix}bp:{domain}:{line_key}` (set of doc ids). Every key
    expires with its time window, so the state stays bounded.
    """

    def __init__(self, redis_client: redis.Redis, key_prefix: str, settings: DedupeSettings | None = None) -> None:
        super().__init__(redis_client, key_prefix)
        self._settings = settings or DedupeSettings()
        self._admit = redis_client.register_script(_ADMIT)
        self._pass_claim = redis_client.register_script(_PASS_CLAIM)
        self._move = redis_client.register_script(_MOVE)
        self._observe = redis_client.register_script(_OBSERVE)

    def admit(self, doc_id: str, signature: Sequence[int], exact_holder: str | None, now: datetime) -> StoryMatch:
        settings = self._settings
        doc_prefix = f"{self._prefix}nd:doc:"
        keys = [f"{self._prefix}nd:seq", doc_prefix + doc_id]
        keys += [f"{self._prefix}nd:band:{band}" for band in band_keys(signature, settings.near_duplicate_threshold)]
        args: list[str | int | float] = [
            doc_id, to_hex(signature), f"{now.timestamp():.6f}", settings.near_duplicate_window_s,
            settings.near_duplicate_threshold, exact_holder or "", doc_prefix, HEX_WIDTH,
        ]
        try:
            cluster, matched, score = self._admit(keys=keys, args=args)
        except redis.RedisError as exc:
            raise TransientError(f"redis near-duplicate admit failed for {doc_id}: {exc}") from exc
        cluster, matched = _text(cluster, keys[1]), _text(matched, keys[1])
        if not matched:
            return StoryMatch(cluster_id=cluster)
        return StoryMatch(cluster_id=cluster, duplicate_of=matched, similarity=float(_text(score, keys[1])))

    def forget(self, removal: StoryRemoval) -> int:
        """StoryForgetting: removed documents' records and claims go; remaining ones move story."""
        doc_prefix = f"{self._prefix}nd:doc:"
        threshold = self._settings.near_duplicate_threshold
        forgotten = 0
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for doc_id in removal.forgotten:
                    pipe.hget(doc_prefix + doc_id, "sig")
                signatures = pipe.execute()
            with self._redis.pipeline(transaction=False) as pipe:
                for doc_id, sig in zip(removal.forgotten, signatures, strict=True):
                    if sig is not None:
                        for band in band_keys(from_hex(_text(sig, doc_prefix + doc_id)), threshold):
                            pipe.zrem(f"{self._prefix}nd:band:{band}", doc_id)
                        pipe.delete(doc_prefix + doc_id)
                        forgotten += 1
                for digest, holder, successor in removal.claims:
                    self._pass_claim(keys=[self.key(digest)], args=[holder, successor or ""], client=pipe)
                for doc_id, cluster in removal.clusters:
                    self._move(keys=[doc_prefix + doc_id], args=[cluster], client=pipe)
                answers = pipe.execute()
        except redis.RedisError as exc:
            raise TransientError(f"redis forget failed: {exc}") from exc
        end = len(answers) - len(removal.clusters)  # the claims' answers come just before the moves'
        return forgotten + sum(int(answer) for answer in answers[end - len(removal.claims) : end])

    def observe(self, domain: str, doc_id: str, line_keys: Collection[str], now: datetime) -> frozenset[str]:
        if not line_keys or not domain:
            return frozenset()
        ordered = sorted(line_keys)
        keys = [f"{self._prefix}bp:{domain}:{key}" for key in ordered]
        settings = self._settings
        try:
            counts = self._observe(keys=keys, args=[settings.boilerplate_min_documents, doc_id, settings.boilerplate_window_s])
        except redis.RedisError as exc:
            raise TransientError(f"redis boilerplate count failed for {domain}: {exc}") from exc
        return frozenset(key for key, count in zip(ordered, counts, strict=True) if int(count) >= settings.boilerplate_min_documents)
