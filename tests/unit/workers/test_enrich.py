"""enrich(): language, word count, reading time, keywords, places and the lead summary of a clean text."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.enrich import KEYWORD_COUNT, enrich, lead_summary

ROOT = Path(__file__).resolve().parents[3]
TRUTH = (ROOT / "seeds/truth/putin-erdogan.txt").read_text(encoding="utf-8")
GERMAN = (
    "Ein Streik der Hafenarbeiter hat am Montag den Containerumschlag im Hafen von Nordmünde weitgehend "
    "zum Erliegen gebracht. Nach Angaben der Betreibergesellschaft wurden an den beiden großen Terminals "
    "nur noch einzelne Schiffe abgefertigt, mehr als ein Dutzend Frachter warteten auf der Reede."
)


def test_language_of_a_long_text_is_detected_over_the_hints() -> None:
    assert enrich(GERMAN, "en", "en").language == "de"


def test_short_text_takes_the_page_language_before_the_source_hint() -> None:
    assert enrich("Hafen zu.", "en", "de").language == "de"


def test_short_text_takes_the_source_hint_when_the_page_declares_none() -> None:
    assert enrich("Hafen zu.", "de", None).language == "de"


def test_short_text_without_hints_and_an_unsure_guess_has_no_language() -> None:
    assert enrich("Hello there", None, None).language is None


def test_word_count_counts_whitespace_separated_words() -> None:
    assert enrich(TRUTH, None, "en").word_count == 424


@pytest.mark.parametrize(("words", "seconds"), [(0, 0), (230, 60), (231, 61), (424, 111)])
def test_reading_time_is_230_words_a_minute_rounded_up(words: int, seconds: int) -> None:
    assert enrich(" ".join(["word"] * words), None, "en").reading_time_s == seconds


def test_keywords_are_frequent_content_words_without_stopwords() -> None:
    keywords = enrich(TRUTH, None, "en").keywords

    assert len(keywords) == KEYWORD_COUNT
    assert {"Turkey", "Erdogan", "Putin"} <= set(keywords)
    assert not {"the", "and", "said", "would"} & {k.casefold() for k in keywords}


def test_keywords_keep_the_usual_spelling_of_a_word() -> None:
    assert enrich("Erdogan spoke. erdogan left. Erdogan returned.", None, "en").keywords[0] == "Erdogan"


def test_keyword_ties_go_to_the_word_that_comes_first() -> None:
    assert enrich("Harbour ferry. Ferry harbour.", None, "en").keywords == ("Harbour", "ferry")


def test_possessive_counts_as_the_word() -> None:
    assert enrich("Erdogan’s trip. Erdogan's visit. Erdogan spoke.", None, "en").keywords[0] == "Erdogan"


def test_language_without_a_stop_list_still_has_keywords() -> None:
    assert enrich("Tallinn sadam Tallinn sadam Tallinn", None, "zz").keywords == ("Tallinn", "sadam")


def test_entities_are_the_places_the_text_names() -> None:
    entities = enrich(TRUTH, None, "en").entities

    assert {"Russia", "Turkey", "Syria", "Moscow"} <= set(entities)


def test_country_aliases_are_one_entity() -> None:
    text = "Officials of the Russian Federation met envoys of Türkiye. Russia and Turkey agreed to meet again."

    assert enrich(text, None, "en").entities == ("Russia", "Turkey")


def test_country_names_in_the_text_language_are_recognized() -> None:
    entities = enrich("Die Türkei und Russland verhandeln in Istanbul über Getreide aus der Ukraine.", None, "de").entities

    assert entities == ("Turkey", "Russia", "Istanbul", "Ukraine")


def test_a_lowercase_common_word_is_no_place() -> None:
    assert enrich("We ate roast turkey and chatted about china plates and a jersey.", None, "en").entities == ()


def test_a_foreign_country_name_that_is_an_english_word_is_no_place_in_english() -> None:
    assert enrich("Island councillors met on Tuesday evening to discuss the ferry.", None, "en").entities == ()


def test_lead_summary_is_the_first_whole_sentences() -> None:
    text = "First sentence here. Second one follows.\n\nAnother paragraph."

    assert lead_summary(text) == "First sentence here. Second one follows."


def test_lead_summary_stops_before_the_limit_but_keeps_one_sentence() -> None:
    text = ("A long first sentence with many words in it. " * 3) + "Last."

    assert lead_summary(text, max_chars=50) == "A long first sentence with many words in it."
