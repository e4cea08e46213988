"""page_metadata(): what a parsed page says about itself (title, authors, date, site, sections, tags), with
trafilatura's own metadata functions on the tree the extractor already parsed. Never parses or fetches.

Why not trafilatura.extract_metadata: it also looks for a licence and the page's URL, which no document
field uses, and it runs a dozen category and tag XPaths over pages that link no category at all; together
that was a quarter of a page's extraction cost (bench/pipeline_throughput.py). What a feed entry already
gives (authors, categories) is not searched for on the page either. The steps and their order are
trafilatura 2.3's, so the fields come out as before.
"""

from __future__ import annotations

from typing import Any

from htmldate import find_date
from lxml import etree
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_catstags,
    extract_meta_json,
    extract_sitename,
    extract_title,
)
from trafilatura.settings import Document
from trafilatura.utils import line_processing

from ingest.jobs import FeedEntry

# htmldate's output with the time of day when the page gives one (trafilatura's default drops it).
DATE_PARAMS: dict[str, Any] = {
    "original_date": True,
    "extensive_search": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}
# trafilatura keeps only links whose href matches /categor(y|ies|s)?/ or /tag(s)?/: a page with no such
# link yields no category or tag from its XPaths, so one cheap test skips them all.
_LINKS_CATEGORY = etree.XPath('boolean(//a[contains(@href, "/categor")])')
_LINKS_TAG = etree.XPath('boolean(//a[contains(@href, "/tag")])')
# trafilatura's fallback for a page without category links: its <meta> section.
_SECTION_META = etree.XPath('.//head//meta[@property="article:section" or contains(@name, "subject")][@content]')
# How trafilatura's JSON-LD reader fails on odd markup (it catches every exception there itself).
_JSON_LD_FAILURES = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError)


def page_metadata(tree: Any, url: str, entry: FeedEntry | None) -> Document:
    """The page's metadata as trafilatura's Document (title, author, date, description, sitename, image,
    categories, tags); `tree` is left as it was."""
    document = examine_meta(tree)
    if document.author and " " not in document.author:  # a single word is a handle, not a byline
        document.author = None
    try:
        document = extract_meta_json(tree, document)
    except _JSON_LD_FAILURES:
        pass  # a broken JSON-LD block: the <meta> tags still count
    if not document.title:
        document.title = extract_title(tree)
    # The pipeline takes a feed's authors when the page names none: no need to search the page body.
    if not document.author and not (entry and entry.authors):
        document.author = extract_author(tree)
    document.date = find_date(tree, url=document.url or url, **DATE_PARAMS)
    if not document.sitename:
        document.sitename = extract_sitename(tree)
    if document.sitename:
        document.sitename = document.sitename.lstrip("@")
        if document.sitename and "." not in document.sitename and not document.sitename[0].isupper():
            document.sitename = document.sitename.title()
    elif match := META_URL.match(document.url or url):
        document.sitename = match[1]
    # The pipeline prefers the feed's categories: the page's are only needed without them.
    if not (entry and entry.categories):
        if not document.categories:
            document.categories = _categories(tree)
        if not document.tags:
            document.tags = extract_catstags("tag", tree) if _LINKS_TAG(tree) else []
    document.clean_and_trim()
    return document


def _categories(tree: Any) -> list[str]:
    if _LINKS_CATEGORY(tree):
        return extract_catstags("category", tree)
    sections = (element.get("content") for element in _SECTION_META(tree))
    return [value for value in dict.fromkeys(line_processing(s) for s in sections if s) if value]
