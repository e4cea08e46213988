"""Keep the batches a live worker holds out of kombu's restore sweep, so a dead worker's come back in seconds.

kombu's Redis transport notes each delivered, not yet acknowledged message in `unacked_index` with
its delivery time, and every worker's restore sweep puts back in the queue the messages delivered
more than the visibility timeout ago: that is how a killed worker's batches come back. A long
visibility timeout makes them wait (900 s before); a short one alone would also put back a live
worker's long batch or retry countdown, again and again. So the worker's main process renews the
time of every message it still holds (running, waiting for a pool slot, or waiting out a retry
countdown) several times per visibility timeout: only an unrenewed message, one whose worker is
gone, ages past it. Runs on the consumer's timer; never reads or changes a message itself.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from celery import bootsteps
from celery.worker import state

from ingest.logs import get_logger
from ingest.redis_connect import RedisTarget, redis_client
from ingest.settings import Settings

log = get_logger(__name__)

# kombu's name for the sorted set of delivery times (its default; workers/app.py keeps it).
UNACKED_INDEX = "unacked_index"
# Renewals per visibility timeout: four missed in a row (a stalled main process) before a live
# worker's batch could be put back, which would only cost a second, harmless delivery.
RENEWALS_PER_TIMEOUT = 5


def renew_interval_s(visibility_timeout_s: float) -> float:
    return visibility_timeout_s / RENEWALS_PER_TIMEOUT


def held_delivery_tags() -> list[str]:
    """The delivery tags of every message this worker holds and has not acknowledged."""
    tags = []
    for request in list(state.requests.values()):
        tag = getattr(getattr(request, "message", None), "delivery_tag", None)
        if isinstance(tag, str):
            tags.append(tag)
    return tags


def renew(client: redis.Redis, key: str, tags: list[str], now: float) -> int:
    """Move the delivery time of `tags` to `now`; only tags still unacknowledged (XX): returns how many."""
    if not tags:
        return 0
    changed = client.zadd(key, dict.fromkeys(tags, now), xx=True, ch=True)
    return int(changed or 0)


class RenewHeldBatches(bootsteps.StartStopStep):  # type: ignore[misc]  # celery is untyped
    """Consumer bootstep: renew this worker's held messages every `renew_interval_s`."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._entry: Any = None
        self._client: redis.Redis | None = None

    def start(self, parent: Any) -> None:
        settings: Settings = parent.app.conf.newsingest_settings
        assert settings.redis_url
        # Short socket timeouts: this runs on the consumer's event loop, which must not hang on Redis.
        self._client = redis_client(RedisTarget.from_settings(settings), socket_timeout=5, socket_connect_timeout=5)
        key = settings.key_prefix + UNACKED_INDEX
        every_s = renew_interval_s(settings.celery.visibility_timeout_s)
        self._entry = parent.timer.call_repeatedly(every_s, self._renew, (self._client, key))

    def _renew(self, client: redis.Redis, key: str) -> None:
        try:
            renew(client, key, held_delivery_tags(), time.time())
        except redis.RedisError as exc:  # Redis away: the next tick tries again; nothing is lost meanwhile
            log.warning("held_batches_not_renewed", waiting_for="redis", error_type=type(exc).__name__, error=str(exc))

    def stop(self, parent: Any) -> None:
        if self._entry is not None:
            self._entry.cancel()
            self._entry = None
        if self._client is not None:
            self._client.close()
            self._client = None
