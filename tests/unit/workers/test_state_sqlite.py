"""SqliteStoryState: near-duplicate admission and boilerplate counts in the standalone database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.settings import DedupeSettings
from workers.index.sqlite import open_database
from workers.neardup import signature
from workers.state_sqlite import SqliteStoryState

TRUTH = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "truth"
WIRE = signature((TRUTH / "continentalpress-grain-corridor.txt").read_text(encoding="utf-8"))
COPY = signature((TRUTH / "harbourtimes-wire-grain-corridor.txt").read_text(encoding="utf-8"))
OTHER = signature((TRUTH / "continentalpress-grain-followup.txt").read_text(encoding="utf-8"))
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(tmp_path / "state.sqlite3")
    yield connection
    connection.close()


@pytest.fixture
def state(db: sqlite3.Connection) -> SqliteStoryState:
    return SqliteStoryState(db)


def test_first_article_heads_its_own_story(state: SqliteStoryState) -> None:
    match = state.admit("wire", WIRE, None, NOW)

    assert (match.cluster_id, match.duplicate_of) == ("wire", None)


def test_near_copy_joins_the_earlier_story(state: SqliteStoryState) -> None:
    state.admit("wire", WIRE, None, NOW)

    match = state.admit("copy", COPY, None, NOW)

    assert (match.cluster_id, match.duplicate_of) == ("wire", "wire")
    assert match.similarity is not None and match.similarity >= 0.6


def test_different_story_heads_its_own(state: SqliteStoryState) -> None:
    state.admit("wire", WIRE, None, NOW)

    assert state.admit("follow-up", OTHER, None, NOW).cluster_id == "follow-up"


def test_copy_of_a_copy_joins_the_first_story(state: SqliteStoryState) -> None:
    state.admit("wire", WIRE, None, NOW)
    state.admit("copy", COPY, None, NOW)

    assert state.admit("copy-2", COPY, None, NOW).cluster_id == "wire"


def test_admitting_the_original_again_keeps_it_at_the_head(state: SqliteStoryState) -> None:
    state.admit("wire", WIRE, None, NOW)
    state.admit("copy", COPY, None, NOW)

    again = state.admit("wire", WIRE, None, NOW)

    assert (again.cluster_id, again.duplicate_of) == ("wire", None)


def test_exact_holder_decides_the_story(state: SqliteStoryState) -> None:
    state.admit("wire", WIRE, None, NOW)
    state.admit("copy", COPY, None, NOW)

    match = state.admit("same-text", OTHER, "copy", NOW)

    assert (match.cluster_id, match.duplicate_of) == ("wire", "copy")


def test_original_older_than_the_window_is_forgotten(db: sqlite3.Connection) -> None:
    state = SqliteStoryState(db, DedupeSettings(near_duplicate_window_s=3600))
    state.admit("wire", WIRE, None, NOW)

    match = state.admit("copy", COPY, None, NOW + timedelta(hours=2))

    assert match.cluster_id == "copy"


def test_expired_entries_are_deleted(db: sqlite3.Connection) -> None:
    state = SqliteStoryState(db, DedupeSettings(near_duplicate_window_s=3600))
    state.admit("wire", WIRE, None, NOW)
    state.admit("later", OTHER, None, NOW + timedelta(hours=2))

    assert db.execute("SELECT doc_id FROM neardup_docs").fetchall() == [("later",)]


def test_a_line_becomes_boilerplate_in_its_third_article(state: SqliteStoryState) -> None:
    seen = [state.observe("site.example", f"doc-{n}", {"k1"}, NOW) for n in range(3)]

    assert seen == [frozenset(), frozenset(), frozenset({"k1"})]


def test_the_same_article_counts_once(state: SqliteStoryState) -> None:
    for _ in range(3):
        learned = state.observe("site.example", "doc-1", {"k1"}, NOW)

    assert learned == frozenset()


def test_lines_are_counted_per_site(state: SqliteStoryState) -> None:
    state.observe("one.example", "doc-1", {"k1"}, NOW)
    state.observe("two.example", "doc-2", {"k1"}, NOW)

    assert state.observe("three.example", "doc-3", {"k1"}, NOW) == frozenset()


def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    first = open_database(tmp_path / "s.sqlite3")
    SqliteStoryState(first).admit("wire", WIRE, None, NOW)
    first.close()
    second = open_database(tmp_path / "s.sqlite3")
    try:
        assert SqliteStoryState(second).admit("copy", COPY, None, NOW).cluster_id == "wire"
    finally:
        second.close()
