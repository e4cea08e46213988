"""fetch_page(): one article page, through the shared client -> ArticleJob. Never parses the body."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest.client import HttpClient
from ingest.jobs import ArticleJob, DiscoveredVia, FeedEntry, ResponseHeaders
from ingest.poll import request_policy
from ingest.sources import Source


async def fetch_page(
    client: HttpClient, source: Source, entry: FeedEntry, discovered_via: DiscoveredVia = "feed"
) -> ArticleJob:
    response = await client.get(entry.link, request_policy(source))
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
        charset=response.charset,
        html=response.text(),
        source=source.snapshot(),
        entry=entry,
        discovered_via=discovered_via,
    )
