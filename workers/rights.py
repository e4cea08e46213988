"""read_rights(): what a publisher said about reuse of one page -> Rights. Pure: headers and HTML in, no I/O.

Robots directives (X-Robots-Tag, <meta name="robots"> and the meta named after our User-Agent token),
the TDM reservation (W3C TDMRep: the HTTP header first, then the page's meta, then the host's
tdmrep.json rule that ingest looked up), the licence (Link rel="license", <link>/<a rel="license">,
JSON-LD `license`; Creative Commons URLs named) and paywall markers. Decides nothing about storage:
workers/pipeline.py applies the source's `reuse_reserved` policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from lxml import etree, html as lxml_html

from ingest.jobs import ResponseHeaders
from ingest.settings import DEFAULT_USER_AGENT

# The product token robots directives may be addressed to ("newsingest: noarchive").
AGENT_TOKEN = DEFAULT_USER_AGENT.split("/")[0].split()[0].lower()

# Directives recorded; others (nofollow aside, max-image-preview...) say nothing about keeping text.
_DIRECTIVES = frozenset({"noindex", "nofollow", "noarchive", "nosnippet", "noimageindex", "notranslate"})
# Directives that take a value after a colon: "max-snippet: 0" is not a user agent named max-snippet.
_VALUED = frozenset({"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after", "indexifembedded"})

# Paywall markers, kept short on purpose (each one is a false positive somewhere):
# * JSON-LD isAccessibleForFree false (Google's paywalled-content markup), anywhere in the page's graph;
# * <meta property="article:content_tier" content="locked|metered"> (Open Graph article tiers);
# * a non-empty element whose class or id holds one of these words (an empty placeholder is not a wall).
_PAYWALL_TIERS = frozenset({"locked", "metered"})
_PAYWALL_WORDS = ("paywall", "subscriber-only", "subscribers-only", "premium-content")

_MAX_URL = 2048
_MAX_JSON_NODES = 5_000
_LINK_VALUE = re.compile(r"<([^>]*)>([^<]*)")
_REL_PARAM = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)
_CC_LICENCE = re.compile(r"^/licenses/([a-z-]+)(?:/(\d+(?:\.\d+)?))?(?:/([a-z]{2})(?=/|$))?", re.IGNORECASE)
_CC_PUBLIC_DOMAIN = {"zero": "CC0", "mark": "CC-PDM"}

TdmSignal = Literal["header", "meta", "tdmrep"]


@dataclass(frozen=True)
class Rights:
    robots: tuple[str, ...] = ()  # directives that apply to us, sorted
    tdm_reserved: bool = False
    tdm_policy: str | None = None
    tdm_signal: TdmSignal | None = None  # which signal decided tdm_reserved (None: nobody said)
    license_url: str | None = None
    license: str | None = None  # a Creative Commons identifier ("CC-BY-SA-4.0", "CC0-1.0") when it is one
    paywalled: bool = False

    @property
    def reservations(self) -> tuple[str, ...]:
        """Why reuse is reserved ("tdm-reservation (header)", "noarchive"); () when it is not."""
        found = [f"tdm-reservation ({self.tdm_signal})"] if self.tdm_reserved else []
        return tuple(found + [d for d in ("noarchive", "noindex") if d in self.robots])


def read_rights(headers: ResponseHeaders, page: str, url: str, agent: str = AGENT_TOKEN) -> Rights:
    """The reuse signals of one fetched page; `url` resolves relative licence links."""
    tree = _parse(page)
    robots = set(_header_directives(headers.x_robots_tag, agent.lower()))
    metas = _metas(tree)
    for name in ("robots", agent.lower()):
        for content in metas.get(name, ()):
            robots.update(_directives(content))
    reserved, policy, signal = _tdm(headers, metas)
    objects = list(_json_ld_objects(tree))
    licence = _licence_url(headers, tree, objects, url)
    return Rights(
        robots=tuple(sorted(robots)),
        tdm_reserved=reserved,
        tdm_policy=policy,
        tdm_signal=signal,
        license_url=licence,
        license=creative_commons_name(licence) if licence else None,
        paywalled=_paywalled(tree, metas, objects),
    )


def creative_commons_name(url: str) -> str | None:
    """"CC-BY-SA-4.0" for creativecommons.org/licenses/by-sa/4.0/, "CC0-1.0" for publicdomain/zero/1.0/."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if (parts.hostname or "").removeprefix("www.") != "creativecommons.org":
        return None
    licence = _CC_LICENCE.match(parts.path)
    if licence:
        code, version, port = licence.groups()
        return "-".join(p for p in ("CC", code.upper(), version, port.upper() if port else None) if p)
    pieces = [p for p in parts.path.split("/") if p]
    if len(pieces) >= 2 and pieces[0] == "publicdomain" and pieces[1] in _CC_PUBLIC_DOMAIN:
        return "-".join([_CC_PUBLIC_DOMAIN[pieces[1]], *pieces[2:3]])
    return None


def _parse(page: str) -> Any:
    if not page.strip():
        return None
    try:
        return lxml_html.document_fromstring(page)
    except (etree.ParserError, ValueError):  # no markup at all, or an encoding declaration in a str
        return None


def _directives(content: str) -> Iterator[str]:
    for token in content.lower().split(","):
        token = token.strip()
        if token in _DIRECTIVES:
            yield token
        elif token == "none":
            yield from ("noindex", "nofollow")
        elif token.replace(" ", "") == "max-snippet:0":  # no snippet at all, in Google's words
            yield "nosnippet"


def _header_directives(lines: tuple[str, ...], agent: str) -> Iterator[str]:
    """X-Robots-Tag lines: a "name:" prefix addresses the rest of its line to one crawler (ours or not)."""
    for line in lines:
        addressee: str | None = None
        for token in line.split(","):
            name, colon, rest = token.partition(":")
            if colon and name.strip().lower() not in _VALUED:
                addressee, token = name.strip().lower(), rest
            if addressee is None or addressee == agent:
                yield from _directives(token)


def _metas(tree: Any) -> dict[str, list[str]]:
    """<meta name|property=... content=...> by lower-cased name, in page order."""
    found: dict[str, list[str]] = {}
    if tree is None:
        return found
    for meta in tree.iter("meta"):
        name = meta.get("name") or meta.get("property")
        content = meta.get("content")
        if name and content is not None:
            found.setdefault(name.strip().lower(), []).append(content.strip())
    return found


def _tdm(headers: ResponseHeaders, metas: dict[str, list[str]]) -> tuple[bool, str | None, TdmSignal | None]:
    """TDMRep precedence: the HTTP header, then the page's meta, then the host's tdmrep.json."""
    header = _flag(headers.tdm_reservation)
    if header is not None:
        return header, _text(headers.tdm_policy), "header"
    meta = _flag(next(iter(metas.get("tdm-reservation", ())), None))
    if meta is not None:
        return meta, _text(next(iter(metas.get("tdm-policy", ())), None)), "meta"
    if headers.tdm_reservation_site in (0, 1):
        return headers.tdm_reservation_site == 1, _text(headers.tdm_policy_site), "tdmrep"
    return False, None, None


def _flag(value: str | None) -> bool | None:
    value = (value or "").strip()
    return True if value == "1" else False if value == "0" else None


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:_MAX_URL] or None


def _licence_url(headers: ResponseHeaders, tree: Any, objects: list[dict[str, Any]], url: str) -> str | None:
    """The first licence named: the Link header, then <link>/<a rel="license">, then JSON-LD."""
    for line in headers.link_license:
        for match in _LINK_VALUE.finditer(line):
            rel = _REL_PARAM.search(match.group(2))
            if rel and "license" in (rel.group(1) or rel.group(2) or "").lower().split():
                return _absolute(match.group(1), url)
    if tree is not None:
        for element in tree.iter("link", "a"):
            if "license" in (element.get("rel") or "").lower().split() and element.get("href"):
                return _absolute(element.get("href"), url)
    for value in _values(objects, "license"):
        if isinstance(value, dict):
            value = value.get("url") or value.get("@id")
        if isinstance(value, str) and value.strip():
            return _absolute(value, url)
    return None


def _absolute(href: str, base: str) -> str | None:
    try:
        return urljoin(base, href.strip())[:_MAX_URL] or None
    except ValueError:
        return None


def _json_ld_objects(tree: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object of the page's JSON-LD blocks, nested ones included (hasPart, @graph), capped."""
    if tree is None:
        return
    seen = 0
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            pending: list[Any] = [json.loads(script.text or "")]
        except ValueError:
            continue
        while pending and seen < _MAX_JSON_NODES:
            node = pending.pop()
            seen += 1
            if isinstance(node, dict):
                yield node
                pending.extend(reversed(list(node.values())))
            elif isinstance(node, list):
                pending.extend(reversed(node))


def _values(objects: list[dict[str, Any]], key: str) -> Iterator[Any]:
    return (obj[key] for obj in objects if key in obj)


def _paywalled(tree: Any, metas: dict[str, list[str]], objects: list[dict[str, Any]]) -> bool:
    if any(value is False or (isinstance(value, str) and value.strip().lower() == "false")
           for value in _values(objects, "isAccessibleForFree")):
        return True
    if any(tier.lower() in _PAYWALL_TIERS for tier in metas.get("article:content_tier", ())):
        return True
    if tree is None:
        return False
    for element in tree.iter(etree.Element):
        marks = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
        if any(word in marks for word in _PAYWALL_WORDS) and (len(element) or (element.text or "").strip()):
            return True
    return False
