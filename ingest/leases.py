"""Per-source leases in Redis: daemons sharing one Redis never poll the same source at once.

A daemon polls a source only while it holds the source's lease (`SET key holder NX PX ttl`), keeps
the leases it holds alive every third of the TTL, and releases them when it stops. Another daemon
asking for a held lease is refused and asks again half a TTL later, so a standby takes a dead
daemon's sources over within about 1.5 TTLs, and a stopped daemon's at its standby's next ask.
A lease that cannot be checked (Redis away) counts as refused: better a late poll than a double one;
one this daemon held is renewed again once Redis answers (taken back if it expired meanwhile).
Never polls or schedules anything itself.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from typing import Any

import redis
import redis.asyncio

from ingest.logs import get_logger
from ingest.metrics import LEASES_HELD
from ingest.redis_connect import RedisTarget, async_redis_client

log = get_logger(__name__)

# Renew when the lease is ours, take it when nobody holds it: 1 kept, 2 taken, 0 refused.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def daemon_id() -> str:
    """This daemon's name in leases: host and PID for people, a random part for PID reuse."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class SourceLeases:
    def __init__(self, redis_url: RedisTarget | str, key_prefix: str, ttl_s: float, holder: str | None = None) -> None:
        self.holder = holder or daemon_id()
        self._redis = async_redis_client(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = f"{key_prefix}lease:"
        self._ttl_ms = int(ttl_s * 1000)
        self.retry_after_s = ttl_s / 2
        self._held: set[str] = set()
        self._claim: Any = self._redis.register_script(_CLAIM)
        self._release: Any = self._redis.register_script(_RELEASE)

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    async def claim(self, source: str) -> bool:
        """True when this daemon holds `source`'s lease now (kept, or just taken)."""
        try:
            outcome = int(await self._claim(keys=[self._prefix + source], args=[self.holder, self._ttl_ms]))
        except redis.RedisError as exc:
            # Refused for now, but not lost: a lease this daemon held stays in `held`, so keep_alive
            # renews (or takes back) the leases of its polls as soon as Redis answers again.
            log.warning("source_lease_unchecked", source=source, error_type=type(exc).__name__, error=str(exc))
            return False
        if outcome == 2:
            log.info("source_lease_taken", source=source, holder=self.holder)
        if outcome:
            self._held.add(source)
        elif source in self._held:
            self._held.discard(source)
            log.warning("source_lease_lost", source=source, holder=self.holder)
        LEASES_HELD.set(len(self._held))
        return outcome > 0

    async def holder_of(self, source: str) -> str | None:
        value = await self._redis.get(self._prefix + source)
        return value.decode() if isinstance(value, bytes) else value

    async def keep_alive(self) -> None:
        """Renew every held lease each third of the TTL, until cancelled."""
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            for source in list(self._held):
                await self.claim(source)

    async def release_all(self) -> None:
        """On a clean stop: a standby may take these sources at its next ask."""
        for source in list(self._held):
            try:
                await self._release(keys=[self._prefix + source], args=[self.holder])
            except redis.RedisError as exc:  # they expire on their own
                log.warning("source_lease_not_released", source=source, error_type=type(exc).__name__)
        self._held.clear()
        LEASES_HELD.set(0)

    async def close(self) -> None:
        await self._redis.aclose()
