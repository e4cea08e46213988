"""extract(): an article page (or its feed entry) -> text and metadata, with trafilatura. Never cleans or does I/O.

The text is the extractor's raw output: furniture lines ("Share", "Advertisement") are clean.py's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from copy import copy, deepcopy
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache, lru_cache
from typing import Any, Literal
from urllib.parse import urljoin

import lxml.html
import trafilatura
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector
from trafilatura.settings import Document, Extractor

from ingest.jobs import FeedEntry
from workers.errors import NotAnArticle, UnsupportedContent
from workers.page_metadata import page_metadata

ExtractionPath = Literal["trafilatura", "trafilatura-recall", "body-selector", "feed-content", "feed-summary"]
# Paths that mean the generic extractor missed the story and a looser net caught something: the recall retry
# (which also takes menus and teaser lists) and the feed's own text (a summary or a truncated copy). The
# source's body selector is not one: a person declared where that site keeps its story.
FALLBACK_PATHS: frozenset[ExtractionPath] = frozenset({"trafilatura-recall", "feed-content", "feed-summary"})

# A usable text has at least this many characters in lines that end like sentences, so a page of
# navigation links (which the recall retry happily returns) is not an article.
MIN_TEXT_CHARS = 200
# Guards against pathological pages (DESIGN pitfalls): trafilatura costs ~N² on N tiny paragraphs
# (20,000 took 1.3 s here), and lxml silently cuts everything nested deeper than 255 levels.
MAX_TREE_ELEMENTS = 25_000
MAX_TREE_DEPTH = 200
# A text longer than a short book is a data dump or a log, not an article; past this, every later stage
# (keywords, places, the MinHash of every shingle) would cost seconds and hundreds of MB per page.
MAX_TEXT_CHARS = 300_000
# With a body selector, generic extraction keeps the page when it found at least this share of the prose the
# selector holds; below it (a teaser box, a half article) the selected elements are the story.
SELECTOR_KEEPS_GENERIC_SHARE = 0.5

# Content types that are HTML, and those that may be HTML mislabelled (the body decides).
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_MAYBE_HTML_TYPES = frozenset({"text/plain", "application/octet-stream", "text/xml", "application/xml", ""})

# How trafilatura and lxml fail on a bad page. Not Exception: a worker's soft time limit or a
# MemoryError must reach the task as themselves.
_EXTRACTOR_FAILURES = (
    ArithmeticError, AssertionError, AttributeError, LookupError, RuntimeError, TypeError, ValueError,
    etree.LxmlError,
)
_CLOSERS = "\"'»«“”‘’›‹)]}"
_TERMINAL = (".", "?", "!", "…", "。", "！", "？")
_LANGUAGE_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")
_FEED_MARKERS = ("<rss", "<feed", "<urlset", "<sitemapindex", "<rdf:rdf")
_SURROGATE = re.compile("[\ud800-\udfff]")
_COUNT_ELEMENTS = etree.XPath("count(descendant-or-self::*)")
# An element MAX_TREE_DEPTH + 1 levels down, the root being level 1.
_TOO_DEEP = etree.XPath("boolean(" + "*/" * (MAX_TREE_DEPTH - 1) + "*)")
# Inside a selected body, elements that are never story text (a person's selector is often a whole column).
_NOT_BODY_TAGS = (
    "script", "style", "noscript", "iframe", "template", "nav", "aside", "form", "button", "select", "svg",
    "figure",
)
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr",
     "table", "section", "article", "figure", "figcaption", "dd", "dt", "hr"}
)


@dataclass(frozen=True)
class Extracted:
    """What one page says about itself. `text` is uncleaned; `language` is the page's declared one."""

    text: str
    extraction_path: ExtractionPath
    title: str | None = None
    authors: tuple[str, ...] = ()
    date: datetime | None = None
    description: str | None = None
    site_name: str | None = None
    canonical_claim: str | None = None  # <link rel=canonical> or og:url, resolved against the page URL
    image: str | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str | None = None


def check_content_type(content_type: str | None, url: str) -> None:
    """Raise UnsupportedContent when the response's Content-Type says it is not a web page."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in _HTML_TYPES and media_type not in _MAYBE_HTML_TYPES:
        raise UnsupportedContent(f"not HTML: content type {media_type}", url)


def extract(html: str, url: str, entry: FeedEntry | None, body_selector: str | None = None) -> Extracted:
    """The article text of a page and its metadata, trying precision, then recall, then the feed.

    `body_selector` (a source's CSS selector for its story) takes over where generic extraction fails on
    that site: the selected elements' text is the story when it is usable and the precision pass found
    less than half its prose (nothing, a teaser box, half an article); path "body-selector". A selector
    that matches nothing, or no usable text, or does not parse, leaves the generic chain as it is.

    Raises UnsupportedContent for a body that is not HTML or a page too big to extract safely, and
    NotAnArticle when no candidate holds enough text.
    """
    tree = _parse(html, url) if html.strip() else None
    candidates: list[tuple[ExtractionPath, str]] = []
    if tree is not None:
        _check_tree_shape(tree, url)
        candidates.append(("trafilatura", _trafilatura(tree, url, recall=False)))
        selected = selected_text(tree, body_selector) if body_selector else ""
        if _usable(selected) and _prose_chars(candidates[-1][1]) < SELECTOR_KEEPS_GENERIC_SHARE * _prose_chars(selected):
            candidates.append(("body-selector", selected))
        elif not _usable(candidates[-1][1]):
            # Old table layouts put the story in a cell beside the navigation: as divs, it is a block.
            candidates.append(("trafilatura-recall", _trafilatura(_without_tables(tree), url, recall=True)))
    if entry is not None and not _usable(candidates[-1][1] if candidates else ""):
        candidates.append(("feed-content", fragment_text(entry.content or "")))
        if not _usable(candidates[-1][1]):
            candidates.append(("feed-summary", fragment_text(entry.summary or "")))
    path, text = candidates[-1] if candidates else ("trafilatura", "")
    if not _usable(text):
        if tree is None and not candidates:
            raise NotAnArticle("empty page: no body and no feed text", url)
        longest = max((_prose_chars(text) for _, text in candidates), default=0)
        # Counted in sentence lines: a page of link lists has many characters and no article.
        raise NotAnArticle(f"text too short: {longest} chars", url)
    if len(text) > MAX_TEXT_CHARS:
        raise UnsupportedContent(f"text too long for an article: {len(text)} chars (limit {MAX_TEXT_CHARS})", url)
    return _with_metadata(text, path, tree, url, entry)


def selected_text(tree: Any, body_selector: str) -> str:
    """The text of the elements `body_selector` selects in `tree`, one line per block, in page order ("" when
    it selects nothing or does not parse). Scripts, navigation, forms, asides and figures inside are left out;
    an element inside another selected one is not read twice."""
    selector = compiled_selector(body_selector)
    if selector is None:
        return ""
    chosen = selector(tree)
    if not chosen:
        return ""
    inside = set(chosen)
    outermost = [el for el in chosen if not any(parent in inside for parent in el.iterancestors())]
    texts = (_block_text(_without_furniture(element)) for element in outermost)
    return "\n".join(text for text in texts if text)


@lru_cache(maxsize=256)
def compiled_selector(body_selector: str) -> CSSSelector | None:
    """A source's selector, compiled once per process; None when it is not valid CSS (then it selects nothing,
    so one typo in sources.yaml never fails that source's jobs)."""
    try:
        return CSSSelector(body_selector)
    except (SelectorError, ValueError, etree.XPathError):
        return None


def fragment_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a feed's content or summary), one line per block."""
    if not fragment.strip():
        return ""
    if "<" not in fragment:
        return fragment.strip()
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.LxmlError, ValueError):
        return ""
    for element in list(root.iter("script", "style", "noscript", "iframe")):
        element.drop_tree()
    return _block_text(root)


def _without_furniture(element: Any) -> Any:
    """A copy of a selected element without the parts that are never its story."""
    copied = deepcopy(element)
    copied.tail = None
    for inner in list(copied.iter(*_NOT_BODY_TAGS)):
        if inner is not copied:
            inner.drop_tree()
    return copied


def _block_text(root: Any) -> str:
    """The text under `root` (which this changes), one line per block, blank lines dropped."""
    for element in root.iter(*_BLOCK_TAGS):  # a block starts and ends a line
        element.text = "\n" + (element.text or "")
        element.tail = "\n" + (element.tail or "")
    text: str = root.text_content()
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _parse(html: str, url: str) -> Any:
    # Lone surrogates (undecodable bytes kept by a lenient decoder) make lxml stop at the first one and
    # drop the rest of the page silently: make them "?" instead.
    if _SURROGATE.search(html):  # a scan, not a re-encoding of every non-ASCII page
        html = html.encode("utf-8", errors="replace").decode("utf-8")
    reason = _not_html(html)
    if reason:
        raise UnsupportedContent(f"not HTML: {reason}", url)
    try:
        tree = trafilatura.load_html(html)
    except (ValueError, TypeError, etree.LxmlError) as err:
        raise UnsupportedContent(f"not HTML: {err}", url) from err
    if tree is None:
        raise UnsupportedContent("not HTML: the parser found no document", url)
    return tree


def _not_html(html: str) -> str | None:
    """Why the body is plainly not a web page, judging by its first bytes; None when it may be one."""
    head = html[:2048].lstrip().lower()
    if "\x00" in html[:8192]:
        return "binary content"
    if head.startswith("%pdf"):
        return "a PDF document"
    if head[:1] in ("{", "["):
        return "JSON"
    if head.startswith("<?xml") and "<html" not in head and any(m in head for m in _FEED_MARKERS):
        return "a feed or sitemap"
    if "<" not in html[:65536]:
        return "no markup"
    return None


def _check_tree_shape(tree: Any, url: str) -> None:
    # Two XPaths evaluated in C: walking every element in Python cost a tenth of the extraction.
    elements = int(_COUNT_ELEMENTS(tree))
    if elements > MAX_TREE_ELEMENTS:
        raise UnsupportedContent(f"page too large to extract: {elements} elements (limit {MAX_TREE_ELEMENTS})", url)
    if _TOO_DEEP(tree):
        raise UnsupportedContent(
            f"page nested too deep to extract: {_depth(tree)} levels (limit {MAX_TREE_DEPTH})", url
        )


def _depth(tree: Any) -> int:
    depth = deepest = 0
    for event, _ in etree.iterwalk(tree, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest


def _trafilatura(tree: Any, url: str, *, recall: bool) -> str:
    """The text of one bare_extraction call, precision- or recall-oriented ("" when it finds none); its
    failures become ours. Metadata is page_metadata()'s job, once per page."""
    options = copy(_extractor_options(recall))
    options.url = options.source = url
    try:
        # bare_extraction copies a tree it is given, so both calls see the same page.
        result = trafilatura.bare_extraction(tree, url=url, options=options)
    except _EXTRACTOR_FAILURES as err:  # a crash inside the extractor: this page will crash it again
        raise UnsupportedContent(f"extractor failed: {type(err).__name__}: {err}", url) from err
    return (result.text or "") if isinstance(result, Document) else ""


@cache
def _extractor_options(recall: bool) -> Extractor:
    """trafilatura's options for one kind of call. Built once: each Extractor reads its config file anew."""
    return Extractor(
        output_format="python",
        precision=not recall,
        recall=recall,
        # No second opinion from readability/jusText: on news pages it rarely wins and costs a third
        # of the extraction time (bench/pipeline_throughput.py); the recall retry covers the misses.
        fast=True,
        comments=False,
        with_metadata=False,
    )


def _without_tables(tree: Any) -> Any:
    """A copy of the page with every table element turned into a div (cells and rows become blocks)."""
    copy = deepcopy(tree)
    for element in copy.iter("table", "thead", "tbody", "tfoot", "tr", "td", "th"):
        element.tag = "div"
    return copy


def _usable(text: str) -> bool:
    return _prose_chars(text) >= MIN_TEXT_CHARS


def _prose_chars(text: str) -> int:
    lines = (line.strip() for line in text.splitlines())
    return sum(len(line) for line in lines if line.rstrip(_CLOSERS).endswith(_TERMINAL))


def _with_metadata(text: str, path: ExtractionPath, tree: Any, url: str, entry: FeedEntry | None) -> Extracted:
    if tree is None:
        return Extracted(text=text, extraction_path=path)
    try:
        document = page_metadata(tree, url, entry)
    except _EXTRACTOR_FAILURES as err:
        raise UnsupportedContent(f"metadata extractor failed: {type(err).__name__}: {err}", url) from err
    return Extracted(
        text=text,
        extraction_path=path,
        title=_text_or_none(document.title),
        authors=_unique((document.author or "").split(";")),
        date=_parse_date(document.date),
        description=_text_or_none(document.description),
        site_name=_text_or_none(document.sitename),
        canonical_claim=_canonical_claim(tree, url),
        image=_text_or_none(document.image),
        categories=_unique(document.categories or ()),
        tags=_unique(document.tags or ()),
        language=_declared_language(tree),
    )


def _canonical_claim(tree: Any, url: str) -> str | None:
    """The URL the page claims as its own: <link rel=canonical> first, then og:url."""
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and (link.get("href") or "").strip():
            return urljoin(url, str(link.get("href")).strip())
    for meta in tree.iter("meta"):
        if (meta.get("property") or "").strip().lower() == "og:url" and (meta.get("content") or "").strip():
            return urljoin(url, str(meta.get("content")).strip())
    return None


def _declared_language(tree: Any) -> str | None:
    """The primary language subtag the page declares (<html lang>, then Content-Language), e.g. "en"."""
    declared = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    declared += [
        meta.get("content")
        for meta in tree.iter("meta")
        if (meta.get("http-equiv") or "").strip().lower() == "content-language"
    ]
    for value in declared:
        match = _LANGUAGE_TAG.match((value or "").strip().split(",")[0].strip())
        if match:
            return match.group(1).lower()
    return None


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A date without a zone is a calendar date at best: read it as UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _text_or_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value.strip() for value in values if value and value.strip()))
