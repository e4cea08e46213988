"""fetch_page(): one article page, through the given client -> ArticleJob. Never parses the body.

The page is decoded to text here (BOM, header, declared charset, detection), so workers get
correct text whatever the page's encoding; only HTML-ish content types are accepted.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime

from ingest.charsets import decode_body
from ingest.client import PAGE_TYPES
from ingest.jobs import ArticleJob, DiscoveredVia, FeedEntry, ResponseHeaders, ReusePolicy, SourceSnapshot
from ingest.poll import Fetcher, request_policy
from ingest.sources import Source
from ingest.tdmrep import TdmRepCache


async def fetch_page(
    client: Fetcher,
    source: Source,
    entry: FeedEntry,
    discovered_via: DiscoveredVia = "feed",
    *,
    tdmrep: TdmRepCache | None = None,
    default_reuse: ReusePolicy | None = None,
    validators: dict[str, str] | None = None,
) -> ArticleJob:
    """`tdmrep`, when given, is asked for the host's TDM rule when the response sends no tdm-reservation
    header; `default_reuse` is the policy a source without `reuse_reserved` gets (Settings.rights).
    `validators` make the GET conditional (a re-check): a 304 comes back as a job with status 304 and
    no text, for the caller to recognise, never to hand off."""
    policy = request_policy(source, validators, accept_types=PAGE_TYPES)
    response = await client.get(entry.link, policy)
    decoded = decode_body(response.body, response.charset)
    headers = _response_headers(response.headers)
    if tdmrep is not None and headers.tdm_reservation is None:
        rule = await tdmrep.rule_for(response.final_url, policy)
        if rule is not None:
            headers = headers.model_copy(update={"tdm_reservation_site": rule.reservation, "tdm_policy_site": rule.policy})
    return ArticleJob(
        url=entry.link,
        final_url=response.final_url,
        fetched_at=datetime.now(UTC),
        status=response.status,
        headers=headers,
        charset=decoded.charset,
        html=decoded.text,
        source=_snapshot(source, default_reuse),
        entry=entry,
        discovered_via=discovered_via,
    )


def _response_headers(headers: Mapping[str, str]) -> ResponseHeaders:
    return ResponseHeaders(
        content_type=headers.get("Content-Type"),
        etag=headers.get("ETag"),
        last_modified=headers.get("Last-Modified"),
        x_robots_tag=_lines(headers, "X-Robots-Tag"),
        tdm_reservation=headers.get("tdm-reservation"),
        tdm_policy=headers.get("tdm-policy"),
        # Only the licence links: a Link header also lists preloads and alternates the worker never reads.
        link_license=tuple(line for line in _lines(headers, "Link") if "license" in line.lower()),
    )


def _lines(headers: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Every line of a header sent more than once (the client keeps a multidict), else the one."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return tuple(getall(name, ()))
    value = headers.get(name)
    return (value,) if value is not None else ()


@functools.lru_cache(maxsize=16_384)
def _snapshot(source: Source, default_reuse: ReusePolicy | None = None) -> SourceSnapshot:
    # One validated snapshot per source, not one per page (a Source is frozen and hashable).
    snapshot = source.snapshot()
    if snapshot.reuse_reserved is None and default_reuse is not None:
        snapshot = snapshot.model_copy(update={"reuse_reserved": default_reuse})
    return snapshot
