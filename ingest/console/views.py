"""What the console's pages show, worked out from what the index and the state stores return. Pure: no I/O.

The search form's parameters and the shareable URLs made from them, hits with their highlighted snippets,
one row per source with its status, and the links an article may carry (only http and https ever
become a link: a stored `javascript:` URL stays text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode, urlsplit

from markupsafe import Markup

from ingest.console.charts import Chart, daily_chart
from ingest.humanize import ago, drift_text, duration, until
from ingest.search_output import html_snippet, shown_snippet
from ingest.sources import Source
from ingest.state import FeedRecord
from workers.documents import Article
from workers.errors import InvalidQuery
from workers.index.query import build_query
from workers.ports import SearchHit, SearchQuery

if TYPE_CHECKING:
    from workers.health_state import SourceHealth

PAGE_SIZE = 20
COPIES_SHOWN = 50  # copies listed under one hit; the article page lists up to COPIES_ON_ARTICLE
COPIES_ON_ARTICLE = 200
SOURCE_CHART_DAYS = 14


@dataclass(frozen=True)
class SearchForm:
    """The search page's parameters, as typed: every field is also a URL parameter of the same name."""

    q: str = ""
    source: str = ""
    domain: str = ""
    lang: str = ""
    tag: str = ""
    entity: str = ""
    since: str = ""
    until: str = ""
    sort: str = ""  # "" means relevance with words, newest without
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SearchForm:
        """Unknown parameters are ignored: a shared link may carry someone's tracking parameters."""
        values = {f.name: params.get(f.name, "").strip() for f in fields(cls) if f.name != "page"}
        page_text = params.get("page", "1").strip() or "1"
        if not page_text.isdigit() or int(page_text) < 1:
            raise InvalidQuery(f"page must be a whole number from 1, not {page_text!r}")
        return cls(page=int(page_text), **values)

    @property
    def filtered(self) -> bool:
        """Whether any filter beyond the words is set (the filters panel opens then)."""
        return any((self.source, self.domain, self.lang, self.tag, self.entity, self.since, self.until, self.sort))

    def query(self, *, max_chars: int, max_window: int) -> SearchQuery:
        if len(self.q) > max_chars:
            raise InvalidQuery(f"the search is {len(self.q)} characters long; the most is {max_chars}")
        offset = (self.page - 1) * PAGE_SIZE
        if offset + PAGE_SIZE > max_window:
            raise InvalidQuery(f"page {self.page} is deeper than the {max_window} results paging reaches: narrow the search")
        return build_query(
            self.q,
            since=self.since or None,
            until=self.until or None,
            sort=self.sort or ("relevance" if self.q.strip() else "newest"),
            limit=PAGE_SIZE,
            offset=offset,
            filters={"source": self.source, "domain": self.domain, "language": self.lang, "tag": self.tag,
                     "entity": self.entity},
        )

    def url(self, **changes: str | int) -> str:
        """This search as a shareable link, with some fields changed (page 1 unless `page` is given)."""
        changed = replace(self, **{"page": 1, **changes})  # type: ignore[arg-type]
        params = [(f.name, str(getattr(changed, f.name))) for f in fields(changed)]
        kept = [(name, value) for name, value in params if value and not (name == "page" and value == "1")]
        return "/?" + urlencode(kept) if kept else "/"


@dataclass(frozen=True)
class HitView:
    hit: SearchHit
    copies: tuple[SearchHit, ...] = ()  # the story's matching documents, itself included, newest first

    @property
    def snippet(self) -> Markup:
        return Markup(html_snippet(shown_snippet(self.hit)))  # escaped text, matched words in <mark>


def safe_link(url: str | None) -> str | None:
    """`url` when a browser may follow it from our page (http or https with a host), else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def reuse_flags(article: Article, reserving_only: bool = False) -> list[str]:
    """What the publisher reserved, in words for badges: "TDM reserved (header)", "noarchive", "nosnippet".
    `reserving_only`: just those that make a metadata-only document (TDM, noarchive, noindex)."""
    flags = [f"TDM reserved ({article.tdm_signal})"] if article.tdm_reserved else []
    kept = ("noarchive", "noindex") if reserving_only else ("noarchive", "noindex", "nosnippet")
    return flags + [directive for directive in kept if directive in article.robots]


def paragraphs(text: str) -> list[str]:
    """The article's text in paragraphs (the cleaner keeps one paragraph a line)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


Status = Literal["failing", "drifting", "paused", "new", "ok"]
STATUS_ORDER: dict[Status, int] = {"failing": 0, "drifting": 1, "paused": 2, "new": 3, "ok": 4}
STATUS_WORDS: dict[Status, str] = {
    "failing": "failing", "drifting": "drifting", "paused": "paused", "new": "not polled yet", "ok": "ok",
}


@dataclass(frozen=True)
class SourceRow:
    name: str
    url: str
    kind: str
    status: Status
    last_success: str
    last_error: str | None  # "FeedMalformed: the feed is not XML … (2h ago)", in words
    interval: str
    next_poll: str
    failures: int
    chart: Chart
    drifts: tuple[str, ...] = field(default=())

    @property
    def status_words(self) -> str:
        return STATUS_WORDS[self.status]


def source_rows(
    sources: Sequence[Source],
    records: Mapping[str, FeedRecord],
    health: Mapping[str, SourceHealth],
    daily: Mapping[str, Sequence[tuple[str, int]]],
    *,
    now: float,
    today: date,
) -> list[SourceRow]:
    """One row per source, those that need attention first (failing, drifting, paused), then by name."""
    rows = []
    for source in sources:
        record = records.get(source.name, FeedRecord())
        drifts = tuple(drift_text(d, now) for d in health[source.name].drifts) if source.name in health else ()
        status: Status
        if not source.enabled:
            status = "paused"
        elif record.failures > 0:
            status = "failing"
        elif drifts:
            status = "drifting"
        elif record.last_poll_at is None:
            status = "new"
        else:
            status = "ok"
        error = None
        if record.last_error:
            kind = f"{record.last_error_type}: " if record.last_error_type else ""
            error = f"{kind}{record.last_error} ({ago(record.last_error_at, now)})"
        rows.append(SourceRow(
            name=source.name,
            url=source.url,
            kind=source.kind,
            status=status,
            last_success=ago(record.last_success_at, now),
            last_error=error,
            interval=duration(record.interval_s),
            next_poll=until(record.next_poll_at, now) if source.enabled else "paused",
            failures=record.failures,
            chart=daily_chart(daily.get(source.name, ()), today, SOURCE_CHART_DAYS, width=140, height=28),
            drifts=drifts,
        ))
    return sorted(rows, key=lambda row: (STATUS_ORDER[row.status], row.name.lower()))
