"""People and organisations (workers.people) through prepare(): on only when asked, English only, optional."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from ingest.jobs import ArticleJob
from workers import people
from workers.pipeline import prepare

ROOT = Path(__file__).resolve().parents[3]
WORLDWIRE_PAGE = "seeds/pages/worldwire/2016/08/putin-erdogan-repair-ties.html"
WORLDWIRE_URL = "https://www.worldwire.example/2016/08/putin-erdogan-repair-ties"
GERMAN_PAGE = "seeds/pages/worldwire/2016/08/hafenstreik-legt-containerterminal-lahm.html"
GERMAN_URL = "https://www.worldwire.example/2016/08/hafenstreik-legt-containerterminal-lahm"
PEOPLE_AND_ORGS = {"Vladimir Putin", "Putin", "Recep Tayyip Erdogan", "Erdogan", "Anadolu Agency",
                   "North Atlantic Treaty Organisation"}


def job_for(page: str, url: str, language: str) -> ArticleJob:
    fields: dict[str, Any] = {
        "url": url,
        "final_url": url,
        "fetched_at": datetime(2016, 8, 10, 12, 0, tzinfo=UTC),
        "status": 200,
        "headers": {"content_type": "text/html; charset=utf-8"},
        "html": (ROOT / page).read_text(encoding="utf-8"),
        "source": {"name": "worldwire", "kind": "rss", "url": "https://www.worldwire.example/feeds/top.xml",
                   "language": language},
        "discovered_via": "feed",
    }
    return ArticleJob.model_validate(fields)


@pytest.fixture
def without_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process as if the `ner` extra were not installed (an import of the package fails)."""
    people._model.cache_clear()
    monkeypatch.setitem(sys.modules, people.MODEL_PACKAGE, None)
    yield
    people._model.cache_clear()


def test_seed_article_names_its_people_and_organisations_when_enabled() -> None:
    entities = set(prepare(job_for(WORLDWIRE_PAGE, WORLDWIRE_URL, "en"), people_and_orgs=True).fields["entities"])

    assert entities & {"Vladimir Putin", "Putin"}
    assert entities & {"Recep Tayyip Erdogan", "Erdogan"}
    assert entities & {"Anadolu Agency", "North Atlantic Treaty Organisation"}


def test_places_stay_beside_people_and_organisations() -> None:
    entities = prepare(job_for(WORLDWIRE_PAGE, WORLDWIRE_URL, "en"), people_and_orgs=True).fields["entities"]

    assert {"Russia", "Turkey"} <= set(entities)


def test_seed_article_has_no_people_or_organisations_by_default() -> None:
    entities = set(prepare(job_for(WORLDWIRE_PAGE, WORLDWIRE_URL, "en")).fields["entities"])

    assert not entities & PEOPLE_AND_ORGS


def test_non_english_article_gets_no_people_or_organisations() -> None:
    job = job_for(GERMAN_PAGE, GERMAN_URL, "de")

    enabled = prepare(job, people_and_orgs=True).fields["entities"]

    assert enabled == prepare(job).fields["entities"]


def test_names_are_normalized_and_deduplicated() -> None:
    text = (
        "Erdogan's   aides met  Anadolu\nAgency staff. Later, Erdogan spoke to the Anadolu Agency "
        "and to Maria Lindqvist of the North Atlantic Treaty Organisation."
    )

    names = people.find_people_and_orgs(text, "en")

    assert len(names) == len(set(names))
    assert "Erdogan" in names and "Anadolu Agency" in names
    assert not [name for name in names if "'s" in name or "  " in name or "\n" in name or name.startswith("The ")]


@pytest.mark.usefixtures("without_model")
def test_missing_model_turns_the_feature_off_with_one_log_line() -> None:
    job = job_for(WORLDWIRE_PAGE, WORLDWIRE_URL, "en")

    with capture_logs() as events:
        first = prepare(job, people_and_orgs=True)
        second = prepare(job, people_and_orgs=True)

    assert first.fields["entities"] == second.fields["entities"] == prepare(job).fields["entities"]
    assert [e["event"] for e in events].count("people_and_orgs_model_missing") == 1
