"""extract(): pages from files in, text and metadata (or the reason there is none) out."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import trafilatura

from ingest.jobs import FeedEntry
from workers.errors import NotAnArticle, UnsupportedContent
from workers.extract import (
    MAX_TREE_DEPTH,
    MAX_TREE_ELEMENTS,
    check_content_type,
    extract,
    fragment_text,
)

ROOT = Path(__file__).resolve().parents[3]
SEED_URL = "https://www.worldwire.example/2016/08/putin-erdogan-repair-ties"
COURIER_URL = "https://www.harbourcourier.example/local/2016/08/lighthouse-restoration-funding"
TRUTH_PARAGRAPHS = [
    p.strip() for p in (ROOT / "seeds/truth/putin-erdogan.txt").read_text(encoding="utf-8").split("\n\n") if p.strip()
]
FEED_CONTENT = (
    "<p>The old lighthouse on Gull Point will be repaired after the national heritage body agreed to pay "
    "most of the cost, the harbour board said on Tuesday.</p>"
    "<p>Work on the tower, which has been closed to visitors since a storm damaged its lantern room two "
    "winters ago, is due to start in the spring.</p>"
)


def _seed(path: str) -> str:
    return (ROOT / "seeds/pages" / path).read_text(encoding="utf-8")


def _fixture(name: str) -> str:
    return (ROOT / "tests/fixtures/pages" / name).read_text(encoding="utf-8")


def _entry(**fields: object) -> FeedEntry:
    return FeedEntry.model_validate({"link": COURIER_URL, **fields})


def test_seed_page_text_holds_every_paragraph_of_the_story() -> None:
    extracted = extract(_seed("worldwire/2016/08/putin-erdogan-repair-ties.html"), SEED_URL, None)

    assert extracted.extraction_path == "trafilatura"
    for paragraph in TRUTH_PARAGRAPHS:
        assert paragraph in extracted.text


def test_seed_page_leaves_navigation_footer_and_cookie_banner_out() -> None:
    text = extract(_seed("worldwire/2016/08/putin-erdogan-repair-ties.html"), SEED_URL, None).text

    for outside in ("Skip to main content", "We use cookies", "Most read", "Morning Wire", "All rights reserved"):
        assert outside not in text


def test_seed_page_metadata() -> None:
    extracted = extract(_seed("worldwire/2016/08/putin-erdogan-repair-ties.html"), SEED_URL, None)

    assert extracted.title == "Putin and Erdogan move towards repairing ties amid tension with West"
    assert extracted.authors == ("Marta Lindqvist",)
    assert extracted.date == datetime(2016, 8, 10, 9, 15, tzinfo=timezone.utc)
    assert extracted.site_name == "WorldWire"
    assert extracted.canonical_claim == SEED_URL
    assert extracted.image == "https://static.worldwire.example/media/2016/08/putin-erdogan-st-petersburg-1200x675.jpg"
    assert extracted.categories == ("World",)
    assert extracted.description is not None and extracted.description.startswith("Russian and Turkish leaders")


def test_html_lang_with_a_region_gives_the_language() -> None:
    html = _seed("dailyledger/world/putin-erdogan-seek-common-ground.html")  # <html lang="en-US">

    assert extract(html, "https://dailyledger.example/world/putin-erdogan-seek-common-ground", None).language == "en"


def test_relative_og_url_claim_is_resolved_against_the_page_url() -> None:
    extracted = extract(_fixture("explainer-in-aside.html"), "https://www.harbourcourier.example/e?x=1", None)

    assert extracted.canonical_claim == "https://www.harbourcourier.example/explainers/island-ferry-timetable"


def test_recall_retry_is_used_when_precision_finds_too_little() -> None:
    extracted = extract(_fixture("explainer-in-aside.html"), COURIER_URL, None)

    assert extracted.extraction_path == "trafilatura-recall"
    assert "Crew rotas are the hardest part." in extracted.text
    assert extracted.title == "Explainer: how the island ferry timetable is decided"


def test_nav_only_page_is_not_an_article_and_says_why() -> None:
    with pytest.raises(NotAnArticle, match=r"^text too short: \d+ chars") as caught:
        extract(_fixture("section-front-nav-only.html"), "https://www.harbourcourier.example/world", None)

    assert caught.value.url == "https://www.harbourcourier.example/world"


def test_empty_page_is_not_an_article() -> None:
    with pytest.raises(NotAnArticle, match="text too short: 0 chars"):
        extract("<!DOCTYPE html><html><head><title>x</title></head><body></body></html>", COURIER_URL, None)


def test_feed_content_stands_in_for_a_paywalled_page() -> None:
    extracted = extract(_fixture("paywalled-teaser.html"), COURIER_URL, _entry(content=FEED_CONTENT))

    assert extracted.extraction_path == "feed-content"
    assert extracted.text.startswith("The old lighthouse on Gull Point will be repaired after")
    assert extracted.title == "Lighthouse restoration wins funding from heritage body"  # the page's metadata stays


def test_feed_summary_is_the_last_resort() -> None:
    extracted = extract(_fixture("paywalled-teaser.html"), COURIER_URL, _entry(summary=FEED_CONTENT))

    assert extracted.extraction_path == "feed-summary"


def test_feed_entry_alone_is_enough_without_a_page() -> None:
    assert extract("", COURIER_URL, _entry(content=FEED_CONTENT)).extraction_path == "feed-content"


def test_too_short_feed_text_is_still_not_an_article() -> None:
    with pytest.raises(NotAnArticle, match="text too short"):
        extract(_fixture("paywalled-teaser.html"), COURIER_URL, _entry(summary="<p>Repairs are planned.</p>"))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("%PDF-1.7\n1 0 obj << /Type /Catalog >>", "PDF"),
        ('{"headline": "Lighthouse restoration wins funding"}', "JSON"),
        ('<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>', "feed"),
        ("GIF89a\x00\x01\x00\x01", "binary"),
        ("Just words and no markup at all, which no page would be.", "no markup"),
    ],
)
def test_body_that_is_not_html_is_unsupported(body: str, reason: str) -> None:
    with pytest.raises(UnsupportedContent, match=reason):
        extract(body, COURIER_URL, None)


@pytest.mark.parametrize("content_type", ["application/pdf", "image/jpeg", "application/json", "video/mp4"])
def test_content_type_that_is_not_a_page_is_unsupported(content_type: str) -> None:
    with pytest.raises(UnsupportedContent, match=f"content type {content_type}"):
        check_content_type(content_type, COURIER_URL)


@pytest.mark.parametrize("content_type", ["text/html; charset=UTF-8", "application/xhtml+xml", None, "text/plain"])
def test_content_type_that_may_be_a_page_is_accepted(content_type: str | None) -> None:
    check_content_type(content_type, COURIER_URL)


def test_page_nested_too_deep_is_rejected_with_its_depth() -> None:
    depth = MAX_TREE_DEPTH + 20
    html = f"<html><body>{'<div>' * depth}<p>{'A sentence of the story. ' * 20}</p>{'</div>' * depth}</body></html>"

    with pytest.raises(UnsupportedContent, match=r"nested too deep to extract: \d+ levels"):
        extract(html, COURIER_URL, None)


def test_page_with_too_many_elements_is_rejected_before_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("trafilatura ran on an oversized page")

    monkeypatch.setattr(trafilatura, "bare_extraction", must_not_run)
    html = "<html><body>" + "<p>x</p>" * MAX_TREE_ELEMENTS + "</body></html>"

    with pytest.raises(UnsupportedContent, match="page too large to extract"):
        extract(html, COURIER_URL, None)


def test_extractor_crash_becomes_unsupported_content_with_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    crash = RuntimeError("lxml went sideways")

    def crashing(*args: object, **kwargs: object) -> None:
        raise crash

    monkeypatch.setattr(trafilatura, "bare_extraction", crashing)

    with pytest.raises(UnsupportedContent, match="extractor failed: RuntimeError") as caught:
        extract(_seed("worldwire/2016/08/putin-erdogan-repair-ties.html"), SEED_URL, None)

    assert caught.value.__cause__ is crash


def test_fragment_text_puts_each_block_on_its_own_line_and_drops_scripts() -> None:
    fragment = (
        "<div>Intro<p>First <b>para</b>.</p></div><script>track()</script>"
        "<ul><li>one</li><li>two</li></ul>tail<br>end"
    )

    assert fragment_text(fragment) == "Intro\nFirst para.\none\ntwo\ntail\nend"


def test_fragment_text_keeps_plain_text() -> None:
    assert fragment_text("  Plain summary, no markup.  ") == "Plain summary, no markup."
