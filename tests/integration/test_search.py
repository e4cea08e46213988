"""The search, stats and export behaviour people rely on, run against BOTH index backends.

Each test runs once on SQLite FTS5 and once on a real Elasticsearch, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workers.documents import Article
from workers.index.elastic import ElasticIndex
from workers.index.sqlite import SqliteIndex, open_database
from workers.ports import HIGHLIGHT_START, SearchQuery

pytestmark = pytest.mark.integration

MakeArticle = Callable[..., Article]
NOON = datetime(2026, 11, 25, 12, tzinfo=UTC)


@dataclass
class Backend:
    index: ElasticIndex | SqliteIndex

    def add(self, *articles: Article) -> None:
        assert {o.result for o in self.index.bulk_index(list(articles))} <= {"indexed", "skipped"}
        self.index.refresh()

    def ids(self, text: str = "", **options: Any) -> list[str]:
        return [hit.article.id for hit in self.index.search(SearchQuery(text, **options))]


@pytest.fixture(params=["sqlite", "elasticsearch"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        conn = open_database(tmp_path / "newsingest.sqlite3")
        yield Backend(SqliteIndex(conn))
        conn.close()
        return
    index = ElasticIndex(request.getfixturevalue("elasticsearch_url"), request.getfixturevalue("es_alias"))
    index.ensure_ready()
    yield Backend(index)
    index.close()


# -- matching and ranking


def test_every_word_must_match(backend: Backend, make_article: MakeArticle) -> None:
    both, one = make_article(title="Erdogan meets Putin"), make_article(title="Erdogan visits Berlin")
    backend.add(both, one)
    assert backend.ids("erdogan putin") == [both.id]


def test_title_match_ranks_above_body_match(backend: Backend, make_article: MakeArticle) -> None:
    in_body = make_article(title="Markets today", text="Traders watched the volcano news closely all day.")
    in_title = make_article(title="Volcano erupts near the coast", text="Traders watched closely all day.")
    filler = [make_article(title=f"Council meeting {n}", text="Budget talks went on.") for n in range(4)]
    backend.add(in_body, in_title, *filler)
    assert backend.ids("volcano") == [in_title.id, in_body.id]


def test_newest_sort_orders_matches_by_publication(backend: Backend, make_article: MakeArticle) -> None:
    old = make_article(title="Volcano erupts", published_at=NOON - timedelta(days=3))
    new = make_article(text="A volcano was mentioned in passing.", published_at=NOON)
    backend.add(old, new)
    assert backend.ids("volcano", sort="newest") == [new.id, old.id]


def test_blank_query_lists_newest_first(backend: Backend, make_article: MakeArticle) -> None:
    old, new, undated = (make_article(published_at=p) for p in (NOON - timedelta(days=2), NOON, None))
    backend.add(old, undated, new)
    assert backend.ids(" ") == [new.id, old.id, undated.id]


def test_limit_caps_the_hits(backend: Backend, make_article: MakeArticle) -> None:
    backend.add(*(make_article(title=f"Volcano report {n}") for n in range(5)))
    assert len(backend.ids("volcano", limit=3)) == 3


@pytest.mark.parametrize("text", ['Erdogan "Putin', "AND OR (", "title:story", "story*", "-story", "\x00", "/"])
def test_query_syntax_is_plain_text(backend: Backend, make_article: MakeArticle, text: str) -> None:
    backend.add(make_article())
    backend.ids(text)  # must not raise


# -- filters


@pytest.mark.parametrize(
    ("option", "field", "wanted", "other", "asked"),
    [
        ("source", "source", "worldwire", "dailyledger", "WorldWire"),
        ("domain", "domain", "worldwire.example", "ledger.example", "worldwire.example"),
        ("language", "language", "fr", "en", "fr"),
        ("tag", "tags", ("world", "politics"), ("local",), "politics"),
        ("entity", "entities", ("Vladimir Putin",), ("Angela Merkel",), "vladimir putin"),
    ],
)
def test_filter_keeps_only_matching_documents(
    backend: Backend, make_article: MakeArticle, option: str, field: str, wanted: Any, other: Any, asked: str
) -> None:
    match = make_article(title="Summit talks", **{field: wanted})
    backend.add(match, make_article(title="Summit talks", **{field: other}))
    assert backend.ids("summit", **{option: asked}) == [match.id]


def test_since_and_until_bound_the_publication_date(backend: Backend, make_article: MakeArticle) -> None:
    inside = make_article(title="Summit", published_at=NOON - timedelta(days=1))
    before = make_article(title="Summit", published_at=NOON - timedelta(days=10))
    after = make_article(title="Summit", published_at=NOON + timedelta(days=1))
    backend.add(inside, before, after)
    assert backend.ids("summit", since=NOON - timedelta(days=2), until=NOON) == [inside.id]


# -- stories and snippets


def test_collapse_shows_one_hit_per_story_with_its_copies_counted(backend: Backend, make_article: MakeArticle) -> None:
    original = make_article(title="Volcano erupts", text="Lava reached the coast.")
    copies = [make_article(title="Volcano erupts", cluster_id=original.id, duplicate_of=original.id) for _ in range(2)]
    other = make_article(title="Volcano museum opens")
    backend.add(original, *copies, other)
    hits = {hit.article.id: hit.copies for hit in backend.index.search(SearchQuery("volcano"))}
    assert hits == {original.id: 3, other.id: 1}


def test_all_copies_shows_every_copy(backend: Backend, make_article: MakeArticle) -> None:
    original = make_article(title="Volcano erupts")
    copy = make_article(title="Volcano erupts", cluster_id=original.id, duplicate_of=original.id)
    backend.add(original, copy)
    assert sorted(backend.ids("volcano", collapse=False)) == sorted([original.id, copy.id])


def test_story_filter_lists_the_copies_of_one_story_only(backend: Backend, make_article: MakeArticle) -> None:
    original = make_article(title="Volcano erupts")
    copy = make_article(title="Volcano erupts again", cluster_id=original.id, duplicate_of=original.id)
    other = make_article(title="Volcano erupts elsewhere")
    backend.add(original, copy, other)
    assert sorted(backend.ids(story=original.id, collapse=False)) == sorted([original.id, copy.id])
    assert backend.ids("again", story=original.id, collapse=False) == [copy.id]  # words and story together
    assert backend.ids(story="0" * 32) == []


def test_daily_per_source_counts_first_seen_days_from_since(backend: Backend, make_article: MakeArticle) -> None:
    day = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)

    def seen(source: str, moment: datetime, published: datetime | None = None) -> Article:
        return make_article(source=source, first_seen_at=moment, fetched_at=moment, updated_at=moment,
                            published_at=published)

    backend.add(
        seen("wire", day), seen("wire", day, published=day - timedelta(days=400)),  # counted when first seen
        seen("wire", day + timedelta(hours=1)),  # the next UTC day
        seen("gazette", day - timedelta(days=1)),  # before `since`: left out
        seen("gazette", day + timedelta(days=2)),
    )
    since = datetime(2026, 11, 20, tzinfo=UTC)
    assert backend.index.daily_per_source(since) == {
        "wire": (("2026-11-20", 2), ("2026-11-21", 1)),
        "gazette": (("2026-11-22", 1),),
    }


def test_snippet_highlights_the_matched_word(backend: Backend, make_article: MakeArticle) -> None:
    backend.add(make_article(text="Early on Tuesday the old volcano woke up and the town watched it."))
    (hit,) = backend.index.search(SearchQuery("volcano"))
    assert hit.snippet is not None and f"{HIGHLIGHT_START}volcano" in hit.snippet


def test_snippet_without_words_is_the_opening_of_the_text(backend: Backend, make_article: MakeArticle) -> None:
    backend.add(make_article(text="Early on Tuesday the old volcano woke up."))
    (hit,) = backend.index.search(SearchQuery(""))
    assert hit.snippet is not None and hit.snippet.startswith("Early on Tuesday")


# -- revisions: the same URL published again


def test_changed_text_updates_the_document_and_bumps_its_version(backend: Backend, make_article: MakeArticle) -> None:
    first = make_article(text="The bridge will open in May.")
    later = first.model_copy(
        update={
            "text": "The bridge will open in June.",
            "content_hash": "changed",
            "fetched_at": first.fetched_at + timedelta(hours=2),
            "first_seen_at": first.first_seen_at + timedelta(hours=2),
            "updated_at": first.updated_at + timedelta(hours=2),
        }
    )
    backend.add(first)
    backend.add(later)
    stored = backend.index.get(first.id)
    assert stored is not None
    assert (stored.text, stored.version, stored.first_seen_at, stored.updated_at) == (
        later.text, 2, first.first_seen_at, later.updated_at
    )
    assert backend.index.count() == 1


def test_the_same_content_again_keeps_the_version(backend: Backend, make_article: MakeArticle) -> None:
    first = make_article()
    backend.add(first)
    backend.add(first.model_copy(update={"fetched_at": first.fetched_at + timedelta(hours=1)}))
    stored = backend.index.get(first.id)
    assert stored is not None and stored.version == 1


def test_an_older_fetch_never_overwrites_a_newer_one(backend: Backend, make_article: MakeArticle) -> None:
    newer = make_article(text="Final score: 3-2.", content_hash="new")
    older = newer.model_copy(
        update={"text": "Half time: 1-1.", "content_hash": "old", "fetched_at": newer.fetched_at - timedelta(hours=1)}
    )
    backend.add(newer)
    outcomes = backend.index.bulk_index([older])
    stored = backend.index.get(newer.id)
    assert [o.result for o in outcomes] == ["skipped"]
    assert stored is not None and stored.text == newer.text


# -- stats


def test_stats_count_documents_per_source_and_language(backend: Backend, make_article: MakeArticle) -> None:
    backend.add(
        make_article(source="bbc", language="en"),
        make_article(source="bbc", language="en"),
        make_article(source="lemonde", language="fr"),
    )
    stats = backend.index.stats(SearchQuery())
    assert (stats.documents, stats.per_source, stats.per_language) == (
        3, (("bbc", 2), ("lemonde", 1)), (("en", 2), ("fr", 1))
    )


def test_stats_per_day_include_days_without_articles(backend: Backend, make_article: MakeArticle) -> None:
    backend.add(make_article(published_at=NOON - timedelta(days=2)), make_article(published_at=NOON))
    stats = backend.index.stats(SearchQuery())
    assert stats.per_day == (("2026-11-23", 1), ("2026-11-24", 0), ("2026-11-25", 1))


def test_stats_count_duplicates_and_stories(backend: Backend, make_article: MakeArticle) -> None:
    original = make_article()
    copy = make_article(cluster_id=original.id, duplicate_of=original.id)
    backend.add(original, copy, make_article())
    stats = backend.index.stats(SearchQuery())
    assert (stats.duplicates, stats.stories) == (1, 2)


def test_stats_rank_entities_and_keywords(backend: Backend, make_article: MakeArticle) -> None:
    backend.add(
        make_article(entities=("Ankara", "Moscow"), keywords=("gas",)),
        make_article(entities=("Moscow",), keywords=("gas", "pipeline")),
    )
    stats = backend.index.stats(SearchQuery(), top=1)
    assert (stats.top_entities, stats.top_keywords) == ((("Moscow", 2),), (("gas", 2),))


def test_stats_follow_the_filters(backend: Backend, make_article: MakeArticle) -> None:
    backend.add(make_article(source="bbc"), make_article(source="cnn"))
    assert backend.index.stats(SearchQuery(source="bbc")).documents == 1


# -- export


def test_export_streams_every_matching_document_past_any_page(backend: Backend, make_article: MakeArticle) -> None:
    wanted = [make_article(source="bbc") for _ in range(1_100)]
    backend.add(*wanted, make_article(source="cnn"))
    exported = {article.id for article in backend.index.export(SearchQuery(source="bbc"))}
    assert exported == {article.id for article in wanted}
