"""SQLite FTS5: a person's text is never MATCH syntax, and a syntax error would be the asker's one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.documents import Article
from workers.errors import InvalidQuery
from workers.index.sqlite import SqliteIndex, _unavailable_on_sqlite_errors, fts_query, open_database
from workers.ports import SearchQuery


@pytest.fixture
def index(tmp_path: Path, make_article: Callable[..., Article]) -> SqliteIndex:
    backend = SqliteIndex(open_database(tmp_path / "index.sqlite3"))
    backend.ensure_ready()
    backend.bulk_index([make_article(title="Harbour ferry timetable")])
    return backend


def test_an_fts5_syntax_error_is_an_invalid_query_not_an_outage(index: SqliteIndex) -> None:
    # Raw syntax straight into MATCH, which fts_query() never produces.
    with pytest.raises(InvalidQuery, match="plain words"), _unavailable_on_sqlite_errors("search"):
        index._conn.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?", ('NEAR("x',)).fetchall()


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_is_valid_fts5_once_quoted(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    conn = open_database(tmp_path_factory.mktemp("fts") / "index.sqlite3")
    backend = SqliteIndex(conn)
    backend.ensure_ready()
    match = fts_query(text)
    if match is not None:
        conn.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?", (match,)).fetchall()
    backend.search(SearchQuery(text=text))
    conn.close()


@pytest.mark.parametrize("text", ["*ferry", "ferry*", "/ferry/", "ferry~", "ferry)(", '"ferry', "(ferry)", "ferry\x00"])
def test_syntax_around_a_word_leaves_the_word(index: SqliteIndex, text: str) -> None:
    assert [hit.article.title for hit in index.search(SearchQuery(text=text))] == ["Harbour ferry timetable"]
