"""Hypothesis properties beside the URL fuzz target: query strings full of trackers, entity-like keys
and AMP flags. The canonical URL keeps no tracker and no fragment, and canonicalizing it again
changes nothing (its hash is the document id)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz.oracles import check_url
from workers.dedupe import canonical_url

_KEYS = st.sampled_from(["utm_source", "UTM_Medium", "fbclid", "gclid", "id", "sid", "amp", "ampl", "page", "a", "q"])
_VALUES = st.sampled_from(["", "1", "x y", "%26", "&amp;", "2026"])
_HOSTS = st.sampled_from(["news.example.com", "m.news.example.com", "amp.harbour.co.uk", "127.0.0.1", "[::1]:8080"])
_PATHS = st.sampled_from(["", "/", "/world/story", "/amp/world/story", "/story.amp.html", "/a%20b"])


@st.composite
def _page_urls(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(_KEYS, _VALUES), max_size=5))
    separator = draw(st.sampled_from(["&", "&amp;", ";"]))
    query = separator.join(f"{key}={value}" for key, value in pairs)
    fragment = draw(st.sampled_from(["", "#top", "#utm_source=x"]))
    return f"https://{draw(_HOSTS)}{draw(_PATHS)}{'?' + query if query else ''}{fragment}"


@settings(max_examples=400, deadline=None)
@given(url=_page_urls(), claim=st.none() | _page_urls())
def test_canonical_url_drops_trackers_and_fragments_and_is_idempotent(url: str, claim: str | None) -> None:
    check_url("\n".join([url, claim or ""]).encode())
    canonical, _ = canonical_url(url, claim, None)

    keys = [key.lower() for key, _ in parse_qsl(urlsplit(canonical).query, keep_blank_values=True)]
    assert not [key for key in keys if key.startswith("utm_") or key in ("fbclid", "gclid")]
