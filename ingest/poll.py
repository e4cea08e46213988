"""poll_source(): one conditional GET of a feed -> the entries not seen before.

Follows a sitemap index to its newest child sitemaps (bounded), and finds the feed of a `site`
source by discovery (remembered, refreshed now and then). Does not fetch article pages and does
not write state: the caller saves the new FeedRecord only after the entries have been handed
off, so a crash in between loses nothing.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ingest.client import FEED_TYPES, RequestPolicy, Response, conditional_headers
from ingest.discovery import discover_feeds
from ingest.errors import FeedParseError, FetchError
from ingest.feeds import ParsedFeed, parse_feed
from ingest.jobs import FeedEntry
from ingest.logs import get_logger
from ingest.sources import Source
from ingest.state import FeedRecord, FeedState

log = get_logger(__name__)

# Some servers send an unchanged ETag for a changed feed: without validators at least this often.
MAX_CONDITIONAL_S = 24 * 3600
# Feeds up to this size are parsed on the event loop (a few ms at most); larger ones in a thread.
INLINE_PARSE_MAX_BYTES = 64 * 1024
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


class Fetcher(Protocol):
    async def get(self, url: str, policy: RequestPolicy) -> Response: ...


@dataclass(frozen=True)
class PollOptions:
    sitemap_max_children: int = 20
    news_freshness_s: float = 2 * 24 * 3600
    discovery_refresh_s: float = 24 * 3600


@dataclass(frozen=True)
class PollResult:
    status: int  # HTTP status, 304 also when the body hash is unchanged
    new_entries: tuple[FeedEntry, ...]
    entries_total: int
    record: FeedRecord  # to save once new_entries are safely handed off
    max_age_s: float | None = None  # the feed's Cache-Control max-age, when it sent one


def request_policy(
    source: Source, extra_headers: dict[str, str] | None = None, accept_types: tuple[str, ...] | None = None
) -> RequestPolicy:
    if not extra_headers:
        return _plain_policy(source, accept_types)
    return _policy(source, extra_headers, accept_types)


@functools.lru_cache(maxsize=16_384)
def _plain_policy(source: Source, accept_types: tuple[str, ...] | None) -> RequestPolicy:
    # Cached: every page of a source asks for the same policy (a Source is frozen and hashable).
    return _policy(source, None, accept_types)


def _policy(
    source: Source, extra_headers: dict[str, str] | None, accept_types: tuple[str, ...] | None
) -> RequestPolicy:
    return RequestPolicy(
        source=source.name,
        allow_hosts=frozenset(source.allow_hosts),
        local_root=source.local_root,
        extra_headers=extra_headers or {},
        accept_types=accept_types,
    )


async def poll_source(
    client: Fetcher, source: Source, state: FeedState, options: PollOptions = PollOptions()
) -> PollResult:
    record = await state.load(source.name)
    feed_url, kind = source.url, str(source.kind)
    if kind == "site":
        record = await _discovered(client, source, record, options)
        assert record.feed_url and record.feed_kind
        feed_url, kind = record.feed_url, record.feed_kind
    response = await client.get(feed_url, request_policy(source, _validators(record), FEED_TYPES))
    max_age = _max_age_s(response)
    if response.status == 304:
        return PollResult(304, (), record.items_found, replace(record, failures=0), max_age)
    body_hash = hashlib.sha256(response.body).hexdigest()
    fresh = replace(
        record,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        body_hash=body_hash,
        last_full_fetch_at=time.time(),
        failures=0,
    )
    if body_hash == record.body_hash:
        return PollResult(304, (), record.items_found, fresh, max_age)
    news_since = datetime.now(UTC) - timedelta(seconds=options.news_freshness_s)
    parsed = await _parse(response, kind, news_since)
    entries = list(parsed.entries)
    if parsed.sitemaps:
        entries += await _children(client, source, parsed, options, news_since)
    unique = list({entry.seen_key: entry for entry in reversed(entries)}.values())[::-1]
    new_keys = set(await state.unseen(source.name, [entry.seen_key for entry in unique]))
    new_entries = tuple(entry for entry in unique if entry.seen_key in new_keys)
    return PollResult(response.status, new_entries, len(unique), replace(fresh, items_found=len(unique)), max_age)


async def _parse(response: Response, kind: str, news_since: datetime) -> ParsedFeed:
    """Parse on the loop when the body is small, in a thread when it is large. A thread hop for a
    small feed costs more than it saves: the parser holds the GIL anyway, and every socket call the
    loop makes meanwhile waits to get it back (measured: bench/fetch_throughput.py)."""
    if len(response.body) <= INLINE_PARSE_MAX_BYTES:
        return parse_feed(response.body, response.final_url, kind, response.content_type, news_since=news_since)
    return await asyncio.to_thread(
        parse_feed, response.body, response.final_url, kind, response.content_type, news_since=news_since
    )


async def _children(
    client: Fetcher, source: Source, index: ParsedFeed, options: PollOptions, news_since: datetime
) -> list[FeedEntry]:
    """Entries of the newest child sitemaps of an index; one level deep, one at a time."""
    entries: list[FeedEntry] = []
    for url in index.sitemaps[: options.sitemap_max_children]:
        try:
            response = await client.get(url, request_policy(source, accept_types=FEED_TYPES))
            child = await _parse(response, "sitemap", news_since)
        except (FetchError, FeedParseError) as exc:
            log.warning("child_sitemap_failed", url=url, error_type=type(exc).__name__, error=str(exc))
            continue
        if child.sitemaps:
            log.warning("child_sitemap_is_an_index", url=url, note="not followed: indexes are read one level deep")
        entries.extend(child.entries)
    return entries


async def _discovered(client: Fetcher, source: Source, record: FeedRecord, options: PollOptions) -> FeedRecord:
    """The record with the site's feed known: from an earlier discovery while fresh, else found now."""
    fresh = record.discovered_at is not None and time.time() - record.discovered_at < options.discovery_refresh_s
    if fresh and record.feed_url:
        return record
    found = await discover_feeds(client.get, source.url, request_policy(source))
    if not found:
        raise FeedParseError(source.url, "no feed found: no <link rel=alternate> feed and none at the well-known paths")
    first = found[0]
    log.info("feeds_discovered", url=source.url, feeds=[f.url for f in found], using=first.url)
    if first.url != record.feed_url:  # a different feed: the old validators and body hash are not its
        record = replace(record, etag=None, last_modified=None, body_hash=None)
    return replace(
        record,
        feed_url=first.url,
        feed_kind=first.kind,
        discovered=tuple(f"{f.url} ({f.kind}, {f.found_by})" for f in found),
        discovered_at=time.time(),
    )


def _max_age_s(response: Response) -> float | None:
    match = _MAX_AGE.search(response.headers.get("Cache-Control", ""))
    return float(match.group(1)) if match else None


def _validators(record: FeedRecord) -> dict[str, str]:
    stale = record.last_full_fetch_at is None or time.time() - record.last_full_fetch_at > MAX_CONDITIONAL_S
    if stale:
        return {}
    return conditional_headers(record.etag, record.last_modified)
