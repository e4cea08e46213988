"""prepare() applies the source's `reuse_reserved` policy to what the publisher said; batches drop `skip`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from ingest.jobs import ArticleJob
from workers.batch import store_prepared
from workers.errors import ReuseWithheld
from workers.index.sqlite import SqliteIndex, open_database
from workers.pipeline import SNIPPET_MAX_CHARS, finish, prepare
from workers.state_sqlite import SqliteStoryState
from tests.unit.workers.test_pipeline import NOW, WORLDWIRE_PAGE, WORLDWIRE_URL, make_job

RESERVED = {"content_type": "text/html; charset=utf-8", "tdm_reservation": "1"}


def _job(headers: dict[str, Any] | None = None, policy: str | None = None) -> ArticleJob:
    job = make_job(WORLDWIRE_PAGE, WORLDWIRE_URL, headers=headers or {"content_type": "text/html"})
    return job.model_copy(update={"source": job.source.model_copy(update={"reuse_reserved": policy})})


@pytest.fixture
def state() -> Iterator[SqliteStoryState]:
    db = open_database(":memory:")
    yield SqliteStoryState(db)
    db.close()


def test_an_unreserved_page_is_stored_in_full() -> None:
    fields = prepare(_job()).fields
    assert (fields["stored"], fields["tdm_reserved"], fields["robots"]) == ("full", False, ())
    assert fields["text"]


def test_a_reserved_page_keeps_metadata_and_a_snippet_by_default() -> None:
    draft = prepare(_job(RESERVED))
    fields = draft.fields
    assert (fields["stored"], fields["text"], fields["tdm_reserved"], fields["tdm_signal"]) == ("metadata", "", True, "header")
    assert fields["title"] and fields["summary"] and len(fields["summary"]) <= SNIPPET_MAX_CHARS + 1
    assert fields["word_count"] > 100  # what the page held, though the text is not kept


def test_a_metadata_only_copy_is_still_recognised_as_its_story(state: SqliteStoryState) -> None:
    first = finish(prepare(_job()), state, NOW)
    assert finish(prepare(_job(RESERVED)), state, NOW).cluster_id == first.cluster_id


def test_full_policy_keeps_the_text_but_flags_it() -> None:
    fields = prepare(_job({**RESERVED, "x_robots_tag": ["noarchive"]}, policy="full")).fields
    assert (fields["stored"], fields["tdm_reserved"], fields["robots"]) == ("full", True, ("noarchive",))
    assert fields["text"]


def test_skip_policy_withholds_the_page() -> None:
    with pytest.raises(ReuseWithheld, match=r"tdm-reservation \(header\).*policy skip"):
        prepare(_job(RESERVED, policy="skip"))


def test_nosnippet_alone_reserves_nothing() -> None:
    fields = prepare(_job({"content_type": "text/html", "x_robots_tag": ["nosnippet"]}, policy="skip")).fields
    assert (fields["stored"], fields["robots"]) == ("full", ("nosnippet",))


def test_a_withheld_page_is_dropped_without_a_dead_letter(state: SqliteStoryState) -> None:
    job = _job(RESERVED, policy="skip")
    db = open_database(":memory:")
    index = SqliteIndex(db)
    letters: list[Any] = []

    class Letters:
        def record(self, batch: Any) -> None:
            letters.extend(batch)

        def recent(self, limit: int = 50) -> list[Any]:
            return letters

    with capture_logs() as logs:
        report = store_prepared([(job, ReuseWithheld("reserved", job.url))], state, index, Letters(), now=NOW)
    db.close()
    assert (report.indexed, report.dead_letters, letters) == (0, 0, [])
    assert any(e["event"] == "article_withheld" and e["log_level"] == "info" for e in logs)
