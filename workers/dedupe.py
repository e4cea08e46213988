"""canonical_url(), clean_url(), content_hash(), find_duplicate(): which URL and which story a document is. Never stores state.

The only state (who holds a content hash) lives behind the DedupeStore port, passed in by the caller.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit, urlunsplit

from courlan import extract_domain, normalize_url

from workers.ports import DedupeStore

_WORD = re.compile(r"[^\W_]+")
_WEB_SCHEMES = frozenset({"http", "https"})
# Hosts of a site's mobile and AMP editions, and the query keys that only switch the edition.
_VARIANT_HOST_LABELS = frozenset({"m", "mobile", "amp"})
_AMP_QUERY_KEYS = frozenset({"amp", "amp_js_v", "usqp"})
_AMP_SUFFIX = re.compile(r"\.amp(?=\.html?$|$)")
_MAX_ROUNDS = 8  # each round only removes parts, so it settles in a round or two; a bound all the same


def canonical_url(url: str, claimed: str | None, source_url: str | None) -> tuple[str, str | None]:
    """The document's canonical URL, and the page's claim when it was not trusted (to be recorded).

    The claim (rel=canonical / og:url) is used only when it is on the registered domain of the
    page's final URL or of the source (DESIGN decision 12): a page cannot take another outlet's id.
    Nor can an article take its site's home page as its id.
    Tracking parameters (utm_*, fbclid, ...) and fragments are dropped, the query is sorted, the
    host lowercased, and mobile and AMP editions (m.host, /amp, ?amp=1) name the desktop page.
    Idempotent, and never raises.
    """
    page = _normalize(url)
    claim = (claimed or "").strip()
    if not claim:
        return page, None
    normalized_claim = _normalize(claim)
    if normalized_claim == page:
        return page, None
    if _trusted(normalized_claim, page, source_url or ""):
        return normalized_claim, None
    return page, claim


def clean_url(url: str) -> str:
    """The URL without tracking parameters and fragment, host lowercased: the address to show."""
    return _normalize(url)


def content_hash(text: str) -> str:
    """sha256 (hex) of the text's words, casefolded: blind to the punctuation, quote style and
    spacing that syndication changes, so two outlets' copies of one story hash alike."""
    return hashlib.sha256(" ".join(comparable_words(text)).encode("utf-8")).hexdigest()


@lru_cache(maxsize=8)  # prepare() asks for the same text's words twice: its content hash and its MinHash
def comparable_words(text: str) -> tuple[str, ...]:
    """The words two copies of a story share whatever their punctuation, quotes, case and Unicode form."""
    return tuple(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def find_duplicate(dedupe: DedupeStore, content_hash: str, doc_id: str) -> str | None:
    """The id of the earlier document with the same content, or None when `doc_id` holds it (first or again)."""
    holder = dedupe.claim(content_hash, doc_id)
    return None if holder == doc_id else holder


def _trusted(claim: str, page: str, source_url: str) -> bool:
    if _scheme(claim) not in _WEB_SCHEMES or _scheme(page) not in _WEB_SCHEMES:
        return False
    # Sites that point every page's canonical at their home page exist: taken at their word, all
    # their articles would share one id and overwrite each other.
    if _path(claim) in ("", "/") and _path(page) not in ("", "/"):
        return False
    trusted_domains = {_registered_domain(page), _registered_domain(source_url)} - {None}
    return _registered_domain(claim) in trusted_domains


@lru_cache(maxsize=1024)  # pure, and asked 2-3 times per article for the same URL (page, clean, claim)
def _normalize(url: str) -> str:
    url = url.split("#", 1)[0].strip()  # the first "#" always starts the fragment
    scheme = _scheme(url)
    if scheme not in _WEB_SCHEMES:
        # file: and other local URLs (or unparseable ones): the path is the identity, not the query.
        return url.split("?", 1)[0].strip() if scheme else url
    try:
        parts = urlsplit(url)
        if not parts.hostname:
            # "https:x" names no site: like a local URL, its path is its identity (courlan would turn
            # "https:..//x" into "https:///../x", then "https:///x": never the same twice).
            return url.split("?", 1)[0].strip()
        normalized = _web_round(parts)
        # courlan's path clean-up and the AMP rules can each expose work for the other ("/amp/.."
        # loses its "amp", then courlan drops the leading "/.."): repeat until nothing changes.
        for _ in range(_MAX_ROUNDS):
            again = _web_round(urlsplit(normalized))
            if again == normalized:
                break
            normalized = again
    except ValueError:
        return url
    return normalized


def _web_round(parts: SplitResult) -> str:
    # Not courlan's strict mode: it keeps only a dozen known query keys, so ?sid=1 and ?sid=2
    # (two articles) would share one id; the default mode drops trackers and keeps the rest.
    # A split URL, not the string: given a string courlan HTML-unescapes it first, and that is
    # not idempotent ("?a=1&ampl=2" sorted to "a=1&ampl=2" would lose its "amp" on the next pass).
    return _desktop_variant(normalize_url(parts, strict=False).split("#", 1)[0].strip())


def _desktop_variant(url: str) -> str:
    """The URL of the page's desktop, non-AMP edition: m./mobile./amp. hosts become www., and AMP
    path segments (/amp, .amp.html) and query flags (amp=1, outputType=amp) go. Idempotent."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return url
    labels = host.split(".")
    while len(labels) > 2 and labels[0] in _VARIANT_HOST_LABELS:
        labels = labels[1:]
    if len(labels) != len(host.split(".")):
        labels = ["www", *labels] if len(labels) == 2 else labels
    netloc = parts.netloc.replace(host, ".".join(labels), 1) if host else parts.netloc
    path = _non_amp_path(parts.path)
    query = "&".join(
        pair for pair in parts.query.split("&")
        if pair and pair.split("=", 1)[0].lower() not in _AMP_QUERY_KEYS and pair.lower() != "outputtype=amp"
    )
    return urlunsplit((parts.scheme, netloc, path or "/", query, ""))


def _non_amp_path(path: str) -> str:
    """The path without /amp segments and .amp suffixes. Each removal can expose the other
    ("/a.amp/amp" -> "/a.amp" -> "/a"), so both repeat until neither changes anything."""
    while True:
        stripped = "/".join(segment for segment in path.split("/") if segment != "amp")
        stripped = _AMP_SUFFIX.sub("", stripped)
        if stripped == path:
            return path
        path = stripped


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme
    except ValueError:
        return ""


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def _registered_domain(url: str) -> str | None:
    """The domain a person registered ("worldwire.example" for "https://www.worldwire.example/x")."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    known = extract_domain(url)
    if known:
        return known
    # Not in the public suffix list (.example, .test, .internal): the last two labels.
    labels = [label for label in host.split(".") if label]
    return ".".join(labels[-2:]) if labels else None
