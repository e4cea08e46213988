"""fetch_page(): one article page, through the given client -> ArticleJob. Never parses the body.

The page is decoded to text here (BOM, header, declared charset, detection), so workers get
correct text whatever the page's encoding; only HTML-ish content types are accepted.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from ingest.charsets import decode_body
from ingest.client import PAGE_TYPES
from ingest.jobs import ArticleJob, DiscoveredVia, FeedEntry, ResponseHeaders, SourceSnapshot
from ingest.poll import Fetcher, request_policy
from ingest.sources import Source


async def fetch_page(
    client: Fetcher, source: Source, entry: FeedEntry, discovered_via: DiscoveredVia = "feed"
) -> ArticleJob:
    response = await client.get(entry.link, request_policy(source, accept_types=PAGE_TYPES))
    decoded = decode_body(response.body, response.charset)
    return ArticleJob(
        url=entry.link,
        final_url=response.final_url,
        fetched_at=datetime.now(UTC),
        status=response.status,
        headers=ResponseHeaders(
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        ),
        charset=decoded.charset,
        html=decoded.text,
        source=_snapshot(source),
        entry=entry,
        discovered_via=discovered_via,
    )


@functools.lru_cache(maxsize=16_384)
def _snapshot(source: Source) -> SourceSnapshot:
    # One validated snapshot per source, not one per page (a Source is frozen and hashable).
    return source.snapshot()
