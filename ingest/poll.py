"""poll_source(): one conditional GET of a feed -> the entries not seen before.

Does not fetch article pages and does not write state: the caller saves the new FeedRecord
only after the entries have been handed off, so a crash in between loses nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, replace

from ingest.client import HttpClient, RequestPolicy
from ingest.feeds import parse_feed
from ingest.jobs import FeedEntry
from ingest.sources import Source
from ingest.state import FeedRecord, FeedState

# Some servers send an unchanged ETag for a changed feed: without validators at least this often.
MAX_CONDITIONAL_S = 24 * 3600


@dataclass(frozen=True)
class PollResult:
    status: int  # HTTP status, 304 also when the body hash is unchanged
    new_entries: tuple[FeedEntry, ...]
    entries_total: int
    record: FeedRecord  # to save once new_entries are safely handed off


def request_policy(source: Source, extra_headers: dict[str, str] | None = None) -> RequestPolicy:
    return RequestPolicy(
        source=source.name,
        allow_hosts=frozenset(source.allow_hosts),
        local_root=source.local_root,
        extra_headers=extra_headers or {},
    )


async def poll_source(client: HttpClient, source: Source, state: FeedState) -> PollResult:
    record = await state.load(source.name)
    response = await client.get(source.url, request_policy(source, _validators(record)))
    if response.status == 304:
        return PollResult(304, (), 0, replace(record, failures=0))
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
        return PollResult(304, (), 0, fresh)
    # Parsing a large feed is CPU work: keep it off the event loop.
    parsed = await asyncio.to_thread(
        parse_feed, response.body, response.final_url, source.kind, response.content_type
    )
    unique = list({entry.seen_key: entry for entry in reversed(parsed.entries)}.values())[::-1]
    new_keys = set(await state.unseen(source.name, [entry.seen_key for entry in unique]))
    new_entries = tuple(entry for entry in unique if entry.seen_key in new_keys)
    return PollResult(response.status, new_entries, len(parsed.entries), fresh)


def _validators(record: FeedRecord) -> dict[str, str]:
    stale = record.last_full_fetch_at is None or time.time() - record.last_full_fetch_at > MAX_CONDITIONAL_S
    if stale:
        return {}
    headers = {}
    if record.etag:
        headers["If-None-Match"] = record.etag
    if record.last_modified:
        headers["If-Modified-Since"] = record.last_modified
    return headers
