"""The Elasticsearch index over its life: mapping migrations, status, racing writers. Real server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from elasticsearch import Elasticsearch
from structlog.testing import capture_logs

from workers.documents import Article
from workers.errors import IndexMissing, IndexOutdated
from workers.index.elastic import ElasticIndex, _Found
from workers.index.mapping import MAPPING_VERSION, index_name
from workers.index.migrate import migrate

pytestmark = pytest.mark.integration

MakeArticle = Callable[..., Article]


def _old_index(es_client: Elasticsearch, alias: str, articles: list[Article]) -> str:
    """An index as an older newsingest left it: an older mapping version, the alias on it."""
    old = f"{alias}-v0"
    es_client.indices.create(
        index=old,
        mappings={"dynamic": False, "_meta": {"mapping_version": 0}, "properties": {"title": {"type": "text"}}},
        aliases={alias: {"is_write_index": True}},
    )
    for article in articles:
        es_client.index(index=alias, id=article.id, document=article.to_source())
    es_client.indices.refresh(index=alias)
    return old


def test_migrate_moves_the_alias_and_every_document_to_the_current_mapping(
    es_client: Elasticsearch, es_alias: str, make_article: MakeArticle
) -> None:
    articles = [make_article() for _ in range(25)]
    _old_index(es_client, es_alias, articles)
    report = migrate(es_client, es_alias, page_size=10, settle_s=0)
    index = ElasticIndex(es_client, es_alias)
    assert report is not None and report.first_pass.copied == 25
    assert index.status().alias_mapping_version == MAPPING_VERSION
    assert index.count() == 25


def test_writes_during_the_copy_are_not_lost(es_client: Elasticsearch, es_alias: str, make_article: MakeArticle) -> None:
    articles = [make_article() for _ in range(30)]
    _old_index(es_client, es_alias, articles)
    writer = ElasticIndex(es_client, es_alias)
    arriving, changed = make_article(title="Arrived during the copy"), articles[-1]
    updated = changed.model_copy(
        update={"text": "Corrected.", "content_hash": "x", "fetched_at": changed.fetched_at + timedelta(hours=1)}
    )
    after_swap = make_article(title="Arrived after the swap")

    def write(copy_pass: int, page: int) -> None:
        if (copy_pass, page) == (1, 1):  # the alias is still on the old index
            writer.bulk_index([arriving, updated])
        if (copy_pass, page) == (2, 1):  # the alias is on the new one
            writer.bulk_index([after_swap])

    migrate(es_client, es_alias, page_size=10, settle_s=0, after_page=write)
    writer.refresh()
    stored = writer.get(changed.id)
    assert writer.count() == 32
    assert stored is not None and stored.text == "Corrected."


def test_migrate_of_a_current_index_does_nothing(elasticsearch_url: str, es_client: Elasticsearch, es_alias: str) -> None:
    ElasticIndex(es_client, es_alias).ensure_ready()
    assert migrate(es_client, es_alias) is None


def test_an_outdated_index_keeps_taking_writes_and_says_to_migrate(
    es_client: Elasticsearch, es_alias: str, make_article: MakeArticle
) -> None:
    old = _old_index(es_client, es_alias, [])
    index = ElasticIndex(es_client, es_alias)
    with capture_logs() as events:
        index.ensure_ready()
    index.bulk_index([make_article()])
    index.refresh()
    assert any(e["event"] == "elastic_index_needs_migration" for e in events)
    assert es_client.count(index=old)["count"] == 1


def test_reading_an_outdated_index_says_to_migrate(es_client: Elasticsearch, es_alias: str) -> None:
    _old_index(es_client, es_alias, [])
    with pytest.raises(IndexOutdated, match="newsingest index migrate"):
        ElasticIndex(es_client, es_alias).check_readable()


def test_searching_before_anything_was_indexed_says_so(es_client: Elasticsearch, es_alias: str) -> None:
    from workers.ports import SearchQuery

    with pytest.raises(IndexMissing, match="does not exist yet"):
        ElasticIndex(es_client, es_alias).search(SearchQuery("volcano"))


def test_status_lists_indices_with_counts_and_versions(
    es_client: Elasticsearch, es_alias: str, make_article: MakeArticle
) -> None:
    index = ElasticIndex(es_client, es_alias)
    index.ensure_ready()
    index.bulk_index([make_article(), make_article()])
    index.refresh()
    assert index.status().indices == ((index_name(es_alias), MAPPING_VERSION, 2, True),)


class _Interleaved(ElasticIndex):
    """Lets another writer write right after this one has read (a seam, the server is real)."""

    between: Callable[[], None] = staticmethod(lambda: None)

    def _stored(self, ids: list[str]) -> dict[str, _Found]:
        found = super()._stored(ids)
        between, self.between = self.between, lambda: None
        between()
        return found


def test_racing_writers_keep_the_newer_content(es_client: Elasticsearch, es_alias: str, make_article: MakeArticle) -> None:
    first = make_article(text="Draft.", content_hash="a")
    slow, fast = _Interleaved(es_client, es_alias), ElasticIndex(es_client, es_alias)
    slow.ensure_ready()
    slow.bulk_index([first])
    older = first.model_copy(update={"text": "Second.", "content_hash": "b", "fetched_at": first.fetched_at + timedelta(minutes=1)})
    newer = first.model_copy(update={"text": "Third.", "content_hash": "c", "fetched_at": first.fetched_at + timedelta(minutes=2)})
    slow.between = lambda: fast.bulk_index([newer])  # the newer fetch lands between slow's read and write
    outcomes = slow.bulk_index([older])
    stored = slow.get(first.id)
    assert [o.result for o in outcomes] == ["skipped"]
    assert stored is not None and (stored.text, stored.version) == ("Third.", 2)


def test_concurrent_writers_of_one_url_leave_one_document(
    es_client: Elasticsearch, es_alias: str, make_article: MakeArticle
) -> None:
    base = make_article()
    index = ElasticIndex(es_client, es_alias)
    index.ensure_ready()
    revisions = [
        base.model_copy(update={"text": f"Revision {n}.", "content_hash": str(n), "fetched_at": base.fetched_at + timedelta(seconds=n)})
        for n in range(8)
    ]
    threads = [threading.Thread(target=ElasticIndex(es_client, es_alias).bulk_index, args=([r],)) for r in revisions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    index.refresh()
    stored = index.get(base.id)
    assert index.count() == 1 and stored is not None and stored.text == "Revision 7."
