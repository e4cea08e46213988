"""parse_feed(): every supported format in, FeedEntry list out, hostile bytes refused by name."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import FeedParseError
from ingest.feeds import parse_feed

ROOT = Path(__file__).resolve().parents[3]
FEEDS = ROOT / "tests" / "fixtures" / "feeds"
SEED_FEED = (ROOT / "seeds" / "feed.xml").read_bytes()


def test_rss_links_resolve_against_an_http_feed_url() -> None:
    feed = parse_feed(SEED_FEED, "http://127.0.0.1:8080/feed.xml", "rss")
    assert len(feed.entries) == 7
    assert feed.entries[0].link == "http://127.0.0.1:8080/pages/worldwire/2016/08/putin-erdogan-repair-ties.html"


def test_rss_links_resolve_against_a_file_feed_url() -> None:
    feed = parse_feed(SEED_FEED, "file:///archive/seeds/feed.xml", "rss")
    assert feed.entries[0].link == "file:///archive/seeds/pages/worldwire/2016/08/putin-erdogan-repair-ties.html"


def test_atom_links_follow_xml_base_then_the_feed_url() -> None:
    atom = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/news/"><title>Harbour desk</title>
<entry><title>Ferry timetable</title><link href="2024/ferry.html"/><id>tag:a</id></entry>
<entry xml:base="https://partner.example/wire/"><title>Wire copy</title><link href="tides.html"/><id>tag:b</id></entry>
</feed>"""
    feed = parse_feed(atom, "https://harbour.example/feeds/atom.xml", "rss")
    assert [e.link for e in feed.entries] == [
        "https://harbour.example/news/2024/ferry.html",
        "https://partner.example/wire/tides.html",
    ]


def test_rss_entry_keeps_feed_metadata() -> None:
    entry = parse_feed(SEED_FEED, "http://127.0.0.1/feed.xml", "rss").entries[0]
    assert entry.title and entry.summary and entry.guid
    assert entry.authors == ("Marta Lindqvist",)
    assert entry.categories == ("World",)
    assert entry.published == datetime(2016, 8, 10, 9, 15, tzinfo=UTC)
    assert entry.image and entry.image.startswith("https://")


def test_atom_entry() -> None:
    entry = parse_feed((FEEDS / "atom.xml").read_bytes(), "https://bulletin.riverton.example/atom.xml", "atom").entries[0]
    assert entry.link == "https://bulletin.riverton.example/2016/08/library-hours"
    assert entry.authors == ("Ines Albrecht",)
    assert entry.published == datetime(2016, 8, 12, 7, 30, tzinfo=UTC)
    assert entry.content and "Sundays" in entry.content


def test_json_feed_entries_and_linkless_items_skipped() -> None:
    feed = parse_feed((FEEDS / "feed.json").read_bytes(), "https://harbour.example/feed.json", "jsonfeed")
    assert [e.link for e in feed.entries] == ["https://harbour.example/notes/ferry-timetable"]
    entry = feed.entries[0]
    assert entry.authors == ("Pieter Ruys",) and entry.categories == ("transport",)
    assert entry.published == datetime(2016, 8, 15, 6, 45, tzinfo=UTC)


def test_google_news_sitemap_fields_are_data() -> None:
    entry = parse_feed((FEEDS / "news-sitemap.xml").read_bytes(), "https://www.worldwire.example/sitemap.xml", "sitemap").entries[0]
    assert entry.title == "Riverton council approves tram line"
    assert entry.published == datetime(2016, 8, 11, 7, 30, tzinfo=UTC)
    assert entry.image == "https://static.worldwire.example/tram.jpg"


def test_entity_expansion_is_not_performed() -> None:
    feed = parse_feed((FEEDS / "billion-laughs.xml").read_bytes(), "https://x.example/feed", "rss")
    assert all(len(e.title or "") < 1000 for e in feed.entries)


@pytest.mark.parametrize(
    ("body", "kind", "reason"),
    [
        (b"<html><body><p>Welcome</p></body></html>", "rss", "an HTML page, not a feed"),
        (b"<?xml version='1.0'?><catalog><book/></catalog>", "rss", "not an RSS or Atom feed"),
        (b"", "rss", "empty response"),
        (b"{not json", "jsonfeed", "not a JSON Feed"),
        (b'{"items": 3}', "jsonfeed", "no 'items' list"),
        (b"<rss version='2.0'><channel/></rss>", "sitemap", "expected <urlset> or <sitemapindex>"),
    ],
)
def test_not_a_feed_is_a_named_error(body: bytes, kind: str, reason: str) -> None:
    with pytest.raises(FeedParseError, match=reason) as caught:
        parse_feed(body, "https://x.example/feed", kind)
    assert "https://x.example/feed" in str(caught.value)


def test_bytes_naming_a_local_path_are_never_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(SEED_FEED)
    with pytest.raises(FeedParseError):
        parse_feed(str(secret).encode(), "https://x.example/feed", "rss")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
def test_arbitrary_bytes_parse_or_raise_feed_parse_error(body: bytes) -> None:
    for kind in ("rss", "jsonfeed", "sitemap"):
        try:
            parse_feed(body, "https://x.example/feed", kind)
        except FeedParseError:
            pass


def _secret_file(tmp_path: Path) -> Path:
    """A stand-in for /etc/passwd: a local file whose marker must never appear in parsed output."""
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:SECRET-MARKER-7f3a:/root:/bin/bash\n", encoding="utf-8")
    return secret


@pytest.mark.timeout(10)
def test_an_external_entity_in_a_feed_is_never_read(tmp_path: Path) -> None:
    secret = _secret_file(tmp_path)
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "{secret.as_uri()}">'
        '<!ENTITY y SYSTEM "file:///etc/passwd">]>'
        "<rss version='2.0'><channel><title>&x;</title><item><title>Harbour &x; &y;</title>"
        "<link>https://port.example/news/1</link><description>&y;</description></item></channel></rss>"
    ).encode()
    try:
        feed = parse_feed(body, "https://port.example/feed", "rss")
    except FeedParseError:
        return  # refusing the feed is fine too: what matters is that the file was not read
    dumped = repr(feed)
    assert "SECRET-MARKER" not in dumped and "root:" not in dumped


@pytest.mark.timeout(10)
def test_an_external_entity_in_a_sitemap_is_never_read(tmp_path: Path) -> None:
    secret = _secret_file(tmp_path)
    body = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://port.example/news/&x;</loc></url>"
        "<url><loc>https://port.example/news/2</loc></url></urlset>"
    ).encode()
    try:
        feed = parse_feed(body, "https://port.example/sitemap.xml", "sitemap")
    except FeedParseError:
        return
    assert "SECRET-MARKER" not in repr(feed)


@pytest.mark.parametrize("reference", ["&#xD800;", "&#56320;", "&#x110000;"])
def test_a_character_reference_no_character_can_have_spoils_only_its_own_text(reference: str) -> None:
    body = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Harbour</title>"
        f"<item><title>Ferry{reference} news</title><link>https://harbour.example/a</link>"
        f"<category>port{reference}</category></item>"
        "<item><title>Tram &#x2014; budget</title><link>https://harbour.example/b</link></item>"
        "</channel></rss>"
    ).encode()
    feed = parse_feed(body, "https://harbour.example/feed.xml", "rss")
    assert [entry.link for entry in feed.entries] == ["https://harbour.example/a", "https://harbour.example/b"]
    assert feed.entries[0].title == "Ferry\ufffd news"
    assert feed.entries[1].title == "Tram \u2014 budget"
