"""robots.txt: fetched once per host through the guarded client, parsed by protego, cached.

RFC 9309 rules: a 4xx robots.txt means everything is allowed; a server error or an
unreachable host means nothing is, until the (shorter) retry time has passed. Concurrent
look-ups of one host share one request. Never paces requests itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from ingest.client import HttpClient, RequestPolicy
from ingest.errors import BadStatus, BlockedAddress, FetchError, RobotsDisallowed
from ingest.logs import get_logger

log = get_logger(__name__)

_UNREACHABLE_RETRY_S = 600.0
_MAX_HOSTS = 50_000  # expired entries are dropped past this many hosts


@dataclass(frozen=True)
class _Rules:
    parser: Protego | None  # None with allow_all/deny_all
    allow_all: bool
    expires_at: float


class RobotsCache:
    def __init__(
        self,
        client: HttpClient,
        user_agent: str,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        # The product token ("newsingest"), which is what robots.txt groups name.
        self._agent = user_agent.split("/")[0].split()[0]
        self._ttl_s = ttl_s
        self._clock = clock
        self._rules: dict[str, _Rules] = {}
        self._in_flight: dict[str, asyncio.Future[_Rules]] = {}

    async def check(self, url: str, policy: RequestPolicy) -> float | None:
        """Raise RobotsDisallowed if the host forbids `url`; return its Crawl-delay (seconds) if any."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return None
        rules = await self._rules_for(urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", "")), policy)
        if rules.parser is None:
            if rules.allow_all:
                return None
            raise RobotsDisallowed(url, "robots.txt could not be read: treated as disallowing all", policy.source)
        if not rules.parser.can_fetch(url, self._agent):
            raise RobotsDisallowed(url, "disallowed by robots.txt", policy.source)
        delay = rules.parser.crawl_delay(self._agent)
        return float(delay) if delay is not None else None

    async def _rules_for(self, robots_url: str, policy: RequestPolicy) -> _Rules:
        cached = self._rules.get(robots_url)
        if cached is not None and cached.expires_at > self._clock():
            return cached
        pending = self._in_flight.get(robots_url)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Rules] = asyncio.get_running_loop().create_future()
        self._in_flight[robots_url] = future
        try:
            rules = await self._fetch(robots_url, policy)
            future.set_result(rules)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marks it retrieved when nobody else was waiting
            raise
        finally:
            del self._in_flight[robots_url]
        if len(self._rules) >= _MAX_HOSTS:
            now = self._clock()
            self._rules = {k: v for k, v in self._rules.items() if v.expires_at > now}
        self._rules[robots_url] = rules
        return rules

    async def _fetch(self, robots_url: str, policy: RequestPolicy) -> _Rules:
        now = self._clock()
        robots_policy = RequestPolicy(
            source=policy.source, allow_hosts=policy.allow_hosts, local_root=None, accept_types=None
        )
        try:
            response = await self._client.get(robots_url, robots_policy)
        except BadStatus as exc:
            if 400 <= exc.status < 500:
                return _Rules(None, True, now + self._ttl_s)
            log.warning("robots_unreachable", url=robots_url, error=str(exc))
            return _Rules(None, False, now + _UNREACHABLE_RETRY_S)
        except BlockedAddress:
            raise  # the host itself is off limits: say so, not "robots"
        except FetchError as exc:
            log.warning("robots_unreachable", url=robots_url, error_type=type(exc).__name__, error=str(exc))
            return _Rules(None, False, now + _UNREACHABLE_RETRY_S)
        parser = Protego.parse(response.text())
        return _Rules(parser, True, now + self._ttl_s)
