"""The Elasticsearch layout follows the Article model. Pure: no server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import Field, create_model

from workers.documents import Article, DeadLetter
from workers.index import mapping
from workers.index.mapping import (
    MAPPING_VERSION,
    article_mappings,
    article_properties,
    dead_letter_id,
    dead_letter_mappings,
    index_name,
    index_template,
    source_only_fields,
)


def test_every_article_field_is_indexed_or_explicitly_source_only() -> None:
    assert set(article_properties()) | source_only_fields() == set(Article.model_fields)


def test_source_only_fields_are_not_in_the_mapping() -> None:
    assert source_only_fields() and not source_only_fields() & set(article_properties())


def test_field_types_come_from_the_model() -> None:
    properties = article_properties()
    assert (properties["published_at"]["type"], properties["cluster_id"]["type"]) == ("date", "keyword")


def test_title_has_no_index_time_boost() -> None:
    assert "boost" not in article_properties()["title"]


def test_no_field_names_an_analyzer_the_test_server_lacks() -> None:
    # The integ-test server has the standard analyzer only (no analysis-common).
    assert all(spec.get("analyzer", "standard") == "standard" for spec in article_properties().values())


def test_mapping_is_not_dynamic() -> None:
    assert article_mappings()["dynamic"] is False


def test_mapping_version_is_in_meta() -> None:
    assert article_mappings()["_meta"]["mapping_version"] == MAPPING_VERSION


def test_template_matches_the_versioned_indices_of_its_alias() -> None:
    assert index_template("news")["index_patterns"] == ["news-v*"]


def test_concrete_index_name_carries_the_version() -> None:
    assert index_name("news") == f"news-v{MAPPING_VERSION}"


def test_dead_letter_index_is_outside_the_template_pattern() -> None:
    assert not mapping.dead_letter_index_name("news").startswith("news-v")


def test_template_carries_the_article_mapping() -> None:
    assert index_template("news")["template"]["mappings"] == article_mappings()


def test_a_field_without_an_es_entry_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    unmarked = create_model("Unmarked", __base__=Article, extra_field=(str, Field("x")))
    monkeypatch.setattr(mapping, "Article", unmarked)
    with pytest.raises(ValueError, match="extra_field"):
        article_properties()


def test_dead_letter_mapping_is_not_dynamic() -> None:
    assert dead_letter_mappings()["dynamic"] is False


def test_dead_letter_mapping_keeps_the_job_in_source_only() -> None:
    assert "job" not in dead_letter_mappings()["properties"]


def test_dead_letter_id_ignores_the_time_of_failure() -> None:
    letter = DeadLetter(
        job_id="job-1",
        url="https://news.example/a",
        source="example",
        stage="extract",
        error_type="NotAnArticle",
        reason="text too short",
        failed_at=datetime(2026, 11, 25, tzinfo=UTC),
    )
    later = letter.model_copy(update={"failed_at": datetime(2026, 11, 26, tzinfo=UTC)})
    assert dead_letter_id(letter) == dead_letter_id(later)
