"""The ports between the pipeline and its state: each has two adapters, a real server and embedded.

Elasticsearch + Redis when distributed; one SQLite file when standalone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import urlsplit

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


@dataclass(frozen=True)
class DocumentRef:
    """What removing a document needs to know of it (workers.removal): who it is and which story it is in."""

    id: str
    url: str
    canonical_url: str
    source: str
    title: str | None
    cluster_id: str
    duplicate_of: str | None
    first_seen_at: datetime
    content_hash: str


@dataclass(frozen=True)
class DocumentSelection:
    """Which documents `delete` and retention remove: every given condition holds (AND); `urls` and
    `doc_ids` match any of theirs (a document's `url`, `canonical_url` or id). `first_seen_before` is
    an aware datetime; `except_sources` leaves those sources out (the global keep skips sources with
    a keep of their own). An empty selection matches nothing, never everything."""

    urls: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    source: str | None = None
    domain: str | None = None
    first_seen_before: datetime | None = None
    except_sources: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.urls or self.doc_ids or self.source or self.domain or self.first_seen_before)

    def matches(self, ref: DocumentRef) -> bool:
        """The same test as the adapters' queries, on a document in hand (domain from its canonical URL)."""
        if self.empty:
            return False
        if (self.urls or self.doc_ids) and not (
            ref.id in self.doc_ids or ref.url in self.urls or ref.canonical_url in self.urls
        ):
            return False
        if self.source is not None and ref.source != self.source:
            return False
        if self.domain is not None and _host(ref.canonical_url) != self.domain:
            return False
        if self.first_seen_before is not None and not ref.first_seen_at < self.first_seen_before:
            return False
        return ref.source not in self.except_sources


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:
        return ""


@dataclass(frozen=True)
class ClusterChange:
    """A document's new place in its story after its lead was removed (a promotion: no new version)."""

    doc_id: str
    cluster_id: str
    duplicate_of: str | None


@dataclass(frozen=True)
class Tombstone:
    """A removed document that must never come back: a later fetch of the same id is dropped."""

    doc_id: str
    url: str
    deleted_at: datetime
    reason: str = "delete"


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

    def set_clusters(self, changes: Sequence[ClusterChange]) -> int:
        """Move documents to another story (cluster_id, duplicate_of) in place: `version`, `updated_at`
        and the text stay as they are. Returns how many documents were found and changed."""

    def tombstoned(self, doc_ids: Sequence[str]) -> frozenset[str]:
        """Those of `doc_ids` that were deleted for good (`newsingest delete`); raises IndexUnavailable."""

    def close(self) -> None: ...


class RemovableIndex(IndexBackend, Protocol):
    """What `newsingest delete` and retention need of an index beyond ingestion (workers.removal)."""

    def select_pages(self, selection: DocumentSelection, page_size: int) -> Iterator[list[DocumentRef]]:
        """The matching documents a page at a time; pages may be deleted between two reads."""

    def references(self, doc_ids: Sequence[str]) -> list[DocumentRef]:
        """The documents as they are now (real time), those that still exist."""

    def story_members(self, cluster_ids: Collection[str]) -> list[DocumentRef]:
        """Every document of these stories, as they are now."""

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Remove the documents; returns how many existed."""

    def add_tombstones(self, tombstones: Sequence[Tombstone]) -> None: ...

    def refresh(self) -> None:
        """Make the writes so far visible to story_members (Elasticsearch searches are near real time)."""


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


@dataclass(frozen=True)
class StoryRemoval:
    """How the dedupe state forgets removed documents (workers.removal plans it).

    `forgotten`: their near-duplicate records go (a later different article never joins them);
    `claims`: (content_hash, removed holder, new holder or None): an exact-text claim the removed
    document held passes to a remaining copy with the same text, or is dropped (compare-and-set: a
    claim someone else holds now is left alone); `clusters`: (doc_id, cluster_id) of remaining
    documents moved to a promoted lead, so a future copy of theirs joins it.
    """

    forgotten: tuple[str, ...] = ()
    claims: tuple[tuple[str, str, str | None], ...] = ()
    clusters: tuple[tuple[str, str], ...] = ()


class StoryForgetting(Protocol):
    def forget(self, removal: StoryRemoval) -> int:
        """Apply the removal; returns how many records (claims and near-duplicate entries) went."""


class ExtractionHealthStore(Protocol):
    def record(self, pages: Sequence[PageHealth], now: datetime) -> list[DriftChange]:
        """Add the pages to their sources' windows; return the drifts they raised or cleared, each to one
        caller only (workers.health_state)."""


class PageArchive(Protocol):
    def put(self, pages: Sequence[tuple[str, ArticleJob]]) -> int:
        """Keep each (doc_id, job)'s fetched page (workers.raw_archive); returns how many bodies were new."""
