"""The standalone SQLite adapters: index (FTS5), dead letters and dedupe claims. No sockets."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.index_contract import check_recrawl_keeps_first_seen_at
from workers.documents import Article, DeadLetter
from workers.index.sqlite import (
    SchemaError,
    SqliteDeadLetters,
    SqliteDedupeStore,
    SqliteIndex,
    fts_query,
    open_database,
)
from workers.ports import SearchQuery

MakeArticle = Callable[..., Article]  # the make_article fixture of tests/conftest.py

FILLER = [
    "Council approves the budget for new bus lanes",
    "Local team wins the regional cup after extra time",
    "Weather service warns of frost over the weekend",
    "Library extends opening hours during exam season",
]


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(tmp_path / "newsingest.sqlite3")
    yield connection
    connection.close()


@pytest.fixture
def index(conn: sqlite3.Connection) -> SqliteIndex:
    return SqliteIndex(conn)


@pytest.fixture
def filler(index: SqliteIndex, make_article: MakeArticle) -> None:
    """Unrelated articles, so term statistics (IDF) look like a real index."""
    index.bulk_index([make_article(title=title, text=title + ". More words follow.") for title in FILLER])


def _ids(index: SqliteIndex, text: str, **options: object) -> list[str]:
    return [hit.article.id for hit in index.search(SearchQuery(text, **options))]  # type: ignore[arg-type]


def _unparseable_date(article: Article) -> Article:
    """An article whose published_at no store can accept (validation bypassed on purpose)."""
    return Article.model_construct(**{**dict(article), "published_at": "the day before yesterday"})


def test_open_database_uses_wal(conn: sqlite3.Connection) -> None:
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_opening_twice_keeps_the_documents(tmp_path: Path, make_article: MakeArticle) -> None:
    path = tmp_path / "db.sqlite3"
    first = open_database(path)
    SqliteIndex(first).bulk_index([make_article()])
    first.close()
    second = open_database(path)
    assert SqliteIndex(second).count() == 1
    second.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    open_database(path).execute("UPDATE schema_version SET version = version + 1").connection.close()
    with pytest.raises(SchemaError, match="newer"):
        open_database(path)


def test_a_file_from_before_the_aggregation_columns_gains_them_on_open(
    tmp_path: Path, make_article: MakeArticle
) -> None:
    path = tmp_path / "db.sqlite3"
    conn = open_database(path)
    original = make_article()
    copy = make_article(cluster_id=original.id, duplicate_of=original.id)
    SqliteIndex(conn).bulk_index([original, copy])
    # What a file written by the previous release looks like: no generated columns, the old index.
    conn.executescript(
        """DROP INDEX articles_first_seen; DROP INDEX articles_published_story;
           ALTER TABLE articles DROP COLUMN first_seen_at; ALTER TABLE articles DROP COLUMN duplicate_of;
           CREATE INDEX articles_published ON articles (published_at);"""
    )
    conn.close()

    reopened = open_database(path)
    indexes = {row[0] for row in reopened.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"articles_first_seen", "articles_published_story"} <= indexes and "articles_published" not in indexes
    index = SqliteIndex(reopened)
    stats = index.stats(SearchQuery())
    assert (stats.documents, stats.duplicates, stats.stories) == (2, 1, 1)
    day = original.first_seen_at.date().isoformat()
    assert index.daily_per_source(original.first_seen_at) == {"example": ((day, 2),)}
    reopened.close()
    open_database(path).close()  # a second open finds nothing to do


def test_bulk_index_reports_every_document_indexed(index: SqliteIndex, make_article: MakeArticle) -> None:
    articles = [make_article(), make_article()]
    outcomes = index.bulk_index(articles)
    assert [(o.doc_id, o.result) for o in outcomes] == [(a.id, "indexed") for a in articles]


def test_indexing_the_same_id_twice_keeps_one_document(index: SqliteIndex, make_article: MakeArticle) -> None:
    article = make_article()
    index.bulk_index([article])
    index.bulk_index([article])
    assert index.count() == 1


def test_upsert_replaces_the_stored_document(index: SqliteIndex, make_article: MakeArticle) -> None:
    article = make_article(title="Harbour reopens")
    index.bulk_index([article, article.model_copy(update={"title": "Harbour reopens after storm"})])
    stored = index.get(article.id)
    assert stored is not None and stored.title == "Harbour reopens after storm"


def test_recrawl_keeps_first_seen_at(index: SqliteIndex, make_article: MakeArticle) -> None:
    check_recrawl_keeps_first_seen_at(index, make_article)


def test_upsert_keeps_the_full_text_index_in_step(
    index: SqliteIndex, conn: sqlite3.Connection, make_article: MakeArticle
) -> None:
    article = make_article(title="Harbour reopens", text="Boats are back.")
    index.bulk_index([article])
    index.bulk_index([article.model_copy(update={"title": "Airport closes", "text": "Planes wait."})])
    conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")  # raises if out of step
    assert (_ids(index, "harbour"), _ids(index, "airport")) == ([], [article.id])


def test_get_of_an_unknown_id_is_none(index: SqliteIndex) -> None:
    assert index.get("no-such-id") is None


def test_a_document_that_does_not_fit_is_rejected_alone(index: SqliteIndex, make_article: MakeArticle) -> None:
    good, bad, also_good = make_article(), _unparseable_date(make_article()), make_article()
    outcomes = index.bulk_index([good, bad, also_good])
    assert [o.result for o in outcomes] == ["indexed", "rejected", "indexed"]
    assert outcomes[1].reason and "not a datetime" in outcomes[1].reason
    assert index.count() == 2


def test_title_match_ranks_above_body_match(index: SqliteIndex, make_article: MakeArticle, filler: None) -> None:
    in_body = make_article(title="Markets today", text="Traders watched the volcano news closely all day.")
    in_title = make_article(title="Volcano erupts near the coast", text="Traders watched closely all day.")
    index.bulk_index([in_body, in_title])
    assert _ids(index, "volcano") == [in_title.id, in_body.id]


def test_scores_are_positive_and_descending(index: SqliteIndex, make_article: MakeArticle, filler: None) -> None:
    index.bulk_index([make_article(title="Volcano erupts"), make_article(text="A volcano was mentioned.")])
    scores = [hit.score for hit in index.search(SearchQuery("volcano"))]
    assert len(scores) == 2 and all(score > 0 for score in scores) and scores == sorted(scores, reverse=True)


def test_every_word_of_the_query_must_match(index: SqliteIndex, make_article: MakeArticle) -> None:
    both = make_article(title="Erdogan meets Putin")
    one = make_article(title="Erdogan visits Berlin")
    index.bulk_index([both, one])
    assert _ids(index, "erdogan putin") == [both.id]


def test_words_may_match_in_different_fields(index: SqliteIndex, make_article: MakeArticle) -> None:
    article = make_article(title="Erdogan travels", text="He will meet Putin on Monday.")
    index.bulk_index([article])
    assert _ids(index, "Erdogan Putin") == [article.id]


def test_search_matches_the_summary(index: SqliteIndex, make_article: MakeArticle) -> None:
    article = make_article(summary="A glacier retreated further this year.")
    index.bulk_index([article])
    assert _ids(index, "glacier") == [article.id]


def test_collapse_returns_the_best_hit_per_story(index: SqliteIndex, make_article: MakeArticle) -> None:
    original = make_article(title="Volcano erupts", text="Lava reached the coast.")
    copy = make_article(text="Someone wrote about a volcano.", cluster_id=original.id, duplicate_of=original.id)
    other = make_article(title="Volcano museum opens")
    index.bulk_index([original, copy, other])
    assert sorted(_ids(index, "volcano", collapse=True)) == sorted([original.id, other.id])


def test_without_collapse_every_copy_is_returned(index: SqliteIndex, make_article: MakeArticle) -> None:
    original = make_article(title="Volcano erupts")
    copy = make_article(title="Volcano erupts!", cluster_id=original.id, duplicate_of=original.id)
    index.bulk_index([original, copy])
    assert sorted(_ids(index, "volcano", collapse=False)) == sorted([original.id, copy.id])


def test_search_filters_by_source(index: SqliteIndex, make_article: MakeArticle) -> None:
    wanted = make_article(title="Volcano erupts", source="bbc")
    index.bulk_index([wanted, make_article(title="Volcano erupts", source="cnn")])
    assert _ids(index, "volcano", source="bbc") == [wanted.id]


def test_search_filters_by_language(index: SqliteIndex, make_article: MakeArticle) -> None:
    wanted = make_article(title="Volcan en éruption", language="fr")
    index.bulk_index([wanted, make_article(title="Volcan erupts", language="en")])
    assert _ids(index, "volcan", language="fr") == [wanted.id]


def test_search_respects_the_limit(index: SqliteIndex, make_article: MakeArticle) -> None:
    index.bulk_index([make_article(title=f"Volcano report {n}") for n in range(5)])
    assert len(_ids(index, "volcano", limit=3)) == 3


def test_blank_query_lists_newest_first(index: SqliteIndex, make_article: MakeArticle) -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    old = make_article(published_at=now - timedelta(days=2))
    new = make_article(published_at=now)
    undated = make_article(published_at=None)
    index.bulk_index([old, undated, new])
    assert _ids(index, "  ") == [new.id, old.id, undated.id]


def test_query_without_words_finds_nothing(index: SqliteIndex, make_article: MakeArticle) -> None:
    index.bulk_index([make_article()])
    assert _ids(index, '"( * :') == []


@pytest.mark.parametrize(
    "text", ['Erdogan "Putin', "AND OR (", "NOT", "title:story", "story*", "NEAR(a b)", "-story", "^story", "'"]
)
def test_query_syntax_is_plain_text(index: SqliteIndex, make_article: MakeArticle, text: str) -> None:
    index.bulk_index([make_article()])
    index.search(SearchQuery(text))  # must not raise


def test_operator_words_are_searched_as_words(index: SqliteIndex, make_article: MakeArticle) -> None:
    article = make_article(title="Rock AND roll")
    index.bulk_index([article, make_article(title="Rock concert")])
    assert _ids(index, "rock AND roll") == [article.id]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text())
@example(text='"')
@example(text="\x00")
@example(text="a" * 10_000)
@example(text=" ".join(["word"] * 500))
def test_hostile_query_never_raises(index: SqliteIndex, text: str) -> None:
    # The fixture's index is only read here, so sharing it across examples is safe.
    index.search(SearchQuery(text))


@given(text=st.text())
def test_fts_query_quotes_every_term(text: str) -> None:
    query = fts_query(text)
    assert query is None or all(part.startswith('"') and part.endswith('"') for part in query.split(" "))


def _letter(job_id: str, failed_at: datetime, stage: str = "extract") -> DeadLetter:
    return DeadLetter(
        job_id=job_id,
        url=f"https://news.example/{job_id}",
        source="example",
        stage=stage,  # type: ignore[arg-type]
        error_type="NotAnArticle",
        reason="text too short: 42 chars",
        failed_at=failed_at,
        job={"v": 1, "job_id": job_id},
    )


def test_dead_letters_round_trip(conn: sqlite3.Connection) -> None:
    letter = _letter("job-1", datetime(2026, 11, 25, 10, tzinfo=UTC))
    SqliteDeadLetters(conn).record([letter])
    assert SqliteDeadLetters(conn).recent() == [letter]


def test_recent_dead_letters_come_newest_first(conn: sqlite3.Connection) -> None:
    noon = datetime(2026, 11, 25, 12, tzinfo=UTC)
    letters = [
        _letter("old", noon - timedelta(hours=1)),
        _letter("new", noon),
        _letter("older", noon - timedelta(days=1)),
    ]
    store = SqliteDeadLetters(conn)
    store.record(letters)
    assert [letter.job_id for letter in store.recent(limit=2)] == ["new", "old"]


def test_the_same_failure_recorded_twice_is_kept_once(conn: sqlite3.Connection) -> None:
    letter = _letter("job-1", datetime(2026, 11, 25, 10, tzinfo=UTC))
    store = SqliteDeadLetters(conn)
    store.record([letter])
    store.record([letter.model_copy(update={"failed_at": letter.failed_at + timedelta(minutes=5)})])
    assert len(store.recent()) == 1


def test_first_claim_of_a_hash_wins(conn: sqlite3.Connection) -> None:
    assert SqliteDedupeStore(conn).claim("hash-a", "doc-1") == "doc-1"


def test_later_claims_get_the_first_holder(conn: sqlite3.Connection) -> None:
    store = SqliteDedupeStore(conn)
    store.claim("hash-a", "doc-1")
    assert store.claim("hash-a", "doc-2") == "doc-1"


def test_claims_on_different_hashes_are_independent(conn: sqlite3.Connection) -> None:
    store = SqliteDedupeStore(conn)
    store.claim("hash-a", "doc-1")
    assert store.claim("hash-b", "doc-2") == "doc-2"


def test_claims_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = open_database(path)
    SqliteDedupeStore(first).claim("hash-a", "doc-1")
    first.close()
    second = open_database(path)
    assert SqliteDedupeStore(second).claim("hash-a", "doc-2") == "doc-1"
    second.close()
