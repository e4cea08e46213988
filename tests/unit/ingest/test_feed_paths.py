"""The fast feed path (fastfeedparser) and the reference path (feedparser) read the same entries.

ingest/feeds.py sends UTF-8 RSS and Atom to fastfeedparser first. A user must not be able to tell:
the same links, the same "already seen" identity (a changed one would fetch a feed's articles
again after an upgrade), the same titles, summaries, content, authors, dates, categories and
images, for every feed the test suite and the demo use and for generated ones.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import feeds
from ingest.jobs import FeedEntry
from workers.extract import fragment_text

ROOT = Path(__file__).resolve().parents[3]
FEED_URL = "https://harbour.example/feeds/news.xml"
FEED_FILES = sorted(
    path
    for folder in (ROOT / "seeds", ROOT / "tests" / "fixtures")
    for path in folder.rglob("*.xml")
    if b"<rss" in path.read_bytes()[:4096] or b"<feed" in path.read_bytes()[:4096]
)


def _both(body: bytes) -> tuple[list[dict[str, object]], list[dict[str, object]]] | None:
    """Both readings, or None when the fast path leaves the body to feedparser."""
    cleaned = feeds._valid_char_refs(feeds._DOCTYPE.sub(b"", body, count=1))
    if not feeds._fast_path_reads(cleaned, None):
        return None
    fast = feeds._parse_fast(cleaned, FEED_URL)
    if fast is None:
        return None
    reference = feeds._parse_with_feedparser(cleaned, FEED_URL, None)
    return [_seen(e) for e in fast.entries], [_seen(e) for e in reference.entries]


def _seen(entry: FeedEntry) -> dict[str, object]:
    """The entry as the rest of the pipeline sees it.

    guid through seen_key: feedparser keeps a guid equal to the link, the fast path leaves it out,
    and either way the entry is known by that URL. The date the worker takes (published, else
    updated): without a published date fastfeedparser repeats the updated one. Summary and content
    as the text the worker makes of them (fragment_text)."""
    return entry.model_dump(exclude={"guid", "published", "summary", "content"}) | {
        "seen_key": entry.seen_key,
        "date": entry.published or entry.updated,
        "summary": fragment_text(entry.summary or ""),
        "content": fragment_text(entry.content or ""),
    }


def _same(fast: list[dict[str, object]], reference: list[dict[str, object]]) -> None:
    # One difference is allowed: an empty <description> beside content:encoded is no summary to
    # feedparser, while the fast path takes the content's text as the summary.
    fast = [f | {"summary": ""} if not r["summary"] and f["summary"] == f["content"] else f for f, r in zip(fast, reference)]
    assert fast == reference


def test_the_fast_path_reads_most_of_the_suites_feeds() -> None:
    names = {path.name for path in FEED_FILES}
    assert "feed.xml" in names and "atom.xml" in names and len(FEED_FILES) >= 6
    read_fast = [path for path in FEED_FILES if _both(path.read_bytes()) is not None]
    # Left to feedparser: the entity bomb, and a feed whose guids are its relative links.
    assert len(read_fast) >= len(FEED_FILES) - 2 and (ROOT / "seeds" / "feed.xml") in read_fast


@pytest.mark.parametrize("path", FEED_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_fixture_feed_reads_the_same_on_both_paths(path: Path) -> None:
    both = _both(path.read_bytes())
    if both is not None:
        _same(*both)


def test_a_feed_with_xml_base_or_another_encoding_goes_to_feedparser() -> None:
    based = b"<?xml version='1.0'?><rss version='2.0' xml:base='https://other.example/'><channel><item><link>a</link></item></channel></rss>"
    latin = "<?xml version='1.0' encoding='ISO-8859-1'?><rss version='2.0'><channel><item><title>Café</title><link>https://harbour.example/c</link></item></channel></rss>"
    assert not feeds._fast_path_reads(based, None)
    assert not feeds._fast_path_reads(latin.encode("latin-1"), None)
    assert not feeds._fast_path_reads(b"<rss version='2.0'/>", "application/rss+xml; charset=windows-1251")
    assert not feeds._fast_path_reads(b"<rss version='2.0'><channel><title>A&nbsp;B</title></channel></rss>", None)
    assert feeds._fast_path_reads(b"<rss version='2.0'><channel><title>A &amp; B &#233;</title></channel></rss>", None)
    assert feeds.parse_feed(based, FEED_URL, "rss").entries[0].link == "https://other.example/a"
    assert feeds.parse_feed(latin.encode("latin-1"), FEED_URL, "rss").entries[0].title == "Café"


def _looks_double_encoded(text: str) -> bool:
    """UTF-8 read as Latin-1 ("Ã©" for "é"): feedparser silently "repairs" such text, the fast path
    keeps what the feed says; generated text leaves such pairs out."""
    try:
        return text.encode("latin-1").decode("utf-8") != text
    except (UnicodeEncodeError, UnicodeDecodeError):
        return any(_looks_double_encoded(text[i:i + 2]) for i in range(len(text) - 1)) if len(text) > 2 else False


# Line and paragraph separators (U+2028, U+2029) are left out: fastfeedparser turns them into newlines.
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30).filter(lambda t: not _looks_double_encoded(t))
_LINK = st.sampled_from(["https://harbour.example/a", "/relative/b", "c.html", "https://harbour.example/a?x=1&y=2"])
_DATE = st.sampled_from(["Wed, 10 Aug 2016 09:15:00 GMT", "Wed, 10 Aug 2016 09:15:00 +0200", "2016-08-10T09:15:00Z", ""])


def _entries(**fields: st.SearchStrategy[object]) -> st.SearchStrategy[list[dict[str, object]]]:
    """One to three generated entries with these fields."""
    return st.lists(st.fixed_dictionaries(fields), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(
    items=_entries(
        title=_TEXT, link=_LINK, guid=st.none() | _TEXT, description=_TEXT, author=_TEXT, category=_TEXT, date=_DATE
    )
)
def test_generated_rss_reads_the_same_on_both_paths(items: list[dict[str, str | None]]) -> None:
    body = "".join(
        f"<item><title>{escape(i['title'] or '')}</title><link>{escape(i['link'] or '')}</link>"
        + (f"<guid isPermaLink='false'>{escape(i['guid'])}</guid>" if i["guid"] else "")
        + f"<description>{escape(i['description'] or '')}</description><author>{escape(i['author'] or '')}</author>"
        + f"<category>{escape(i['category'] or '')}</category><pubDate>{i['date']}</pubDate></item>"
        for i in items
    )
    both = _both(f"<?xml version='1.0'?><rss version='2.0'><channel><title>Harbour</title>{body}</channel></rss>".encode())
    if both is not None:
        _same(*both)


_IMAGE = st.sampled_from(["https://cdn.harbour.example/p.jpg", "/img/q.png", ""])
_ATOM_DATE = st.sampled_from(["2016-08-10T09:15:00Z", "2016-08-10T09:15:00+02:00", "2016-08-10", ""])


@settings(max_examples=150, deadline=None)
@given(
    items=_entries(
        title=_TEXT, link=_LINK, guid=st.none() | _TEXT, description=_TEXT, encoded=st.none() | _TEXT,
        creator=st.none() | _TEXT, enclosure=st.none() | _IMAGE, media=st.none() | _IMAGE, thumbnail=st.none() | _IMAGE,
    )
)
def test_rss_with_content_creators_and_images_reads_the_same_on_both_paths(items: list[dict[str, str | None]]) -> None:
    def item(i: dict[str, str | None]) -> str:
        parts = [f"<title>{escape(i['title'] or '')}</title><link>{escape(i['link'] or '')}</link>"]
        parts.append(f"<guid isPermaLink='false'>{escape(i['guid'])}</guid>" if i["guid"] else "")
        parts.append(f"<description>{escape(i['description'] or '')}</description>")
        parts.append(f"<content:encoded><![CDATA[<p>{i['encoded']}</p>]]></content:encoded>" if i["encoded"] else "")
        parts.append(f"<dc:creator>{escape(i['creator'])}</dc:creator>" if i["creator"] else "")
        parts.append(f"<enclosure url='{i['enclosure']}' type='image/jpeg' length='1'/>" if i["enclosure"] is not None else "")
        parts.append(f"<media:content url='{i['media']}' medium='image'/>" if i["media"] is not None else "")
        parts.append(f"<media:thumbnail url='{i['thumbnail']}'/>" if i["thumbnail"] is not None else "")
        return "<item>" + "".join(parts) + "</item>"

    body = (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/' "
        "xmlns:dc='http://purl.org/dc/elements/1.1/' xmlns:media='http://search.yahoo.com/mrss/'><channel>"
        f"<title>Harbour</title>{''.join(item(i) for i in items)}</channel></rss>"
    )
    both = _both(body.encode())
    if both is not None:
        _same(*both)


@settings(max_examples=150, deadline=None)
@given(
    entries=_entries(
        id=_TEXT, title=_TEXT, link=_LINK, summary=st.none() | _TEXT, content=st.none() | _TEXT,
        authors=st.lists(_TEXT, max_size=2), published=_ATOM_DATE, updated=_ATOM_DATE, category=st.none() | _TEXT,
    )
)
def test_generated_atom_reads_the_same_on_both_paths(entries: list[dict[str, object]]) -> None:
    def entry(e: dict[str, object]) -> str:
        parts = [f"<id>{escape(str(e['id']))}</id><title type='text'>{escape(str(e['title']))}</title>"]
        parts.append(f"<link rel='alternate' href='{escape(str(e['link']))}'/>")
        parts.append(f"<summary>{escape(str(e['summary']))}</summary>" if e["summary"] is not None else "")
        parts.append(f"<content type='html'>{escape('<p>' + str(e['content']) + '</p>')}</content>" if e["content"] is not None else "")
        parts.extend(f"<author><name>{escape(name)}</name></author>" for name in e["authors"])  # type: ignore[attr-defined]
        parts.append(f"<published>{e['published']}</published>" if e["published"] else "")
        parts.append(f"<updated>{e['updated']}</updated>" if e["updated"] else "")
        parts.append(f"<category term='{escape(str(e['category']), {chr(39): '&apos;'})}'/>" if e["category"] is not None else "")
        return "<entry>" + "".join(parts) + "</entry>"

    body = (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Harbour</title>"
        f"<id>urn:harbour</id><updated>2016-08-12T10:00:00Z</updated>{''.join(entry(e) for e in entries)}</feed>"
    )
    both = _both(body.encode())
    if both is not None:
        _same(*both)
