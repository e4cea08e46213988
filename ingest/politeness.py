"""Per-host pacing: at most N requests in flight per host, a minimum gap between their starts,
Crawl-delay and Retry-After. Work for a busy host is deferred, never waited for.

`HostPacer` is the pure core (time comes in as an argument). `HostGate` puts it on the event
loop: `submit(host, start)` calls `start()` once the host has a free slot, at once or from a
timer, so no worker and no task sits waiting for a host. `PoliteClient` wraps the HTTP client
with robots.txt and feeds Crawl-delay and Retry-After back into the pacer.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ingest.client import HttpClient, RequestPolicy, Response
from ingest.errors import BadStatus
from ingest.robots import RobotsCache

DEFAULT_RETRY_AFTER_S = 60.0  # a 429/503 without Retry-After still slows the host down


@functools.lru_cache(maxsize=16_384)
def host_key(url: str) -> str:
    """What politeness is counted per: scheme, host and port of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"


@dataclass
class _Host:
    in_flight: int = 0
    next_start: float = 0.0
    blocked_until: float = 0.0
    delay_s: float | None = None  # Crawl-delay, when the host's robots.txt set one


class HostPacer:
    """Which request to a host may start now; pure bookkeeping over an injected clock."""

    def __init__(self, concurrency: int, delay_s: float, max_delay_s: float) -> None:
        self._concurrency = concurrency
        self._delay_s = delay_s
        self._max_delay_s = max_delay_s
        self._hosts: dict[str, _Host] = {}

    def try_start(self, host: str, now: float) -> float | None:
        """0.0: started (a slot is taken, `finish` must follow); >0: seconds until it may start;
        None: every slot of the host is busy (ask again after a `finish`)."""
        state = self._hosts.setdefault(host, _Host())
        if state.in_flight >= self._concurrency:
            return None
        start_at = max(state.next_start, state.blocked_until)
        if start_at > now:
            return start_at - now
        state.in_flight += 1
        delay = self._delay_s if state.delay_s is None else max(self._delay_s, state.delay_s)
        state.next_start = now + delay
        return 0.0

    def finish(self, host: str) -> None:
        state = self._hosts.get(host)
        if state is not None and state.in_flight > 0:
            state.in_flight -= 1

    def block(self, host: str, seconds: float, now: float) -> None:
        """The host asked us to wait (429/503 Retry-After): nothing starts before then (capped)."""
        state = self._hosts.setdefault(host, _Host())
        state.blocked_until = max(state.blocked_until, now + min(seconds, self._max_delay_s))

    def set_crawl_delay(self, host: str, seconds: float | None) -> None:
        state = self._hosts.setdefault(host, _Host())
        state.delay_s = None if seconds is None else min(seconds, self._max_delay_s)

    def in_flight(self, host: str) -> int:
        state = self._hosts.get(host)
        return state.in_flight if state else 0


class HostGate:
    """The pacer on the event loop: a FIFO of deferred starts per host, woken by timers and finishes."""

    def __init__(self, pacer: HostPacer, clock: Callable[[], float] | None = None) -> None:
        self.pacer = pacer
        self._loop = asyncio.get_running_loop()
        self._clock = clock or self._loop.time
        self._waiting: dict[str, deque[Callable[[], None]]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def submit(self, host: str, start: Callable[[], None]) -> None:
        """Call `start()` when `host` has a slot; the slot is then taken and `finish(host)` must follow."""
        self._waiting.setdefault(host, deque()).append(start)
        self._pump(host)

    def finish(self, host: str, retry_after_s: float | None = None) -> None:
        if retry_after_s is not None:
            self.pacer.block(host, retry_after_s, self._clock())
        self.pacer.finish(host)
        self._pump(host)

    def now(self) -> float:
        return self._clock()

    def pending(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    def _pump(self, host: str) -> None:
        queue = self._waiting.get(host)
        while queue:
            wait = self.pacer.try_start(host, self._clock())
            if wait is None:
                return  # full: the next finish() pumps again
            if wait > 0:
                if host not in self._timers:
                    self._timers[host] = self._loop.call_later(wait, self._wake, host)
                return
            queue.popleft()()
        self._waiting.pop(host, None)

    def _wake(self, host: str) -> None:
        self._timers.pop(host, None)
        self._pump(host)


class PoliteClient:
    """`get()` as HttpClient's, after robots.txt allows it; a 429/503 holds its host back.

    Start slots come from the gate (the daemon takes one per unit of work); this class only
    reports what hosts asked for.
    """

    def __init__(self, client: HttpClient, gate: HostGate, robots: RobotsCache | None) -> None:
        self._client, self._gate, self._robots = client, gate, robots

    async def get(self, url: str, policy: RequestPolicy) -> Response:
        host = host_key(url)
        if self._robots is not None:
            self._gate.pacer.set_crawl_delay(host, await self._robots.check(url, policy))
        try:
            return await self._client.get(url, policy)
        except BadStatus as exc:
            if exc.status in (429, 503):
                wait = exc.retry_after_s if exc.retry_after_s is not None else DEFAULT_RETRY_AFTER_S
                self._gate.pacer.block(host, wait, self._gate.now())
            raise
