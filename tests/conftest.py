"""Fixtures shared by every test: small factories of the pipeline's data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from workers.documents import Article, document_id

MakeArticle = Callable[..., Article]


@pytest.fixture
def make_article() -> MakeArticle:
    """`make_article(**overrides) -> Article`: a valid, unique article unless told otherwise.

    `id` and `cluster_id` follow `canonical_url` (a unique story) unless given.
    """
    counter = iter(range(1, 1_000_000))

    def make(**overrides: Any) -> Article:
        n = next(counter)
        canonical_url = overrides.get("canonical_url", f"https://news.example/story-{n}")
        doc_id = overrides.get("id", document_id(canonical_url))
        moment = datetime(2026, 11, 25, 9, 0, n % 60, tzinfo=UTC)
        fields: dict[str, Any] = {
            "id": doc_id,
            "url": canonical_url,
            "canonical_url": canonical_url,
            "source": "example",
            "domain": "news.example",
            "title": f"Story number {n}",
            "text": "A plain body of text about an ordinary day in town.",
            "published_at": moment,
            "fetched_at": moment,
            "first_seen_at": moment,
            "updated_at": moment,
            "language": "en",
            "word_count": 11,
            "reading_time_s": 3,
            "content_hash": f"hash-{doc_id}",
            "cluster_id": doc_id,
            "extraction_path": "trafilatura",
        }
        return Article(**{**fields, **overrides})

    return make


@pytest.fixture(autouse=True)
def _logging_config_restored() -> Iterator[None]:
    """A test that runs `ingest.cli.main()` in-process reconfigures structlog (its --log-level): put the
    configuration back, or later tests that capture info-level events see only warnings."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
