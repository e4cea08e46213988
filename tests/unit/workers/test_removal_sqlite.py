"""Deletion, story promotion, tombstones and retention on the standalone SQLite file (tests/removal_contract.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import removal_contract as contract
from tests.removal_contract import test_removal_contract  # noqa: F401 (run here, on this mode's stores)
from tests.conftest import MakeArticle
from workers.index.sqlite import SqliteDeadLetters, SqliteIndex, open_database
from workers.raw_archive import RawArchive
from workers.removal import RemovalStores
from workers.state_sqlite import SqliteStoryState


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[contract.Stores]:
    db = open_database(tmp_path / "newsingest.sqlite3")
    archive = RawArchive(tmp_path / "archive")
    story = SqliteStoryState(db)
    yield contract.Stores(RemovalStores(SqliteIndex(db), story, archive), story, SqliteDeadLetters(db), archive)
    archive.close()
    db.close()


def test_tombstones_survive_reopening_the_file(tmp_path: Path, make_article: MakeArticle) -> None:
    from datetime import UTC, datetime

    from workers.ports import Tombstone

    db = open_database(tmp_path / "newsingest.sqlite3")
    SqliteIndex(db).add_tombstones([Tombstone("abc", "https://news.example/a", datetime.now(UTC))])
    db.close()
    again = open_database(tmp_path / "newsingest.sqlite3")
    try:
        assert SqliteIndex(again).tombstoned(["abc", "def"]) == frozenset({"abc"})
    finally:
        again.close()


def test_a_tombstoned_job_ends_as_done_in_the_ledger(stores: contract.Stores) -> None:
    from workers.ledger_marks import Mark, store_marking
    from workers.ports import DocumentSelection
    from workers.removal import remove

    url = "https://wire.example/grain"
    marked: list[Mark] = []

    class Marks:
        def mark(self, marks: list[Mark]) -> None:
            marked.extend(marks)

    job, draft = contract.job_and_draft(url, contract.WIRE_TEXT, contract.T0)
    store_marking([(job, draft)], dedupe=stores.story, index=stores.index, dead_letters=stores.dead_letters,
                  marks=Marks())
    remove(DocumentSelection(urls=(url,)), stores.removal, tombstone_reason="test")
    again, draft_again = contract.job_and_draft(url, contract.WIRE_TEXT, contract.T0)

    report = store_marking([(again, draft_again)], dedupe=stores.story, index=stores.index,
                           dead_letters=stores.dead_letters, marks=Marks())

    assert report.tombstoned == 1 and report.dead_letters == 0
    assert marked[-1] == (again.job_id, "done", None)
    assert stores.dead_letters.recent() == []
