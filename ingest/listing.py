"""read_listing(): the HTML of a listing page -> each link it holds, taken or skipped with a reason a
person can read, and the page's "next" link. Never does I/O.

The rules are data: tables of URL patterns (courlan's navigation and crawlability filters, ours for
what they miss), page regions, and weighted article-shape signals. The first rule that matches a
link decides it, in this order: not a web link, outside the link area, a private address, another
domain, the listing itself, pagination, the source's exclude patterns, the URL tables, the page
region, the source's include patterns, and last the article shape score.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from courlan import extract_domain, normalize_url
from courlan.filters import FILE_TYPE, NAVIGATION_FILTER, NOTCRAWLABLE, SITE_STRUCTURE
from cssselect import SelectorError
from htmldate.extractors import extract_url_date
from htmldate.utils import Extractor
from lxml import etree
from lxml.cssselect import CSSSelector

from ingest.client import AllowList

TAKE_SCORE = 3  # article-shape points a link needs to be taken

# URL rules, matched against the path and query (never the host, whose name may contain "tag" or
# "login"): (rule, pattern, detail; None: the matched text). First match wins.
_URL_RULES: tuple[tuple[str, re.Pattern[str], str | None], ...] = (
    ("media file", FILE_TYPE, None),
    ("media file", re.compile(r"\.(?:docx?|xlsx?|pptx?|epub|rar|7z|mp[34a]|wav|webm|m3u8)$", re.I), None),
    ("feed", re.compile(r"/(?:feeds?|rss|atom)(?:/|\.xml|$)", re.I), None),
    ("not crawlable", NOTCRAWLABLE, None),
    ("account", re.compile(r"/(?:log-?in|log-?out|sign-?in|sign-?up|register|subscribe|account|my|newsletters?|cart)(?:/|$|\?)", re.I), None),
    ("navigation", re.compile(r"^/(?:index\.\w+)?(?:\?.*)?$"), "home page"),
    ("navigation", NAVIGATION_FILTER, None),
    ("navigation", SITE_STRUCTURE, None),
    ("navigation", re.compile(r"/(?:about(?:-us)?|search|tags?|authors?|topics?|sections?|archives?|contact(?:-us)?|privacy|terms|cookies|help|faq|advertise|jobs|careers|corrections|staff|team|sitemap)(?:/|$|\?|\.)", re.I), None),
    ("advertising", re.compile(r"/(?:sponsored|advertorial|partner-content|promotions?|ads?)/", re.I), None),
    ("share link", re.compile(r"/(?:share|print|email|comments?)(?:/|$|\?)|[?&](?:share|print|replytocom)=", re.I), None),
)

# Page regions whose links are the site's furniture, not its stories: (reason, tags, roles, class/id tokens).
# <header>/<footer> inside <article> or <main> belong to the story, so they do not count there.
_REGIONS: tuple[tuple[str, frozenset[str], frozenset[str], frozenset[str]], ...] = (
    (
        "in header/footer/nav",
        frozenset({"header", "footer", "nav"}),
        frozenset({"banner", "contentinfo", "navigation", "menu", "menubar"}),
        frozenset({"header", "site-header", "masthead", "footer", "site-footer", "nav", "navbar", "navigation",
                   "menu", "main-menu", "breadcrumb", "breadcrumbs", "skip-link"}),
    ),
    (
        "in an ad or share block",
        frozenset(),
        frozenset(),
        frozenset({"ad", "ads", "advert", "advertisement", "sponsored", "promo", "share", "social", "share-buttons"}),
    ),
)
_STORY_TAGS = frozenset({"article", "main"})

# Pagination: a link is one when it says so (rel=next), carries a page number, or reads as "next".
_PAGE_NUMBER = re.compile(r"[?&](?:page|pg|paged)=(\d+)|/page/(\d+)/?$", re.I)
_NEXT_TEXT = re.compile(r"^(?:next|older|more stories|older (?:stories|posts|articles)|next page)\b|^[›»→>]+$|\s[›»→]$", re.I)

_URL_DATES = Extractor(False, datetime(2100, 1, 1), datetime(1995, 1, 1), False, "%Y-%m-%d")
_WEB = frozenset({"http", "https"})


@dataclass(frozen=True)
class _Link:
    url: str
    path: str  # path and query: what the URL rules read
    text: str
    in_heading: bool


@dataclass(frozen=True)
class _Signal:
    name: str
    weight: int
    test: Callable[[_Link], bool]


def _matches(pattern: str, flags: int = 0) -> Callable[[_Link], bool]:
    compiled = re.compile(pattern, flags)
    return lambda link: compiled.search(link.path) is not None


def _slug_words(url: str) -> int:
    """Words in the last path segment ("ferry-timetable-changes.html": 3), 0 when it has no letters."""
    segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if not any(c.isalpha() for c in segment):
        return 0
    return len([w for w in re.split(r"[-_+]", segment) if w])


# What an article URL looks like; a link is taken with TAKE_SCORE points or more.
_SHAPE: tuple[_Signal, ...] = (
    _Signal("date in URL", 3, lambda link: extract_url_date(link.url, _URL_DATES) is not None),
    _Signal("year/month in path", 2, _matches(r"/(?:19|20)\d\d/(?:0?[1-9]|1[0-2])/")),
    _Signal("numeric id", 3, _matches(r"(?:^|[/_-])\d{5,}(?:\.s?html?)?/?(?:\?|$)|[?&](?:id|article|story|p)=\d{3,}")),
    _Signal("long slug", 2, lambda link: _slug_words(link.url) >= 3),
    _Signal("page file", 1, _matches(r"\.s?html?(?:\?|$)", re.I)),
    _Signal("headline text", 1, lambda link: len(link.text.split()) >= 4 or link.in_heading),
    _Signal("short path", -2, lambda link: urlsplit(link.url).path.strip("/").count("/") == 0),
)


@dataclass(frozen=True)
class LinkRules:
    """A source's hints, compiled: its patterns, link area, extra domains and allowed private hosts."""

    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    link_selector: str | None = None
    extra_domains: tuple[str, ...] = ()
    allow_hosts: frozenset[str] = frozenset()


@functools.lru_cache(maxsize=1024)
def link_rules(
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    link_selector: str | None = None,
    extra_domains: tuple[str, ...] = (),
    allow_hosts: frozenset[str] = frozenset(),
) -> LinkRules:
    """Compiled rules (cached: every poll of a source asks for the same ones)."""
    return LinkRules(
        include=tuple(check_pattern(p) for p in include),
        exclude=tuple(check_pattern(p) for p in exclude),
        link_selector=check_selector(link_selector) if link_selector else None,
        extra_domains=tuple(d.lower() for d in extra_domains),
        allow_hosts=allow_hosts,
    )


def check_pattern(pattern: str) -> re.Pattern[str]:
    """A compiled include/exclude pattern; ValueError naming the problem when it is not a regex."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression ({exc})") from None


def check_selector(selector: str) -> str:
    """The selector, when CSS can read it; ValueError naming the problem otherwise."""
    _selector(selector)
    return selector


@functools.lru_cache(maxsize=256)
def _selector(selector: str) -> CSSSelector:
    try:
        return CSSSelector(selector)
    except (SelectorError, SyntaxError) as exc:
        raise ValueError(f"{selector!r} is not a valid CSS selector ({exc})") from None


@dataclass(frozen=True)
class LinkDecision:
    url: str  # normalized: absolute, no fragment, no tracking parameters
    text: str
    take: bool
    rule: str  # "article" when taken; else the skip rule ("other domain", "navigation", ...)
    detail: str = ""

    @property
    def reason(self) -> str:
        return f"{self.rule}: {self.detail}" if self.detail else self.rule


@dataclass(frozen=True)
class Listing:
    url: str
    decisions: tuple[LinkDecision, ...]  # one per distinct URL, in page order
    next_page: str | None  # where pagination continues, when the page says

    @property
    def articles(self) -> tuple[str, ...]:
        """The taken links, in page order (newest first on most sites)."""
        return tuple(d.url for d in self.decisions if d.take)


@functools.lru_cache(maxsize=16_384)  # a listing links the same URLs poll after poll
def normalize_link(url: str) -> str:
    """The link's identity: no fragment, no tracking parameters, host lowercased, query sorted."""
    url = url.split("#", 1)[0].strip()
    if urlsplit(url).scheme not in _WEB:
        return url
    try:
        return str(normalize_url(url, strict=False)).split("#", 1)[0]
    except ValueError:
        return url


def read_listing(html: str, page_url: str, rules: LinkRules = LinkRules()) -> Listing:
    """Every link of a listing page with its decision, and the next page to read."""
    try:
        document = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return Listing(page_url, (), None)
    base = _base_url(document, page_url)
    page = normalize_link(page_url)
    area = _link_area(document, rules.link_selector)
    decisions: dict[str, LinkDecision] = {}
    pagination: list[tuple[str, str]] = []  # (url, why: rel/number/text)
    for anchor, href in _anchors(document):
        absolute = urljoin(base, href)
        link = _link(anchor, normalize_link(absolute))
        decision, paging = _decide(anchor, link, absolute, page, area, rules)
        if paging:
            pagination.append((link.url, paging))
        known = decisions.get(link.url)
        if known is None or (decision.take and not known.take):
            # A story is taken wherever on the page it is linked, at the place it is taken from
            # (page order is newest first; a "breaking" link in the header is not its place).
            decisions.pop(link.url, None)
            decisions[link.url] = decision
    return Listing(page_url, tuple(decisions.values()), _next_page(document, base, page, pagination))


def _anchors(document: lxml.html.HtmlElement) -> Iterator[tuple[lxml.html.HtmlElement, str]]:
    for anchor in document.iter("a", "area"):
        href = (anchor.get("href") or "").strip()
        if href and not href.startswith("#"):
            yield anchor, href


def _link(anchor: lxml.html.HtmlElement, url: str) -> _Link:
    text = " ".join((anchor.text_content() or "").split()) or anchor.get("title") or ""
    if not text:
        text = " ".join(img.get("alt", "") for img in anchor.iter("img")).strip()
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    in_heading = any(a.tag in ("h1", "h2", "h3", "h4") for a in anchor.iterancestors())
    return _Link(url, path, text, in_heading)


def _decide(
    anchor: lxml.html.HtmlElement, link: _Link, absolute: str, page: str, area: set[object] | None, rules: LinkRules
) -> tuple[LinkDecision, str | None]:
    """The link's decision, and why it is a pagination link when it is one."""

    def skip(rule: str, detail: str = "") -> tuple[LinkDecision, str | None]:
        return LinkDecision(link.url, link.text, False, rule, detail), None

    scheme = urlsplit(absolute).scheme.lower()
    if scheme not in _WEB and not (scheme == "file" and urlsplit(page).scheme == "file"):
        return skip("not a web link", f"{scheme}:" if scheme else "")
    if area is not None and not any(node in area for node in _self_and_ancestors(anchor)):
        return skip("outside the link area", rules.link_selector or "")
    refusal = _private_address(link.url, rules.allow_hosts)
    if refusal:
        return skip("private address", refusal)
    if scheme in _WEB and not _same_site(link.url, page, rules.extra_domains):
        return skip("other domain", urlsplit(link.url).hostname or "")
    if link.url == page:
        return skip("the listing page itself")
    paging = _pagination(anchor, link)
    if paging:
        return LinkDecision(link.url, link.text, False, "pagination", paging), paging
    for pattern in rules.exclude:
        if pattern.search(link.url):
            return skip("excluded by pattern", pattern.pattern)
    for rule, url_pattern, detail in _URL_RULES:
        match = url_pattern.search(link.path)
        if match:
            text = match.group(0)
            return skip(rule, detail or (text[text.find("/") :] if "/" in text else text))
    region = _region(anchor)
    if region:
        return skip(*region)
    if rules.include:
        for pattern in rules.include:
            if pattern.search(link.url):
                return LinkDecision(link.url, link.text, True, "article", f"matches {pattern.pattern}"), None
        return skip("not matched by include patterns")
    signals = [s for s in _SHAPE if s.test(link)]
    score = sum(s.weight for s in signals)
    detail = ", ".join(f"{s.name} {s.weight:+d}" for s in signals) + f" = {score}" if signals else "score 0"
    if score >= TAKE_SCORE:
        return LinkDecision(link.url, link.text, True, "article", detail), None
    return skip("no article shape", detail)


def _self_and_ancestors(node: lxml.html.HtmlElement) -> Iterator[object]:
    yield node
    yield from node.iterancestors()


def _link_area(document: lxml.html.HtmlElement, selector: str | None) -> set[object] | None:
    return None if selector is None else set(_selector(selector)(document))


def _region(anchor: lxml.html.HtmlElement) -> tuple[str, str] | None:
    ancestors = list(anchor.iterancestors())
    in_story = any(a.tag in _STORY_TAGS for a in ancestors)
    for node in ancestors:
        tag = node.tag if isinstance(node.tag, str) else ""
        role = (node.get("role") or "").lower()
        tokens = set((node.get("class") or "").lower().split()) | {(node.get("id") or "").lower()}
        for reason, tags, roles, names in _REGIONS:
            if tag in tags and not (in_story and tag in ("header", "footer")):
                return reason, f"<{tag}>"
            if role and role in roles:
                return reason, f'role="{role}"'
            named = tokens & names
            if named:
                return reason, f'class/id "{sorted(named)[0]}"'
    return None


def _pagination(anchor: lxml.html.HtmlElement, link: _Link) -> str | None:
    if "next" in (anchor.get("rel") or "").lower().split():
        return "rel=next"
    if _PAGE_NUMBER.search(link.path):
        return "page number"
    if _NEXT_TEXT.search(link.text):
        return f'"{link.text}"'
    return None


def _next_page(
    document: lxml.html.HtmlElement, base: str, page: str, pagination: list[tuple[str, str]]
) -> str | None:
    """rel=next (a <link> in the head or an <a>), else the link to page N+1, else a "next" text link."""
    for node in document.iter("link"):
        if "next" in (node.get("rel") or "").lower().split() and node.get("href"):
            return normalize_link(urljoin(base, node.get("href", "")))
    for url, why in pagination:
        if why == "rel=next":
            return url
    following = _page_number(page) + 1
    for url, why in pagination:
        if why == "page number" and _page_number(url) == following:
            return url
    for url, why in pagination:
        if why.startswith('"') and url != page:
            return url
    return None


def _page_number(url: str) -> int:
    parts = urlsplit(url)
    match = _PAGE_NUMBER.search(parts.path + (f"?{parts.query}" if parts.query else ""))
    if not match:
        return 1
    return int(match.group(1) or match.group(2))


def _base_url(document: lxml.html.HtmlElement, page_url: str) -> str:
    for node in document.iter("base"):
        href = str(node.get("href") or "")
        if href:
            return urljoin(page_url, href)
    return page_url


@functools.lru_cache(maxsize=16_384)
def _private_address(url: str, allow_hosts: frozenset[str]) -> str | None:
    """Why a link to a literal loopback/private address may not be taken (the fetcher's guard
    would refuse it anyway; names that resolve there are refused by the guard when fetched)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in _WEB or not host:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "invalid port"
    if host == "localhost":
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address("127.0.0.1")
    else:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_global or AllowList.parse(allow_hosts).allows(ip, port, host):
        return None
    return f"{host}:{port} is not in allow_hosts"


def _same_site(url: str, page: str, extra_domains: tuple[str, ...]) -> bool:
    site = _site(url)
    if site is not None and site == _site(page):
        return True
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) or site == d for d in extra_domains)


@functools.lru_cache(maxsize=4096)
def _site(url: str) -> str | None:
    """Which site a URL belongs to: its registered domain ("harbour-gazette.example" for
    "news.harbour-gazette.example"), or host:port for an address or localhost."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
        return f"{host}:{parts.port or ''}"
    except ValueError:
        pass
    if host == "localhost" or "." not in host:
        return f"{host}:{parts.port or ''}"
    known = extract_domain(url, fast=True)
    if known:
        return str(known)
    # Not in the public suffix list (.example, .test, .internal): the last two labels.
    return ".".join(host.split(".")[-2:])
