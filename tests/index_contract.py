"""Behaviour every IndexBackend adapter owes its callers, checked against each adapter's own suite."""

from __future__ import annotations

from collections.abc import Callable

from workers.documents import Article
from workers.ports import IndexBackend


def check_recrawl_keeps_first_seen_at(index: IndexBackend, make_article: Callable[..., Article]) -> None:
    first = make_article()
    index.bulk_index([first])
    later = first.model_copy(update={"first_seen_at": first.first_seen_at.replace(year=2030), "text": "Updated."})
    index.bulk_index([later])
    stored = index.get(first.id)
    assert stored is not None and stored.text == "Updated."
    assert stored.first_seen_at == first.first_seen_at
