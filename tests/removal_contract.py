"""What `newsingest delete` and retention owe, checked against each mode's adapters (index + story state):
the SQLite file in tests/unit/workers/test_removal_sqlite.py, Elasticsearch + Redis in
tests/integration/test_removal_elastic.py. Each check takes a `Stores` bundle of one fresh installation; CHECKS lists them all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ingest.jobs import ArticleJob, FeedEntry, SourceSnapshot
from workers.batch import store_prepared
from workers.dedupe import content_hash
from workers.documents import Article, document_id
from workers.neardup import signature
from workers.pipeline import Draft
from workers.ports import DeadLetterStore, DocumentSelection, StoryState
from workers.removal import RemovalStores, remove
from workers.retention import expire, retention_selections

MakeArticle = Callable[..., Article]
CORPUS = Path(__file__).resolve().parent / "fixtures" / "corpus" / "truth"
WIRE_TEXT = (CORPUS / "continentalpress-grain-corridor.txt").read_text(encoding="utf-8")
COPY_TEXT = (CORPUS / "harbourtimes-wire-grain-corridor.txt").read_text(encoding="utf-8")
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass
class Stores:
    removal: RemovalStores
    story: StoryState
    dead_letters: DeadLetterStore
    archive: Any = None  # a RawArchive, when the check looks at it

    @property
    def index(self) -> Any:
        return self.removal.index


def _ids(stores: Stores) -> set[str]:
    stores.index.refresh()
    return {a.id for a in stores.index.export(_everything())}


def _everything() -> Any:
    from workers.ports import SearchQuery

    return SearchQuery(collapse=False)


def _store(stores: Stores, articles: list[Article]) -> None:
    outcomes = stores.index.bulk_index(articles)
    assert all(o.result == "indexed" for o in outcomes), outcomes
    stores.index.refresh()


def job_and_draft(url: str, text: str, now: datetime, source: str = "wire") -> tuple[ArticleJob, Draft]:
    """A fetched article as prepare() leaves it: what the stateful half of the pipeline takes."""
    job = ArticleJob(
        url=url, final_url=url, fetched_at=now, status=200, html="",
        source=SourceSnapshot(name=source, kind="rss", url="https://feeds.example/feed.xml"),
        entry=FeedEntry(link=url),
    )
    fields = {
        "url": url, "canonical_url": url, "source": source, "domain": url.split("/")[2],
        "title": f"Grain corridor ({url})", "text": text, "fetched_at": now, "word_count": len(text.split()),
        "reading_time_s": 60, "extraction_path": "test",
    }
    return job, Draft(doc_id=document_id(url), content_hash=content_hash(text), fields=fields, signature=signature(text))


def _ingest(stores: Stores, url: str, text: str, now: datetime, source: str = "wire") -> Any:
    """One article through the stateful half of the pipeline (story state, tombstones, index)."""
    report = store_prepared([job_and_draft(url, text, now, source)], stores.story, stores.index, stores.dead_letters,
                            now=now)
    stores.index.refresh()
    return report


# -- delete ------------------------------------------------------------------------------------------


def check_delete_by_url_matches_the_cleaned_url(stores: Stores, make_article: MakeArticle) -> None:
    doomed = make_article(canonical_url="https://news.example/politics/takedown")
    kept = [make_article(), make_article()]
    _store(stores, [doomed, *kept])
    from ingest.cli_delete import url_selection

    # Tracking parameters, a fragment and an upper-case host: the URL as a person pastes it.
    report = remove(url_selection("https://NEWS.example/politics/takedown?utm_source=x#top"), stores.removal,
                    tombstone_reason="test")

    assert (report.documents, report.tombstones) == (1, 1)
    assert _ids(stores) == {a.id for a in kept}
    assert stores.index.tombstoned([doomed.id, kept[0].id]) == frozenset({doomed.id})


def check_delete_by_source(stores: Stores, make_article: MakeArticle) -> None:
    doomed = [make_article(source="tabloid"), make_article(source="tabloid")]
    kept = make_article(source="paper")
    _store(stores, [*doomed, kept])

    report = remove(DocumentSelection(source="tabloid"), stores.removal, tombstone_reason="test")

    assert report.documents == 2 and report.per_source == {"tabloid": 2}
    assert _ids(stores) == {kept.id}


def check_delete_by_domain(stores: Stores, make_article: MakeArticle) -> None:
    doomed = make_article(canonical_url="https://gossip.example/a", domain="gossip.example")
    kept = make_article(canonical_url="https://news.example/b", domain="news.example")
    _store(stores, [doomed, kept])
    from ingest.cli_delete import domain_selection

    report = remove(domain_selection("https://www.gossip.example/"), stores.removal, tombstone_reason="test")

    assert report.documents == 1
    assert _ids(stores) == {kept.id}


def check_dry_run_changes_nothing(stores: Stores, make_article: MakeArticle) -> None:
    articles = [make_article(source="tabloid", title=f"Rumour {n}") for n in range(3)]
    _store(stores, articles)

    report = remove(DocumentSelection(source="tabloid"), stores.removal, tombstone_reason="test", dry_run=True)

    assert report.matched == 3 and report.documents == 0 and report.tombstones == 0
    assert {ref.title for ref in report.sample} == {"Rumour 0", "Rumour 1", "Rumour 2"}
    assert _ids(stores) == {a.id for a in articles}
    assert stores.index.tombstoned([a.id for a in articles]) == frozenset()


def check_removal_pages_through_many_documents(stores: Stores, make_article: MakeArticle) -> None:
    articles = [make_article(source="bulk") for _ in range(23)]
    _store(stores, articles)

    report = remove(DocumentSelection(source="bulk"), stores.removal, tombstone_reason="test", page_size=5)

    assert report.documents == 23 and _ids(stores) == set()


# -- stories -----------------------------------------------------------------------------------------


def check_deleting_a_lead_promotes_the_earliest_copy(stores: Stores, make_article: MakeArticle) -> None:
    lead = "https://wire.example/grain"
    _ingest(stores, lead, WIRE_TEXT, T0)
    _ingest(stores, "https://harbour.example/grain", COPY_TEXT, T0 + timedelta(minutes=1), source="harbour")
    _ingest(stores, "https://mirror.example/grain", WIRE_TEXT, T0 + timedelta(minutes=2), source="mirror")
    lead_id, near, exact = (document_id(u) for u in (
        lead, "https://harbour.example/grain", "https://mirror.example/grain"))
    assert stores.index.get(near).cluster_id == lead_id and stores.index.get(exact).duplicate_of == lead_id
    versions = {doc_id: stores.index.get(doc_id).version for doc_id in (near, exact)}

    report = remove(DocumentSelection(urls=(lead,)), stores.removal, tombstone_reason="test")

    assert (report.documents, report.promoted, report.moved) == (1, 1, 1)
    promoted, other = stores.index.get(near), stores.index.get(exact)
    assert (promoted.cluster_id, promoted.duplicate_of) == (near, None)
    assert (other.cluster_id, other.duplicate_of) == (near, near)
    assert {doc_id: stores.index.get(doc_id).version for doc_id in (near, exact)} == versions

    # A new copy of the story (the wire text again, from elsewhere) joins the promoted lead.
    _ingest(stores, "https://late.example/grain", WIRE_TEXT, T0 + timedelta(minutes=3), source="late")
    late = stores.index.get(document_id("https://late.example/grain"))
    assert late.cluster_id == near and late.duplicate_of in (near, exact)
    # And a near copy too.
    _ingest(stores, "https://later.example/grain", COPY_TEXT, T0 + timedelta(minutes=4), source="later")
    assert stores.index.get(document_id("https://later.example/grain")).cluster_id == near


def check_a_tombstoned_article_fetched_again_is_dropped(stores: Stores, make_article: MakeArticle) -> None:
    url = "https://wire.example/grain"
    _ingest(stores, url, WIRE_TEXT, T0)
    remove(DocumentSelection(urls=(url,)), stores.removal, tombstone_reason="test")

    report = _ingest(stores, url, WIRE_TEXT, T0 + timedelta(hours=1))

    assert (report.indexed, report.dead_letters, report.tombstoned) == (0, 0, 1)
    assert stores.index.get(document_id(url)) is None


def check_a_deleted_story_takes_no_new_copies(stores: Stores, make_article: MakeArticle) -> None:
    gone = "https://wire.example/grain"
    _ingest(stores, gone, WIRE_TEXT, T0)
    remove(DocumentSelection(urls=(gone,)), stores.removal, tombstone_reason="test")

    _ingest(stores, "https://harbour.example/grain", COPY_TEXT, T0 + timedelta(minutes=1), source="harbour")
    _ingest(stores, "https://mirror.example/grain", WIRE_TEXT, T0 + timedelta(minutes=2), source="mirror")

    near = stores.index.get(document_id("https://harbour.example/grain"))
    exact = stores.index.get(document_id("https://mirror.example/grain"))
    assert (near.cluster_id, near.duplicate_of) == (near.id, None)  # its own story now
    assert exact.cluster_id == near.id  # and the next copy joins that, not the deleted one


# -- retention ---------------------------------------------------------------------------------------


def check_retention_per_source_and_global_keep(stores: Stores, make_article: MakeArticle) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def aged(source: str, days: float) -> Article:
        seen = now - timedelta(days=days)
        return make_article(source=source, first_seen_at=seen, fetched_at=seen, updated_at=seen)

    short_old, short_new = aged("short", 3), aged("short", 1)  # keep: 2d
    forever_old = aged("forever", 900)  # keep: 0
    other_old, other_new = aged("other", 40), aged("other", 10)  # the global keep: 30d
    gone_source = aged("removed-from-file", 31)  # not configured any more: the global keep
    _store(stores, [short_old, short_new, forever_old, other_old, other_new, gone_source])
    selections = retention_selections(30 * 86_400, {"short": 2 * 86_400, "forever": 0, "other": None}, now)

    dry = expire(selections, stores.removal, dry_run=True)
    assert dry.matched == 3 and _ids(stores) >= {short_old.id, other_old.id, gone_source.id}

    report = expire(selections, stores.removal, page_size=2)

    assert report.documents == 3 and report.tombstones == 0
    assert _ids(stores) == {short_new.id, forever_old.id, other_new.id}
    assert stores.index.tombstoned([short_old.id]) == frozenset()  # may come back as a new sighting


def check_retention_forgets_archived_pages(stores: Stores, make_article: MakeArticle) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    seen = now - timedelta(days=100)
    old, new = make_article(first_seen_at=seen, fetched_at=seen, updated_at=seen), make_article()
    _store(stores, [old, new])
    for article in (old, new):
        job = ArticleJob(url=article.url, final_url=article.url, fetched_at=article.fetched_at, status=200,
                         html=f"<p>{article.id}</p>", source=SourceSnapshot(name=article.source, kind="rss",
                         url="https://feeds.example/feed.xml"))
        stores.archive.put([(article.id, job)])

    report = expire(retention_selections(30 * 86_400, {}, now), stores.removal)

    assert (report.documents, report.archive_pages) == (1, 1)
    assert set(stores.archive.latest([old.id, new.id])) == {new.id}


CHECKS: tuple[Callable[[Stores, MakeArticle], None], ...] = (
    check_delete_by_url_matches_the_cleaned_url,
    check_delete_by_source,
    check_delete_by_domain,
    check_dry_run_changes_nothing,
    check_removal_pages_through_many_documents,
    check_deleting_a_lead_promotes_the_earliest_copy,
    check_a_tombstoned_article_fetched_again_is_dropped,
    check_a_deleted_story_takes_no_new_copies,
    check_retention_per_source_and_global_keep,
    check_retention_forgets_archived_pages,
)


def check_name(check: Callable[..., None]) -> str:
    return check.__name__.removeprefix("check_")


@pytest.mark.parametrize("check", CHECKS, ids=check_name)
def test_removal_contract(check: Callable[[Stores, MakeArticle], None], stores: Stores, make_article: MakeArticle) -> None:
    """Collected where it is imported, with that module's `stores` fixture (one per mode)."""
    check(stores, make_article)
