"""Hypothesis properties beside the feed fuzz target: structured feeds with any field values.

The fuzzer mutates bytes; these build well-formed RSS, JSON Feed and sitemap documents whose fields
hold anything, so the per-entry code is reached on every example. One odd entry never makes the
whole feed unreadable: the feed parses (the entry skipped or its field left out) or a FeedParseError
names the feed.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz.oracles import FEED_KINDS, FEED_URL, check_feed
from ingest.charsets import decode_body
from ingest.feeds import parse_feed

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_ITEM_KEYS = st.sampled_from(
    ["id", "url", "external_url", "title", "summary", "content_html", "content_text", "image", "banner_image",
     "date_published", "date_modified", "authors", "author", "tags"]
)
_XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)  # what XML 1.0 text may hold
_URLISH = st.sampled_from(["https://harbour.example/a", "/relative/b", "http://[broken", "", " ", "mailto:x@y"]) | _XML_TEXT


def _kind_byte(kind: str) -> bytes:
    return bytes([FEED_KINDS.index((kind, None))])


@settings(max_examples=200, deadline=None)
@given(items=st.lists(st.dictionaries(_ITEM_KEYS, _JSON_VALUES | _URLISH, max_size=6), max_size=4))
def test_a_json_feed_item_of_any_shape_never_breaks_the_feed(items: list[dict[str, object]]) -> None:
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Harbour", "items": items}).encode()

    check_feed(_kind_byte("jsonfeed") + body)
    feed = parse_feed(body, FEED_URL, "jsonfeed")  # a JSON object with an items list is always a feed
    assert len(feed.entries) <= len(items)


@settings(max_examples=150, deadline=None)
@given(link=_URLISH, date=_XML_TEXT | st.sampled_from(["Fri, 31 Dec 9999 23:59:59 -1200", "2026-02-30", "0"]))
def test_an_rss_item_with_any_link_or_date_leaves_the_others_readable(link: str, date: str) -> None:
    body = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Harbour</title>"
        f"<item><title>Odd</title><link>{escape(link)}</link><pubDate>{escape(date)}</pubDate></item>"
        "<item><title>Ferry</title><link>https://harbour.example/ferry</link></item>"
        "</channel></rss>"
    ).encode()

    check_feed(_kind_byte("rss") + body)
    feed = parse_feed(body, FEED_URL, "rss")
    assert "https://harbour.example/ferry" in [entry.link for entry in feed.entries]


@settings(max_examples=150, deadline=None)
@given(loc=_URLISH, lastmod=_XML_TEXT)
def test_a_sitemap_url_with_any_loc_or_lastmod_leaves_the_others_readable(loc: str, lastmod: str) -> None:
    body = (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{escape(loc)}</loc><lastmod>{escape(lastmod)}</lastmod></url>"
        "<url><loc>https://harbour.example/ferry</loc></url></urlset>"
    ).encode()

    check_feed(_kind_byte("sitemap") + body)
    feed = parse_feed(body, FEED_URL, "sitemap")
    assert "https://harbour.example/ferry" in [entry.link for entry in feed.entries]


@settings(max_examples=150, deadline=None)
@given(label=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="\"'>"), max_size=20))
def test_a_page_declaring_any_charset_label_decodes(label: str) -> None:
    body = f"<meta charset={label}><p>Harbour news</p>".encode()

    decoded = decode_body(body)

    assert decoded.text == body.decode(decoded.charset, errors="replace")  # the charset it names is the one it used
