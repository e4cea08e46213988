"""The ports between the pipeline and its state: each has two adapters, a real server and embedded.

Elasticsearch + Redis when distributed; one SQLite file when standalone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from workers.documents import Article, DeadLetter


@dataclass(frozen=True)
class SearchQuery:
    """What `newsingest search` asks, identically of both index adapters."""

    text: str
    limit: int = 10
    collapse: bool = True  # one hit per story (cluster_id)
    source: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class SearchHit:
    article: Article
    score: float


@dataclass(frozen=True)
class IndexOutcome:
    """What happened to one document of a bulk request."""

    doc_id: str
    result: Literal["indexed", "rejected"]
    reason: str | None = None  # why a rejected document can never be indexed


class IndexBackend(Protocol):
    def ensure_ready(self) -> None:
        """Create what the index needs (template, versioned index, alias), idempotently."""

    def bulk_index(self, articles: Sequence[Article]) -> list[IndexOutcome]:
        """Write the articles in one request (upserts by id); raises IndexUnavailable when unreachable."""

    def search(self, query: SearchQuery) -> list[SearchHit]: ...

    def get(self, doc_id: str) -> Article | None: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class DeadLetterStore(Protocol):
    def record(self, letters: Sequence[DeadLetter]) -> None: ...

    def recent(self, limit: int = 50) -> list[DeadLetter]: ...


class DedupeStore(Protocol):
    def claim(self, content_hash: str, doc_id: str) -> str:
        """Register doc_id for content_hash unless another document holds it; return the holder.

        Atomic: of two workers racing on the same hash, exactly one becomes the holder.
        """
