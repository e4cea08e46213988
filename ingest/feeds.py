"""parse_feed(): RSS/Atom, JSON Feed and sitemap bytes -> FeedEntry list. Never does I/O.

RSS and Atom in UTF-8 go to fastfeedparser (lxml) first: feedparser's SAX handlers cost about a
third of a millisecond per entry, as much as fetching the article itself, and fastfeedparser
reads the same feed in a twentieth of that (bench/fetch_throughput.py). feedparser stays the
reference: it reads what the fast path declines (other encodings, xml:base, a document the fast
parser rejects or finds nothing in) and it names the error of a broken feed. A test holds both
paths to the same entries for every feed in the test suite and generated ones
(tests/unit/ingest/test_feed_paths.py); where fastfeedparser reads less than feedparser (an entry's
second author, a thumbnail beside a video, a relative link that is also the guid) the fast path
declines. fastfeedparser fetches a str that starts with http: it is only ever given bytes.

feedparser gets a BytesIO (given bytes equal to a path it would open the file), and the DTD
prolog is cut away first: feedparser expands entities, and one entity used many times turns a
small feed into hundreds of megabytes. Character references no XML character can have (half a
surrogate pair, past U+10FFFF) become U+FFFD first: feedparser's loose parser raises on them, and one
broken entry would make the whole feed unreadable.
"""

from __future__ import annotations

import calendar
import io
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import fastfeedparser
import feedparser
from dateutil import parser as dateparser
from lxml import etree

from ingest.errors import FeedParseError
from ingest.jobs import FeedEntry

MAX_ENTRIES = 2000
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[.*?\])?\s*>", re.IGNORECASE | re.DOTALL)
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
_IMAGE_NS = "http://www.google.com/schemas/sitemap-image/1.1"
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)", re.IGNORECASE)
# A named entity XML does not predefine (its DTD is cut away, or it is HTML's &nbsp;): feedparser keeps
# or translates it, lxml drops it, so such a body is left to feedparser.
_UNDECLARED_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)[A-Za-z_][\w.-]*;")
_AUTHOR_TAG = re.compile(rb"<(?:[\w.-]+:)?(?:author|creator)[\s>]")
_ENTRY_TAG = re.compile(rb"<(?:[\w.-]+:)?(?:entry|item)[\s>]")
_DATE_TAG = re.compile(rb"<(?:[\w.-]+:)?(?:pubDate|published|issued|date|updated|modified)(?:\s[^>]*)?>\s*[^<\s]", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._-]+)", re.IGNORECASE)
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    entries: tuple[FeedEntry, ...]
    # A sitemap index lists child sitemaps instead of entries: newest first.
    sitemaps: tuple[str, ...] = ()


def parse_feed(
    body: bytes,
    url: str,
    kind: str,
    content_type: str | None = None,
    *,
    news_since: datetime | None = None,
) -> ParsedFeed:
    """Parse one feed document; links are made absolute against `url`. Raises FeedParseError.

    `news_since`: Google News sitemap entries published before it are left out (freshness window).
    """
    if not body.strip():
        raise FeedParseError(url, "empty response")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if kind == "jsonfeed" or media_type == "application/feed+json":
        return _parse_json_feed(body, url)
    if kind == "sitemap":
        return _parse_sitemap(body, url, news_since)
    if media_type in ("text/html", "application/xhtml+xml") or _looks_like_html(body):
        raise FeedParseError(url, "an HTML page, not a feed")
    return _parse_xml_feed(body, url, content_type)


def _looks_like_html(body: bytes) -> bool:
    head = body.lstrip()[:512].lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _valid_char_refs(body: bytes) -> bytes:
    if b"&#" not in body:
        return body

    def fix(match: re.Match[bytes]) -> bytes:
        hex_digits, decimal = match.groups()
        code = int(hex_digits, 16) if hex_digits else int(decimal)
        return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else match.group(0)

    return _CHAR_REF.sub(fix, body)


def _parse_xml_feed(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    cleaned = _valid_char_refs(_DOCTYPE.sub(b"", body, count=1))
    if _fast_path_reads(cleaned, content_type):
        fast = _parse_fast(cleaned, url)
        if fast is not None:
            return fast
    return _parse_with_feedparser(cleaned, url, content_type)


def _parse_with_feedparser(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    # Links are joined to the feed's URL here (_from_feedparser), not by feedparser: it mangles
    # file: bases (file:///a/b becomes file://a/b), and without a base it skips a urljoin per
    # element (~9% of a poll). An xml:base inside the feed still applies. Summaries and content
    # reach workers as HTML fragments only ever turned into text there, so feedparser's
    # sanitizing and relative-link rewriting would be work for nothing too.
    headers = {"content-type": content_type} if content_type else {}
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # translated at the edge: any failure inside feedparser is this body's
        # feedparser raises on some malformed input instead of flagging it: its charset sniffing on a
        # broken declaration (encoding="\xa9", or one holding NUL), its loose parser on stray end tags
        # (KeyError 'links', int(None) for an empty <height>).
        raise FeedParseError(url, f"not an RSS or Atom feed ({type(exc).__name__}: {_one_line(exc)})") from exc
    version = parsed.get("version") or ""
    if not version:
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise FeedParseError(url, f"not an RSS or Atom feed ({_one_line(reason)})")
    entries = tuple(
        entry
        for entry in (_from_feedparser(raw, url) for raw in parsed.entries[:MAX_ENTRIES])
        if entry is not None
    )
    return ParsedFeed(title=parsed.feed.get("title"), entries=entries)


def _fast_path_reads(body: bytes, content_type: str | None) -> bool:
    """Whether the fast parser reads this body as feedparser would: UTF-8 by the HTTP header and the
    XML declaration (feedparser honours a header's charset, lxml only the declaration), no xml:base
    (which lxml's reader leaves unapplied), no entity but XML's own five."""
    header_charset = _HEADER_CHARSET.search(content_type or "")
    if header_charset and header_charset.group(1).lower() not in _UTF8_NAMES:
        return False
    declared = _XML_ENCODING.match(body)
    if declared and declared.group(1).decode("ascii").lower() not in _UTF8_NAMES:
        return False
    return b"xml:base" not in body and _UNDECLARED_ENTITY.search(body) is None


def _parse_fast(body: bytes, url: str) -> ParsedFeed | None:
    """fastfeedparser's reading, or None to leave the body to feedparser (rejected, or no entries)."""
    items = _ENTRY_TAG.split(body)[1:]  # each entry's markup (and what follows it)
    if any(len(_AUTHOR_TAG.findall(item)) > 1 for item in items):
        return None  # fastfeedparser keeps an entry's first author only; feedparser keeps them all
    # An entry without a date may get one guessed from its guid; looked for only then (it costs a
    # slow date parse per entry). Not caught: a date fastfeedparser cannot read beside a guid it can.
    undated = any(_DATE_TAG.search(item) is None for item in items)
    try:
        parsed = fastfeedparser.parse(body)
        raw_entries = (parsed.get("entries") or ())[:MAX_ENTRIES]
        entries = tuple(
            entry for entry in (_from_fastfeedparser(raw, url, body, undated) for raw in raw_entries) if entry is not None
        )
    except Exception:  # declined (or _Undecided): feedparser reads it, or names what is wrong with it
        return None
    if not entries:
        return None
    return ParsedFeed(title=_text((parsed.get("feed") or {}).get("title")), entries=entries)


def _from_fastfeedparser(raw: Mapping[str, Any], feed_url: str, document: bytes, undated: bool) -> FeedEntry | None:
    raw_link = raw.get("link") or _first_alternate(raw.get("links") or ())
    link = _absolute(feed_url, raw_link)
    if not link:
        return None
    # fastfeedparser gives an entry without a guid its link as id; feedparser gives none. The same
    # "already seen" key either way, unless the link is relative: then which it was matters.
    guid = raw.get("id") or None
    if guid == raw_link:
        if link != str(raw_link).strip():
            raise _Undecided("a relative link that may also be the guid")
        guid = None
    content = raw.get("content") or ()
    body = _text(content[0].get("value")) if content else None
    description = _text(raw.get("description"))
    summary: str | None
    if body is not None and body == description:
        # An RSS description fastfeedparser repeats as content (feedparser: a summary, no content).
        summary, body = description, None
    elif body is not None and (description is None or _synthesized_description(raw)):
        # No description: fastfeedparser makes one from the content (a text prefix, empty when the
        # content has no text); feedparser gives the content itself as the summary.
        summary = body
    else:
        summary = description
    published = raw.get("published")
    if undated and published and guid and not guid.startswith(("http://", "https://")) and published == _fast_date(guid):
        published = None  # fastfeedparser's guess from a guid such as "1" or "20240611", not a date the feed gave
    media = raw.get("media_content") or ()
    if media and b"thumbnail" in document and not any(_is_image(m) for m in media):
        # fastfeedparser drops media:thumbnail beside a media:content; feedparser falls back to it.
        raise _Undecided("a media:thumbnail beside a media:content that is no image")
    return FeedEntry(
        link=link,
        guid=guid,
        title=_text(raw.get("title")),
        summary=summary,
        content=body,
        authors=_names(raw.get("authors") or ([{"name": raw["author"]}] if raw.get("author") else [])),
        # Without a published date fastfeedparser repeats the updated one (feedparser leaves it
        # out); the worker takes published, else updated, so the document's date is the same.
        published=_parse_date(published),
        updated=_parse_date(raw.get("updated")),
        categories=tuple(t["term"] for t in raw.get("tags") or () if t.get("term")),
        image=_feedparser_image(raw, feed_url),
    )


class _Undecided(Exception):
    """The fast path cannot tell what feedparser would read here: the body goes to feedparser."""


def _synthesized_description(raw: Mapping[str, Any]) -> bool:
    """Whether fastfeedparser made the description up from the content (pinned version's own rule)."""
    if not raw.get("content"):
        return False
    probe = fastfeedparser.FastFeedParserDict(content=raw["content"])
    fastfeedparser.main._synthesize_entry_description(probe)
    return bool(probe.get("description")) and probe.get("description") == raw.get("description")


def _fast_date(text: str) -> str | None:
    """fastfeedparser's own date reading (pinned version), to recognise a date it guessed."""
    try:
        return fastfeedparser.main._parse_date(text)  # type: ignore[no-any-return]
    except Exception:
        return None


def _from_feedparser(raw: dict[str, Any], feed_url: str) -> FeedEntry | None:
    link = _absolute(feed_url, raw.get("link") or _first_alternate(raw.get("links", ())))
    if not link:
        return None
    content = raw.get("content") or ()
    return FeedEntry(
        link=link,
        guid=raw.get("id") or None,
        title=_text(raw.get("title")),
        summary=_text(raw.get("summary")),
        content=_text(content[0].get("value")) if content else None,
        authors=_names(raw.get("authors") or ([{"name": raw["author"]}] if raw.get("author") else [])),
        # dict.get: FeedParserDict.get falls back from `updated` to `published` (and warns).
        published=_from_struct(dict.get(raw, "published_parsed")),
        updated=_from_struct(dict.get(raw, "updated_parsed")),
        categories=tuple(t["term"] for t in raw.get("tags") or () if t.get("term")),
        image=_feedparser_image(raw, feed_url),
    )


def _first_alternate(links: Iterable[Mapping[str, Any]]) -> str | None:
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def _feedparser_image(raw: Mapping[str, Any], feed_url: str) -> str | None:
    """The entry's image, from either parser's entry (feedparser names an enclosure's URL href)."""
    for media in (*(raw.get("media_content") or ()), *(raw.get("media_thumbnail") or ())):
        if _is_image(media):
            return _absolute(feed_url, str(media["url"]))
    for enclosure in raw.get("enclosures") or ():
        href = enclosure.get("href") or enclosure.get("url")
        if str(enclosure.get("type", "")).startswith("image/") and href:
            return _absolute(feed_url, str(href))
    return None


def _is_image(media: Mapping[str, Any]) -> bool:
    """A media:content or media:thumbnail that is an image with a URL."""
    return bool(media.get("url")) and media.get("medium", "image") == "image"


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # RecursionError: [[[[... nested
        raise FeedParseError(url, f"not a JSON Feed ({_one_line(exc) or 'nested too deeply'})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise FeedParseError(url, "not a JSON Feed (no 'items' list)")
    entries = []
    for item in document["items"][:MAX_ENTRIES]:
        if not isinstance(item, dict):
            continue
        raw_link = item.get("url") or item.get("external_url")
        link = _absolute(url, raw_link) if isinstance(raw_link, str) else None
        if not link:
            continue
        # Fields of the wrong JSON type are left out, as if absent: one odd item never fails the feed.
        authors = item.get("authors")
        if not isinstance(authors, list) or not authors:
            authors = [item["author"]] if isinstance(item.get("author"), dict) else []
        tags = item.get("tags")
        entries.append(
            FeedEntry(
                link=link,
                guid=str(item["id"]) if item.get("id") is not None else None,
                title=_text(item.get("title")),
                summary=_text(item.get("summary")),
                content=_text(item.get("content_html") or item.get("content_text")),
                authors=_names(authors),
                published=_parse_date(item.get("date_published")),
                updated=_parse_date(item.get("date_modified")),
                categories=tuple(str(t) for t in (tags if isinstance(tags, list) else ()) if _is_scalar(t)),
                image=_text(item.get("image")) or _text(item.get("banner_image")),
            )
        )
    return ParsedFeed(title=_text(document.get("title")), entries=tuple(entries))


def _parse_sitemap(body: bytes, url: str, news_since: datetime | None) -> ParsedFeed:
    # No entities, no network, no huge trees: a sitemap is data, never a way to read local files.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, recover=False, load_dtd=False
    )
    try:
        root = etree.fromstring(_DOCTYPE.sub(b"", body, count=1), parser)
    except etree.XMLSyntaxError as exc:
        raise FeedParseError(url, f"not an XML sitemap ({_one_line(exc)})") from exc
    name = etree.QName(root).localname
    if name == "sitemapindex":
        return _parse_sitemap_index(root, url)
    if name != "urlset":
        raise FeedParseError(url, f"sitemap root is <{name}>, expected <urlset> or <sitemapindex>")
    entries = []
    for node in root.iterfind(f"{{{_SITEMAP_NS}}}url"):
        link = _absolute(url, node.findtext(f"{{{_SITEMAP_NS}}}loc"))
        if not link:
            continue
        lastmod = _parse_date(node.findtext(f"{{{_SITEMAP_NS}}}lastmod"))
        news_date = _parse_date(node.findtext(f"{{{_NEWS_NS}}}news/{{{_NEWS_NS}}}publication_date"))
        if news_since is not None and news_date is not None and news_date < news_since:
            continue  # a Google News entry past its freshness window
        entries.append(
            FeedEntry(
                link=link,
                title=_text(node.findtext(f"{{{_NEWS_NS}}}news/{{{_NEWS_NS}}}title")),
                published=news_date or lastmod,
                updated=lastmod,
                categories=_keywords(node.findtext(f"{{{_NEWS_NS}}}news/{{{_NEWS_NS}}}keywords")),
                image=_text(node.findtext(f"{{{_IMAGE_NS}}}image/{{{_IMAGE_NS}}}loc")),
            )
        )
        if len(entries) >= MAX_ENTRIES:
            break
    return ParsedFeed(title=None, entries=tuple(entries))


def _parse_sitemap_index(root: Any, url: str) -> ParsedFeed:
    children: list[tuple[datetime, int, str]] = []
    oldest = datetime.min.replace(tzinfo=UTC)
    for position, node in enumerate(root.iterfind(f"{{{_SITEMAP_NS}}}sitemap")):
        child = _absolute(url, node.findtext(f"{{{_SITEMAP_NS}}}loc"))
        if child:
            lastmod = _parse_date(node.findtext(f"{{{_SITEMAP_NS}}}lastmod")) or oldest
            children.append((lastmod, position, child))
        if len(children) >= MAX_ENTRIES:
            break
    # Newest first: by lastmod, then by position (indexes usually list the newest last).
    children.sort(reverse=True)
    return ParsedFeed(title=None, entries=(), sitemaps=tuple(dict.fromkeys(c[2] for c in children)))


def _absolute(base: str, link: str | None) -> str | None:
    """`link` made absolute against `base`; None when there is none or it cannot be a URL
    ("http://[" has no valid host): that entry is skipped, the rest of the feed still read."""
    if not link or not link.strip():
        return None
    try:
        return urljoin(base, link.strip())
    except ValueError:
        return None


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip() != ""


def _keywords(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(dict.fromkeys(k.strip() for k in value.split(",") if k.strip()))


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _names(authors: Iterable[Any]) -> tuple[str, ...]:
    names = (a.get("name") if isinstance(a, Mapping) else a for a in authors)
    return tuple(dict.fromkeys(n.strip() for n in names if isinstance(n, str) and n.strip()))


def _from_struct(value: time.struct_time | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None  # a date past year 9999 (or before 1) once in UTC: no usable date


def _parse_date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dateparser.isoparse(value.strip())
    except (ValueError, OverflowError):
        try:
            parsed = dateparser.parse(value.strip())
        except (ValueError, OverflowError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _one_line(reason: object) -> str:
    return " ".join(str(reason).split())[:200]
