"""A source's body selector: it rescues the story where generic extraction takes a teaser list, and never
makes a page fail that would have worked without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.errors import NotAnArticle
from workers.extract import compiled_selector, extract

ROOT = Path(__file__).resolve().parents[3]
SITE = ROOT / "tests/fixtures/sites/template-change/articles"
# The redesigned template: the story in "widget" blocks, teaser cards of other stories below it.
REDESIGNED = (SITE / "16-bus-route-change.html").read_text(encoding="utf-8")
CLASSIC = (SITE / "05-market-hall-sundays.html").read_text(encoding="utf-8")
URL = "https://marrowlake-courier.example/news/bus-route-change"
STORY_SENTENCE = "Bus route 4 will be extended to the new Meadowbank housing estate from January"
TEASER = "Higher energy costs are behind the first price rise at the pool in five years."


def test_without_a_selector_the_redesigned_page_gives_teasers_not_the_story() -> None:
    extracted = extract(REDESIGNED, URL, None)

    assert STORY_SENTENCE not in extracted.text
    assert TEASER in extracted.text


def test_selector_rescues_the_story_from_the_redesigned_page() -> None:
    extracted = extract(REDESIGNED, URL, None, "div.story-widget")

    assert extracted.extraction_path == "body-selector"
    assert extracted.text.startswith(STORY_SENTENCE)
    assert TEASER not in extracted.text
    assert "Meadowbank" in extracted.text and "Continue reading" not in extracted.text


def test_selected_page_keeps_its_metadata() -> None:
    extracted = extract(REDESIGNED, URL, None, "div.story-widget")

    assert extracted.title == "Bus route 4 to serve the new housing estate"


def test_selector_text_has_one_line_per_paragraph() -> None:
    lines = extract(REDESIGNED, URL, None, "div.story-widget").text.splitlines()

    assert len(lines) == 4


def test_generic_extraction_is_kept_where_it_finds_the_story() -> None:
    extracted = extract(CLASSIC, URL, None, "article.story")

    assert extracted.extraction_path == "trafilatura"


@pytest.mark.parametrize("selector", ["div.no-such-block", "div.story-widget >>> p", "[", ""])
def test_selector_that_selects_nothing_leaves_generic_extraction_as_it_was(selector: str) -> None:
    assert extract(REDESIGNED, URL, None, selector) == extract(REDESIGNED, URL, None)


def test_selector_on_a_page_with_no_article_does_not_turn_it_into_one() -> None:
    nav_only = "<html><body><nav class='menu'><a href='/a'>News</a></nav><div class='story-widget'>Hi.</div></body></html>"

    with pytest.raises(NotAnArticle, match="text too short"):
        extract(nav_only, URL, None, "div.story-widget")


def test_scripts_and_forms_inside_the_selection_are_left_out() -> None:
    page = REDESIGNED.replace(
        '<div class="story-widget" data-layout="text">',
        '<div class="story-widget" data-layout="text"><script>var tracking = "load";</script>'
        '<form><button>Sign up for our newsletter</button></form>',
    )

    text = extract(page, URL, None, "div.story-widget").text

    assert "tracking" not in text and "newsletter" not in text


def test_invalid_selector_compiles_to_nothing() -> None:
    assert compiled_selector("div[") is None
