"""ArticleJob: the one message from ingest to workers (version 1), validated on both sides.

A job is plain JSON: what was fetched, from where, and what the feed said about it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

JOB_VERSION: Final = 1

DiscoveredVia = Literal["feed", "sitemap", "page"]

# What is stored of an article whose publisher reserved reuse (TDM reservation, noarchive, noindex):
# everything (flagged), title + metadata + a snippet, or nothing at all (workers/rights.py decides).
ReusePolicy = Literal["full", "metadata", "skip"]
DEFAULT_REUSE_POLICY: Final[ReusePolicy] = "metadata"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResponseHeaders(_Frozen):
    """The HTTP headers workers care about."""

    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # The publisher's reuse signals, as sent (read by workers/rights.py); all optional, so older jobs validate.
    x_robots_tag: tuple[str, ...] = ()  # one entry per X-Robots-Tag header line
    tdm_reservation: str | None = None
    tdm_policy: str | None = None
    link_license: tuple[str, ...] = ()  # the Link header lines that name a rel="license"
    # The host's /.well-known/tdmrep.json rule for this URL (ingest/tdmrep.py), kept apart from the
    # header: the page's own meta tags rank between the two, and only the worker reads those.
    tdm_reservation_site: int | None = None
    tdm_policy_site: str | None = None


class SourceSnapshot(_Frozen):
    """The source's settings at fetch time, so a worker never needs the sources file."""

    name: str
    kind: str
    url: str
    tags: tuple[str, ...] = ()
    language: str | None = None
    # A page source's hint: where the article body is when generic extraction fails on that site.
    body_selector: str | None = None
    # Lines this site prints that are not the story ("Get the Harbour Times app"): dropped when cleaning.
    noise_lines: tuple[str, ...] = ()
    # What to store when the publisher reserves reuse; None: the default (DEFAULT_REUSE_POLICY).
    reuse_reserved: ReusePolicy | None = None


class FeedEntry(_Frozen):
    """What a feed said about one article (every field optional: feeds omit anything)."""

    link: str
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    content: str | None = None
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    image: str | None = None

    @property
    def seen_key(self) -> str:
        """Identity of the entry for "already seen": the guid when the feed gives one."""
        return self.guid or self.link


class ArticleJob(_Frozen):
    v: Literal[1] = JOB_VERSION
    job_id: str = Field(default_factory=lambda: uuid4().hex)
    url: str
    final_url: str
    fetched_at: datetime
    status: int
    headers: ResponseHeaders = ResponseHeaders()
    charset: str | None = None
    html: str
    source: SourceSnapshot
    entry: FeedEntry | None = None
    discovered_via: DiscoveredVia = "feed"

    def to_message(self) -> dict[str, Any]:
        """The JSON-ready form that crosses the queue."""
        return self.model_dump(mode="json")
