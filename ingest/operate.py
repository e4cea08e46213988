"""What a running daemon adds for its operator: SIGHUP reload, the ops endpoint, source leases.

Wired by the composition root (ingest/cli.py) around `Daemon.run_forever`; knows the mode only to
pick what readiness means and where the queue depth comes from. Never polls or processes anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from prometheus_client import REGISTRY

from ingest.leases import SourceLeases
from ingest.lifecycle import install_reload_signal
from ingest.logs import get_logger
from ingest.ops_http import Check, OpsEndpoint
from ingest.redis_connect import RedisTarget, async_redis_client
from ingest.settings import Settings
from ingest.state import FeedState

log = get_logger(__name__)

_PROBE_SOURCE = "__readyz__"  # never a configured source's name: the look-up only proves the store answers


class Reloadable(Protocol):
    async def reload_sources(self) -> bool: ...


def source_leases(settings: Settings) -> SourceLeases | None:
    """Distributed mode: leases in the shared Redis; standalone has one daemon per data directory."""
    if settings.redis_url is None:
        return None
    return SourceLeases(RedisTarget.from_settings(settings), settings.key_prefix, settings.ops.lease_ttl_s)


@asynccontextmanager
async def operated(
    settings: Settings, daemon: Reloadable, state: FeedState, stop: asyncio.Event
) -> AsyncIterator[OpsEndpoint | None]:
    """SIGHUP reloads the sources; the endpoint (when enabled) serves until the daemon has drained."""
    install_reload_signal(daemon.reload_sources)
    if not settings.ops.http_enabled:
        yield None
        return
    client = async_redis_client(RedisTarget.from_settings(settings), socket_timeout=5) if settings.redis_url else None

    async def state_answers() -> None:
        await state.load(_PROBE_SOURCE)

    checks: dict[str, Check] = {"feed_state": state_answers}
    if client is not None:
        redis_client = client

        async def redis_answers() -> None:
            await redis_client.ping()

        async def queue_depth() -> int | None:
            return int(await redis_client.llen(settings.key_prefix + settings.celery.queue))

        checks["redis"] = redis_answers
    else:

        async def queue_depth() -> int | None:
            # The local pool: batches handed off and not yet stored, both counted in this process.
            handed = REGISTRY.get_sample_value("newsingest_batches_handed_off_total") or 0.0
            stored = REGISTRY.get_sample_value("newsingest_batches_stored_total") or 0.0
            return max(int(handed - stored), 0)

    endpoint = OpsEndpoint(settings.ops, stop, checks, queue_depth, api=settings.api)
    await endpoint.start()
    try:
        yield endpoint
    finally:
        await endpoint.close()
        if client is not None:
            await client.aclose()
