"""Feed discovery for `site` sources: a home page -> the feeds it offers.

`feed_links()` is pure (the page's `<link rel="alternate">` tags); `discover_feeds()` fetches the
home page through the given client, then tries well-known paths when the page names no feed,
and keeps only candidates that really parse as feeds. Every request goes through the same
guard and politeness as any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from ingest.client import FEED_TYPES, HTML_TYPES, RequestPolicy, Response
from ingest.errors import FeedParseError, FetchError
from ingest.feeds import parse_feed

_ALTERNATE_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "rss",
    "application/rdf+xml": "rss",
    "application/feed+json": "jsonfeed",
    "application/json": "jsonfeed",
}
WELL_KNOWN_PATHS = ("/feed", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/rss", "/feed.json", "/news-sitemap.xml")
MAX_CANDIDATES = 8

Getter = Callable[[str, RequestPolicy], Awaitable[Response]]


@dataclass(frozen=True)
class FeedLink:
    url: str
    kind: str  # the source kind that reads it: rss (RSS and Atom), jsonfeed, sitemap
    found_by: str  # "link" (the page's <link rel=alternate>) or "well-known path"


def feed_links(html: str, page_url: str) -> list[FeedLink]:
    """The feeds a page advertises with `<link rel="alternate" type=...>`, in page order."""
    try:
        document = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    links: dict[str, FeedLink] = {}
    for node in document.iter("link"):
        rel = (node.get("rel") or "").lower().split()
        kind = _ALTERNATE_TYPES.get((node.get("type") or "").split(";")[0].strip().lower())
        href = (node.get("href") or "").strip()
        if "alternate" in rel and kind and href:
            url = urljoin(page_url, href)
            if urlsplit(url).scheme in ("http", "https", "file"):
                links.setdefault(url, FeedLink(url, kind, "link"))
    return list(links.values())


async def discover_feeds(get: Getter, site_url: str, policy: RequestPolicy) -> list[FeedLink]:
    """Feeds of a site, verified by parsing each. Raises FetchError if the home page cannot be read."""
    page = await get(site_url, _with_types(policy, HTML_TYPES))
    candidates = feed_links(page.text(), page.final_url)
    if not candidates:
        root = page.final_url
        candidates = [
            FeedLink(urljoin(root, path), "sitemap" if "sitemap" in path else "rss", "well-known path")
            for path in WELL_KNOWN_PATHS
        ]
    found = []
    for candidate in candidates[:MAX_CANDIDATES]:
        if await _parses(get, candidate, policy):
            found.append(candidate)
            if candidate.found_by == "well-known path":
                break  # one guessed feed is enough; advertised ones are all reported
    return found


async def _parses(get: Getter, candidate: FeedLink, policy: RequestPolicy) -> bool:
    try:
        response = await get(candidate.url, _with_types(policy, FEED_TYPES))
        await asyncio.to_thread(parse_feed, response.body, response.final_url, candidate.kind, response.content_type)
    except (FetchError, FeedParseError):
        return False
    return True


def _with_types(policy: RequestPolicy, types: tuple[str, ...]) -> RequestPolicy:
    return RequestPolicy(
        source=policy.source,
        allow_hosts=policy.allow_hosts,
        local_root=policy.local_root,
        extra_headers={},
        accept_types=types,
    )
