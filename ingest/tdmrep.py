"""TDMRep site policy: a host's /.well-known/tdmrep.json (W3C TDMRep), read once per host and cached.

The file is a JSON array of rules `{"location": pattern, "tdm-reservation": 0|1, "tdm-policy": url}`;
the first rule whose location matches an article's path says whether text and data mining is reserved.
A missing, broken or unreachable file means "nothing said": it never stops or delays a page beyond the one
attempt per host per cache period. Never parses article pages.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ingest.client import RequestPolicy
from ingest.errors import BadStatus, IngestError
from ingest.logs import get_logger
from ingest.poll import Fetcher

log = get_logger(__name__)

WELL_KNOWN_PATH = "/.well-known/tdmrep.json"
_MAX_BYTES = 512_000  # a policy file is a few rules; anything bigger is not one
_MAX_RULES = 1_000
_MAX_HOSTS = 50_000  # expired entries are dropped past this many hosts


@dataclass(frozen=True)
class TdmRule:
    location: str
    reservation: int  # 1: TDM rights reserved; 0: not reserved
    policy: str | None = None


def parse_tdmrep(text: str) -> tuple[TdmRule, ...]:
    """The usable rules of a tdmrep.json body, in file order; () for anything that is not such a file."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(data, list):
        return ()
    rules = []
    for item in data[:_MAX_RULES]:
        if not isinstance(item, dict):
            continue
        location, reservation, policy = item.get("location"), item.get("tdm-reservation"), item.get("tdm-policy")
        if isinstance(reservation, str) and reservation.strip() in ("0", "1"):
            reservation = int(reservation)
        if not isinstance(location, str) or isinstance(reservation, bool) or reservation not in (0, 1):
            continue  # a rule without a place or a clear 0/1 says nothing
        rules.append(TdmRule(location.strip(), int(reservation), (policy.strip() or None) if isinstance(policy, str) else None))
    return tuple(rules)


def match_rule(rules: tuple[TdmRule, ...], url: str) -> TdmRule | None:
    """The first rule whose location matches the URL's path (and query), robots.txt style."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return next((rule for rule in rules if _pattern(rule.location).match(target)), None)


@functools.lru_cache(maxsize=4_096)
def _pattern(location: str) -> re.Pattern[str]:
    # RFC 9309 path patterns: a prefix, `*` any run of characters, a final `$` anchors the end.
    if location.lower().startswith(("http://", "https://")):
        location = urlsplit(location).path or "/"
    anchored = location.endswith("$")
    body = location.removesuffix("$")
    if not body.startswith(("/", "*")):
        body = "/" + body
    regex = ".*".join(re.escape(piece) for piece in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""), re.DOTALL)


class TdmRepCache:
    """`rule_for(url)`: the host's tdmrep.json rule for `url`; one request per host per `ttl_s`, shared by
    concurrent look-ups."""

    def __init__(self, client: Fetcher, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._clock = clock
        self._hosts: dict[str, tuple[float, asyncio.Future[tuple[TdmRule, ...]]]] = {}

    async def rule_for(self, url: str, policy: RequestPolicy) -> TdmRule | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        origin = f"{parts.scheme}://{parts.netloc}"
        now = self._clock()
        cached = self._hosts.get(origin)
        if cached is not None and cached[0] > now:
            try:
                rules = await asyncio.shield(cached[1])
            except asyncio.CancelledError:
                if not cached[1].cancelled():
                    raise  # this look-up itself was cancelled
                return None  # the one fetching was cancelled: nothing said, this time
            return match_rule(rules, url)
        future: asyncio.Future[tuple[TdmRule, ...]] = asyncio.get_running_loop().create_future()
        self._remember(origin, (now + self._ttl_s, future), now)
        try:
            future.set_result(await self._fetch(origin, policy))
        except asyncio.CancelledError:
            future.cancel()
            if self._hosts.get(origin, (0.0, None))[1] is future:
                del self._hosts[origin]  # the next look-up tries again
            raise
        return match_rule(future.result(), url)

    def _remember(self, origin: str, entry: tuple[float, asyncio.Future[tuple[TdmRule, ...]]], now: float) -> None:
        if len(self._hosts) >= _MAX_HOSTS:
            self._hosts = {key: value for key, value in self._hosts.items() if value[0] > now}
        self._hosts[origin] = entry

    async def _fetch(self, origin: str, policy: RequestPolicy) -> tuple[TdmRule, ...]:
        url = origin + WELL_KNOWN_PATH
        plain = RequestPolicy(source=policy.source, allow_hosts=policy.allow_hosts, local_root=None, accept_types=None)
        try:
            response = await self._client.get(url, plain)
        except BadStatus as exc:
            if exc.status != 404:
                log.info("tdmrep_unreadable", url=url, status=exc.status)
            return ()
        except IngestError as exc:  # unreachable, blocked, too big, robots: "nothing said"
            log.info("tdmrep_unreadable", url=url, error_type=type(exc).__name__, error=str(exc))
            return ()
        if len(response.body) > _MAX_BYTES:
            log.info("tdmrep_unreadable", url=url, error="larger than a policy file", bytes=len(response.body))
            return ()
        rules = parse_tdmrep(response.text())
        log.info("tdmrep_read", url=url, rules=len(rules))
        return rules
