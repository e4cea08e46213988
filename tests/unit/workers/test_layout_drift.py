"""Layout drift through the real pipeline on the standalone store (SQLite): the template-change site warns
once per moved figure, a stable site never, and a recovered site clears its warning."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.layout_sites import (
    CHANGING,
    CHANGING_DOMAIN,
    CHANGING_SOURCE,
    SMALL_WINDOWS,
    STABLE,
    STABLE_DOMAIN,
    STABLE_SOURCE,
    TEMPLATE_B_SELECTOR,
    run_through_pipeline,
    site_jobs,
)
from ingest.jobs import ArticleJob
from workers.health_state import SqliteExtractionHealth
from workers.index.sqlite import SqliteDeadLetters, SqliteIndex, open_database
from workers.state_sqlite import SqliteStoryState


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(tmp_path / "newsingest.sqlite3")
    yield connection
    connection.close()


def _run(db: sqlite3.Connection, jobs: list[ArticleJob]) -> list[dict[str, Any]]:
    """The jobs through the pipeline on `db`; the drift log events they caused."""
    with capture_logs() as events:
        run_through_pipeline(
            jobs, SqliteStoryState(db), SqliteIndex(db), SqliteDeadLetters(db), SqliteExtractionHealth(db, SMALL_WINDOWS)
        )
    return [e for e in events if e["event"] in ("layout_drift", "layout_drift_cleared")]


def _changing_site() -> list[ArticleJob]:
    return site_jobs(CHANGING, CHANGING_SOURCE, CHANGING_DOMAIN)


def test_template_change_warns_naming_the_source_and_the_figures_that_moved(db: sqlite3.Connection) -> None:
    events = _run(db, _changing_site())

    warnings = [e for e in events if e["event"] == "layout_drift"]
    assert {e["source"] for e in warnings} == {CHANGING_SOURCE}
    assert "median_words" in {e["metric"] for e in warnings}
    words = next(e for e in warnings if e["metric"] == "median_words")
    assert words["log_level"] == "warning"
    assert words["after"] < words["before"] / 2


def test_template_change_warns_once_per_figure_not_once_per_article(db: sqlite3.Connection) -> None:
    events = _run(db, _changing_site())

    metrics = [e["metric"] for e in events if e["event"] == "layout_drift"]
    assert len(metrics) == len(set(metrics))


def test_more_broken_pages_raise_no_second_warning(db: sqlite3.Connection) -> None:
    _run(db, _changing_site())

    again = site_jobs(CHANGING, CHANGING_SOURCE, CHANGING_DOMAIN, first=13)  # the broken template, re-crawled
    assert _run(db, again) == []


def test_stable_site_with_varied_articles_raises_nothing(db: sqlite3.Connection) -> None:
    assert _run(db, site_jobs(STABLE, STABLE_SOURCE, STABLE_DOMAIN)) == []


def test_healthy_first_half_raises_nothing(db: sqlite3.Connection) -> None:
    assert _run(db, site_jobs(CHANGING, CHANGING_SOURCE, CHANGING_DOMAIN, last=12)) == []


def test_body_selector_recovery_clears_every_warning(db: sqlite3.Connection) -> None:
    raised = {e["metric"] for e in _run(db, _changing_site()) if e["event"] == "layout_drift"}

    fixed = site_jobs(CHANGING, CHANGING_SOURCE, CHANGING_DOMAIN, first=13, body_selector=TEMPLATE_B_SELECTOR)
    events = _run(db, fixed)

    assert {e["metric"] for e in events if e["event"] == "layout_drift_cleared"} == raised
    assert all(e["source"] == CHANGING_SOURCE for e in events)
    assert not [e for e in events if e["event"] == "layout_drift"]


def test_status_shows_the_open_drift_with_its_figures(db: sqlite3.Connection) -> None:
    _run(db, _changing_site())

    health = SqliteExtractionHealth(db, SMALL_WINDOWS).health([CHANGING_SOURCE, STABLE_SOURCE])

    assert list(health) == [CHANGING_SOURCE]  # nothing recorded for the other source
    drifts = {d.metric: d for d in health[CHANGING_SOURCE].drifts}
    assert drifts["median_words"].after < drifts["median_words"].before / 2
    assert health[CHANGING_SOURCE].windows.recent.pages == SMALL_WINDOWS.recent_pages


def test_status_shows_no_drift_once_recovered(db: sqlite3.Connection) -> None:
    _run(db, _changing_site())
    _run(db, site_jobs(CHANGING, CHANGING_SOURCE, CHANGING_DOMAIN, first=13, body_selector=TEMPLATE_B_SELECTOR))

    assert SqliteExtractionHealth(db, SMALL_WINDOWS).health([CHANGING_SOURCE])[CHANGING_SOURCE].drifts == ()
