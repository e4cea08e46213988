"""poll_page_source(): a `page` source's listing pages -> the article links not seen before.

Shaped like poll_source(): the same FeedRecord, seen-state and conditional-GET conventions, and
entries are FeedEntry(link=...) keyed by the normalized link, so the daemon fetches them like feed
entries. The first poll of a source (no success recorded yet) backfills: it follows each listing's
"next" link up to `backfill_pages` pages. A listing that cannot be read is logged with its error
and the others still count. Does not fetch article pages and does not write state.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Protocol
from urllib.parse import urlsplit

from ingest.client import HTML_TYPES, conditional_headers
from ingest.errors import FetchError
from ingest.jobs import FeedEntry
from ingest.listing import Listing, LinkRules, link_rules, read_listing
from ingest.logs import get_logger
from ingest.politeness import HostGate, host_key
from ingest.poll import INLINE_PARSE_MAX_BYTES, MAX_CONDITIONAL_S, Fetcher, PollOptions, PollResult, request_policy
from ingest.sources import Source
from ingest.state import FeedRecord, FeedState

log = get_logger(__name__)


class Pacing(Protocol):
    def turn(self, url: str) -> AbstractAsyncContextManager[None]:
        """Held around one request: waits until the request's host may be asked again."""


class _Unpaced:
    @asynccontextmanager
    async def turn(self, url: str) -> AsyncIterator[None]:
        yield


class HostTurns:
    """Per-host politeness for a poll that makes several requests (listing pages, backfill).

    The poll starts holding one slot of its source's host (the daemon took it): the first request
    uses it; each later request to that host gives the slot back and queues for the next one, so
    the host's delay, Crawl-delay and Retry-After apply between listing pages too. A request to
    another host takes a slot of that host for its own duration. At the end the poll holds one
    slot of its host again, which the daemon gives back.
    """

    def __init__(self, gate: HostGate, held: str | None) -> None:
        self._gate, self._held, self._fresh = gate, held, True

    @asynccontextmanager
    async def turn(self, url: str) -> AsyncIterator[None]:
        host = None if urlsplit(url).scheme == "file" else host_key(url)
        if host is None:
            yield
            return
        if host == self._held and self._fresh:
            self._fresh = False
            yield
            return
        if host == self._held:
            # Cancelled while queued (only at shutdown), the daemon's finish() may free another
            # poll's slot: the gate goes away with the daemon then, so it is not worth the code.
            self._gate.finish(host)
            await self._next_slot(host)
            yield
            return
        await self._next_slot(host)
        try:
            yield
        finally:
            self._gate.finish(host)

    async def _next_slot(self, host: str) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def start() -> None:
            if ready.cancelled():
                self._gate.finish(host)  # nobody waits for this slot any more
            else:
                ready.set_result(None)

        self._gate.submit(host, start)
        await ready


@dataclass(frozen=True)
class ListingRead:
    """What one listing URL gave: its pages in reading order, or the error that stopped it."""

    url: str
    pages: tuple[Listing, ...] = ()
    status: int | None = None  # of its first page
    error: FetchError | None = None
    body_hashes: tuple[str, ...] = ()
    etag: str | None = None  # validators of its first page
    last_modified: str | None = None

    @property
    def articles(self) -> tuple[str, ...]:
        return tuple(url for page in self.pages for url in page.articles)


@functools.lru_cache(maxsize=4096)
def rules_for(source: Source) -> LinkRules:
    hints = source.scrape_hints
    return link_rules(hints.include, hints.exclude, hints.link_selector, hints.extra_domains, frozenset(source.allow_hosts))


def listing_urls(source: Source) -> list[str]:
    return list(dict.fromkeys([source.url, *source.scrape_hints.listing_urls]))


async def read_listings(
    client: Fetcher,
    source: Source,
    pages: int = 1,
    *,
    first_headers: dict[str, str] | None = None,
    pacing: Pacing | None = None,
) -> list[ListingRead]:
    """Each listing URL of the source, `pages` deep (following "next"), one request at a time.
    `first_headers` (validators) go with the source's own URL only."""
    pacing = pacing or _Unpaced()
    reads = []
    cap = source.scrape_hints.max_new_links
    for position, url in enumerate(listing_urls(source)):
        headers = first_headers if position == 0 else None
        reads.append(await _read_one(client, source, url, pages, cap, headers, pacing))
    return reads


async def _read_one(
    client: Fetcher, source: Source, url: str, pages: int, cap: int, headers: dict[str, str] | None, pacing: Pacing
) -> ListingRead:
    read = ListingRead(url)
    visited: set[str] = set()
    next_url: str | None = url
    while next_url is not None and len(read.pages) < pages and next_url not in visited:
        visited.add(next_url)
        try:
            async with pacing.turn(next_url):
                response = await client.get(next_url, request_policy(source, headers, HTML_TYPES))
        except FetchError as exc:
            log.warning("listing_failed", url=next_url, error_type=type(exc).__name__, error=str(exc))
            return read if read.pages else replace(read, error=exc)
        headers = None  # validators belong to the first page only
        if not read.pages:
            read = replace(
                read,
                status=response.status,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
        if response.status == 304:
            return read
        listing = await _parse(response.text(), response.final_url, rules_for(source), len(response.body))
        read = replace(
            read,
            pages=(*read.pages, listing),
            body_hashes=(*read.body_hashes, hashlib.sha256(response.body).hexdigest()),
        )
        if len(read.articles) >= cap:
            break  # enough for this poll: deeper pages would only be dropped by the cap
        next_url = listing.next_page
    return read


async def _parse(html: str, url: str, rules: LinkRules, size: int) -> Listing:
    # Like feeds: small pages on the loop (a thread hop costs more than it saves), large ones in a thread.
    if size <= INLINE_PARSE_MAX_BYTES:
        return read_listing(html, url, rules)
    return await asyncio.to_thread(read_listing, html, url, rules)


async def poll_page_source(
    client: Fetcher,
    source: Source,
    state: FeedState,
    options: PollOptions = PollOptions(),
    pacing: Pacing | None = None,
) -> PollResult:
    """Read the listing pages; the new article links, at most `max_new_links`, newest first.
    Raises the first listing's FetchError when no listing page could be read."""
    record = await state.load(source.name)
    hints = source.scrape_hints
    first_run = record.last_success_at is None
    reads = await read_listings(
        client,
        source,
        hints.backfill_pages if first_run else 1,
        first_headers=_validators(record),
        pacing=pacing,
    )
    failed = [read for read in reads if read.error is not None]
    if len(failed) == len(reads) and failed[0].error is not None:
        raise failed[0].error
    main = reads[0]
    fresh = replace(record, failures=0)
    if all(read.status == 304 or read.error is not None for read in reads):
        return PollResult(304, (), record.items_found, fresh)
    body_hash = hashlib.sha256("".join(h for read in reads for h in read.body_hashes).encode()).hexdigest()
    if main.pages:  # the source's own URL answered in full: its validators are the ones to keep
        response_record = replace(
            fresh, etag=main.etag, last_modified=main.last_modified, last_full_fetch_at=time.time()
        )
    else:
        response_record = fresh
    if body_hash == record.body_hash:
        return PollResult(304, (), record.items_found, response_record)
    links = _newest_first([read.articles for read in reads])
    unseen = await state.unseen(source.name, links)
    new = unseen[: hints.max_new_links]
    updated = replace(response_record, body_hash=body_hash, items_found=len(links))
    if len(unseen) > len(new):
        # The rest come next poll: the unchanged listing must not look "not modified" then.
        updated = replace(updated, body_hash=None, etag=None, last_modified=None)
        log.info("page_links_capped", new=len(unseen), handed_on=len(new), max_new_links=hints.max_new_links)
    status = main.status if main.status is not None else 200
    return PollResult(status, tuple(FeedEntry(link=url) for url in new), len(links), updated)


def _newest_first(per_listing: Sequence[Sequence[str]]) -> list[str]:
    """One list from several listings, by position (every listing's first link, then every second
    one...): listings are newest first, so this is too. The same story in two sections is one link."""
    merged: dict[str, None] = {}
    for rank in range(max((len(links) for links in per_listing), default=0)):
        for links in per_listing:
            if rank < len(links):
                merged.setdefault(links[rank], None)
    return list(merged)


def _validators(record: FeedRecord) -> dict[str, str]:
    stale = record.last_full_fetch_at is None or time.time() - record.last_full_fetch_at > MAX_CONDITIONAL_S
    if stale or record.last_success_at is None:
        return {}
    return conditional_headers(record.etag, record.last_modified)
