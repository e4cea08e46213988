"""Which revision of a document the index keeps when a URL is written again. Pure: no I/O.

Both adapters read what they store (`Stored`), call `next_revision`, and write the result only if
nothing changed the stored document meanwhile (Elasticsearch: if_seq_no/if_primary_term or create;
SQLite: the one writer's transaction), so two workers racing on one URL keep the newer content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workers.documents import Article

# The stored fields next_revision needs: read these, not whole documents.
STORED_FIELDS = ("first_seen_at", "updated_at", "fetched_at", "version", "content_hash", "title")


@dataclass(frozen=True)
class Stored:
    """What the index holds for one id, as far as revisions are concerned."""

    first_seen_at: datetime
    updated_at: datetime
    fetched_at: datetime
    version: int
    content_hash: str
    title: str | None

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> Stored:
        return cls(
            first_seen_at=datetime.fromisoformat(source["first_seen_at"]),
            updated_at=datetime.fromisoformat(source["updated_at"]),
            fetched_at=datetime.fromisoformat(source["fetched_at"]),
            version=int(source.get("version") or 1),
            content_hash=str(source.get("content_hash")),
            title=source.get("title"),
        )


def next_revision(stored: Stored | None, incoming: Article) -> Article | None:
    """The document to write for `incoming`, or None when the stored one is newer (keep it).

    A re-crawl keeps `first_seen_at`; changed text or title bumps `version` and moves `updated_at`;
    the same content re-delivered keeps the stored `version` and `updated_at`.
    """
    if stored is None:
        return incoming
    if incoming.fetched_at < stored.fetched_at:
        return None  # an older fetch arriving late (a retried batch) never overwrites newer content
    changed = incoming.content_hash != stored.content_hash or incoming.title != stored.title
    return incoming.model_copy(
        update={
            "first_seen_at": stored.first_seen_at,
            "version": stored.version + 1 if changed else stored.version,
            "updated_at": incoming.updated_at if changed else stored.updated_at,
        }
    )
