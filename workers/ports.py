"""The ports between the pipeline and its state: each has two adapters, a real server and embedded.

Elasticsearch + Redis when distributed; one SQLite file when standalone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from ingest.jobs import ArticleJob
from workers.documents import Article, DeadLetter

if TYPE_CHECKING:
    from workers.drift import DriftChange
    from workers.health import PageHealth

SortOrder = Literal["relevance", "newest"]


@dataclass(frozen=True)
class SearchQuery:
    """What `newsingest search` (and stats, export, the HTTP API) asks, identically of both index adapters.

    Filters are exact values; `since`/`until` bound `published_at` (aware datetimes, `until` exclusive).
    Blank `text` matches every document, newest first.
    """

    text: str = ""
    limit: int = 10
    offset: int = 0  # hits skipped before the first shown (paging)
    collapse: bool = True  # one hit per story (cluster_id)
    source: str | None = None
    language: str | None = None
    domain: str | None = None
    tag: str | None = None
    entity: str | None = None
    story: str | None = None  # a cluster_id: the copies of one story
    since: datetime | None = None
    until: datetime | None = None
    sort: SortOrder = "relevance"


# Marks around a matched term inside SearchHit.snippet (private-use characters, never in real text
# after rendering); renderers turn them into colours, <mark> or nothing.
HIGHLIGHT_START, HIGHLIGHT_END = "\ue000", "\ue001"


@dataclass(frozen=True)
class SearchHit:
    article: Article
    score: float
    snippet: str | None = None  # a passage of the text around the matches, terms between the marks
    copies: int = 1  # matching documents of this story (cluster_id) when collapsed, itself included


@dataclass(frozen=True)
class IndexStats:
    """Aggregations over the documents matching a query's filters (its text and limit are ignored)."""

    documents: int
    duplicates: int
    per_day: tuple[tuple[str, int], ...]  # ("2026-11-25", n), oldest first, days without articles included
    per_source: tuple[tuple[str, int], ...]  # most first
    per_language: tuple[tuple[str, int], ...]
    top_entities: tuple[tuple[str, int], ...]
    top_keywords: tuple[tuple[str, int], ...]
    stories: int = 0  # distinct cluster_ids


@dataclass(frozen=True)
class IndexOutcome:
    """What happened to one document of a bulk request."""

    doc_id: str
    # skipped: the index already holds newer content for this id (a later fetch won the race).
    result: Literal["indexed", "rejected", "skipped"]
    reason: str | None = None  # why a rejected document can never be indexed


class IndexBackend(Protocol):
    def ensure_ready(self) -> None:
        """Create what the index needs (template, versioned index, alias), idempotently."""

    def bulk_index(self, articles: Sequence[Article]) -> list[IndexOutcome]:
        """Write the articles (upserts by id; a changed text bumps `version`, `first_seen_at` is kept,
        an older fetch never overwrites a newer one); raises IndexUnavailable when unreachable."""

    def search(self, query: SearchQuery) -> list[SearchHit]: ...

    def stats(self, query: SearchQuery, top: int = 10) -> IndexStats: ...

    def export(self, query: SearchQuery) -> Iterator[Article]:
        """Every document matching the query's filters and text, in constant memory (no limit)."""

    def daily_per_source(self, since: datetime) -> dict[str, tuple[tuple[str, int], ...]]:
        """Documents first seen per source and UTC day ("2026-11-25") from `since` on, oldest day first,
        empty days and sources left out: what each source brought in lately (the sources page)."""

    def get(self, doc_id: str) -> Article | None: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class DeadLetterStore(Protocol):
    def record(self, letters: Sequence[DeadLetter]) -> None: ...

    def recent(self, limit: int = 50) -> list[DeadLetter]: ...


class DeadLetterArchive(DeadLetterStore, Protocol):
    """What `newsingest deadletters` needs beyond recording: every letter with its id, and removal."""

    def all(self) -> list[tuple[str, DeadLetter]]:
        """Every dead letter and its id (workers.index.mapping.dead_letter_id), newest first."""

    def remove(self, letter_ids: Sequence[str]) -> int:
        """Delete these letters; returns how many existed."""


class DedupeStore(Protocol):
    def claim(self, content_hash: str, doc_id: str) -> str:
        """Register doc_id for content_hash unless another document holds it; return the holder.

        Atomic: of two workers racing on the same hash, exactly one becomes the holder.
        """


@dataclass(frozen=True)
class StoryMatch:
    """Which story a document belongs to: its own (duplicate_of None) or an earlier document's."""

    cluster_id: str
    duplicate_of: str | None = None
    similarity: float | None = None  # estimated Jaccard similarity to duplicate_of (1.0 for the same text)


class NearDuplicateIndex(Protocol):
    def admit(self, doc_id: str, signature: Sequence[int], exact_holder: str | None, now: datetime) -> StoryMatch:
        """Find the story of doc_id and record it, in one atomic step.

        The story is exact_holder's when given (another document holds the same text), else that of the most
        similar document admitted before doc_id within the time window, else doc_id's own. Two workers
        admitting two copies at once see each other in a fixed order: one cluster. Idempotent per doc_id.
        """


class BoilerplateCounts(Protocol):
    def observe(self, domain: str, doc_id: str, line_keys: Collection[str], now: datetime) -> frozenset[str]:
        """Count doc_id's short lines for its site; return those now seen in enough of the site's articles."""


class StoryState(DedupeStore, NearDuplicateIndex, BoilerplateCounts, Protocol):
    """Everything the stateful step of the pipeline (workers.pipeline.finish) keeps between articles."""


class ExtractionHealthStore(Protocol):
    def record(self, pages: Sequence[PageHealth], now: datetime) -> list[DriftChange]:
        """Add the pages to their sources' windows; return the drifts they raised or cleared, each to one
        caller only (workers.health_state)."""


class PageArchive(Protocol):
    def put(self, pages: Sequence[tuple[str, ArticleJob]]) -> int:
        """Keep each (doc_id, job)'s fetched page (workers.raw_archive); returns how many bodies were new."""
