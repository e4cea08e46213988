"""read_rights(): robots directives, TDM reservations and their precedence, licences, paywalls. Pure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingest.jobs import ResponseHeaders
from workers.rights import creative_commons_name, read_rights

URL = "https://news.example/2026/12/harbour-bridge"


def _page(head: str = "", body: str = "<p>Text.</p>") -> str:
    return f"<!doctype html><html><head><title>t</title>{head}</head><body><article>{body}</article></body></html>"


def _json_ld(data: Any) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


# -- robots -------------------------------------------------------------------------------------------


def test_x_robots_tag_directives_are_recorded() -> None:
    rights = read_rights(ResponseHeaders(x_robots_tag=("noarchive, nosnippet",)), _page(), URL)
    assert rights.robots == ("noarchive", "nosnippet")


def test_x_robots_tag_for_another_crawler_is_ignored() -> None:
    rights = read_rights(ResponseHeaders(x_robots_tag=("googlebot: noindex, nofollow",)), _page(), URL)
    assert rights.robots == ()


def test_x_robots_tag_for_our_agent_counts() -> None:
    headers = ResponseHeaders(x_robots_tag=("googlebot: noindex", "newsingest: noarchive"))
    assert read_rights(headers, _page(), URL).robots == ("noarchive",)


def test_a_valued_directive_is_not_a_user_agent() -> None:
    headers = ResponseHeaders(x_robots_tag=("max-snippet: 0, noarchive",))
    assert read_rights(headers, _page(), URL).robots == ("noarchive", "nosnippet")


def test_robots_none_means_noindex_and_nofollow_and_all_means_nothing() -> None:
    assert read_rights(ResponseHeaders(x_robots_tag=("none",)), _page(), URL).robots == ("nofollow", "noindex")
    assert read_rights(ResponseHeaders(x_robots_tag=("all",)), _page(), URL).robots == ()


def test_robots_meta_and_our_agents_meta_are_read() -> None:
    head = '<meta name="ROBOTS" content="NoSnippet"><meta name="newsingest" content="noarchive"><meta name="otherbot" content="noindex">'
    assert read_rights(ResponseHeaders(), _page(head), URL).robots == ("noarchive", "nosnippet")


def test_noarchive_and_noindex_reserve_reuse_but_nosnippet_does_not() -> None:
    assert read_rights(ResponseHeaders(x_robots_tag=("noindex",)), _page(), URL).reservations == ("noindex",)
    assert read_rights(ResponseHeaders(x_robots_tag=("nosnippet",)), _page(), URL).reservations == ()


# -- TDM reservation -----------------------------------------------------------------------------------

TDM_META = '<meta name="tdm-reservation" content="0"><meta name="tdm-policy" content="https://news.example/meta-policy">'


def test_tdm_header_reserves_with_its_policy() -> None:
    headers = ResponseHeaders(tdm_reservation="1", tdm_policy="https://news.example/tdm-policy.json")
    rights = read_rights(headers, _page(), URL)
    assert (rights.tdm_reserved, rights.tdm_policy, rights.tdm_signal) == (
        True, "https://news.example/tdm-policy.json", "header"
    )
    assert rights.reservations == ("tdm-reservation (header)",)


def test_tdm_header_beats_the_meta() -> None:
    rights = read_rights(ResponseHeaders(tdm_reservation="1"), _page(TDM_META), URL)
    assert (rights.tdm_reserved, rights.tdm_signal, rights.tdm_policy) == (True, "header", None)


def test_tdm_meta_beats_the_site_policy() -> None:
    headers = ResponseHeaders(tdm_reservation_site=1, tdm_policy_site="https://news.example/site-policy")
    rights = read_rights(headers, _page(TDM_META), URL)
    assert (rights.tdm_reserved, rights.tdm_signal, rights.tdm_policy) == (
        False, "meta", "https://news.example/meta-policy"
    )


def test_site_policy_applies_when_the_page_says_nothing() -> None:
    headers = ResponseHeaders(tdm_reservation_site=1, tdm_policy_site="https://news.example/site-policy")
    rights = read_rights(headers, _page(), URL)
    assert (rights.tdm_reserved, rights.tdm_signal, rights.tdm_policy) == (
        True, "tdmrep", "https://news.example/site-policy"
    )


def test_an_unclear_tdm_value_says_nothing() -> None:
    rights = read_rights(ResponseHeaders(tdm_reservation="yes", tdm_reservation_site=0), _page(), URL)
    assert (rights.tdm_reserved, rights.tdm_signal) == (False, "tdmrep")


def test_no_signal_at_all() -> None:
    rights = read_rights(ResponseHeaders(), _page(), URL)
    assert (rights.tdm_reserved, rights.tdm_signal, rights.reservations) == (False, None, ())


# -- licences -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://creativecommons.org/licenses/by-sa/4.0/", "CC-BY-SA-4.0"),
        ("http://creativecommons.org/licenses/by/4.0", "CC-BY-4.0"),
        ("https://creativecommons.org/licenses/by-nc-nd/3.0/de/", "CC-BY-NC-ND-3.0-DE"),
        ("https://creativecommons.org/licenses/by-nc/4.0/deed.en", "CC-BY-NC-4.0"),
        ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0"),
        ("https://creativecommons.org/publicdomain/mark/1.0/", "CC-PDM-1.0"),
        ("https://www.creativecommons.org/licenses/by/2.0/", "CC-BY-2.0"),
        ("https://news.example/licensing", None),
        ("https://creativecommons.org.evil.example/licenses/by/4.0/", None),
    ],
)
def test_creative_commons_names(url: str, name: str | None) -> None:
    assert creative_commons_name(url) == name


def test_link_header_licence_comes_first() -> None:
    headers = ResponseHeaders(
        link_license=('</style.css>; rel=preload, <https://creativecommons.org/licenses/by/4.0/>; rel="license"',)
    )
    head = '<link rel="license" href="https://creativecommons.org/licenses/by-nd/4.0/">'
    rights = read_rights(headers, _page(head), URL)
    assert (rights.license_url, rights.license) == ("https://creativecommons.org/licenses/by/4.0/", "CC-BY-4.0")


def test_link_element_licence() -> None:
    head = '<link rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/">'
    assert read_rights(ResponseHeaders(), _page(head), URL).license == "CC-BY-SA-4.0"


def test_anchor_licence_is_made_absolute() -> None:
    body = '<p>Text.</p><footer><a rel="license noopener" href="/terms/reuse">Reuse terms</a></footer>'
    rights = read_rights(ResponseHeaders(), _page(body=body), URL)
    assert (rights.license_url, rights.license) == ("https://news.example/terms/reuse", None)


def test_json_ld_licence_object() -> None:
    head = _json_ld({"@type": "NewsArticle", "license": {"@id": "https://creativecommons.org/publicdomain/zero/1.0/"}})
    assert read_rights(ResponseHeaders(), _page(head), URL).license == "CC0-1.0"


def test_no_licence() -> None:
    rights = read_rights(ResponseHeaders(), _page(), URL)
    assert (rights.license_url, rights.license) == (None, None)


# -- paywalls -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("free", [False, "False", "false"])
def test_json_ld_not_free_is_paywalled(free: object) -> None:
    head = _json_ld({"@type": "NewsArticle", "isAccessibleForFree": free})
    assert read_rights(ResponseHeaders(), _page(head), URL).paywalled


def test_json_ld_not_free_part_in_a_graph_is_paywalled() -> None:
    data = {"@graph": [{"@type": "WebSite"}, {"@type": "NewsArticle", "isAccessibleForFree": True, "hasPart": [
        {"@type": "WebPageElement", "isAccessibleForFree": "False", "cssSelector": ".locked"}]}]}
    assert read_rights(ResponseHeaders(), _page(_json_ld(data)), URL).paywalled


def test_free_json_ld_is_not_paywalled() -> None:
    assert not read_rights(ResponseHeaders(), _page(_json_ld({"isAccessibleForFree": "True"})), URL).paywalled


@pytest.mark.parametrize("tier", ["locked", "Metered"])
def test_content_tier_meta_is_paywalled(tier: str) -> None:
    head = f'<meta property="article:content_tier" content="{tier}">'
    assert read_rights(ResponseHeaders(), _page(head), URL).paywalled


def test_free_content_tier_is_not_paywalled() -> None:
    head = '<meta property="article:content_tier" content="free">'
    assert not read_rights(ResponseHeaders(), _page(head), URL).paywalled


@pytest.mark.parametrize(
    "marker",
    ['<div class="article-paywall"><p>Subscribe to read on.</p></div>',
     '<section id="PaywallOverlay"><a href="/subscribe">Subscribe</a></section>',
     '<div class="body subscriber-only"><p>The rest of the story.</p></div>',
     '<div class="premium-content">More.</div>'],
)
def test_paywall_elements_are_paywalled(marker: str) -> None:
    assert read_rights(ResponseHeaders(), _page(body=f"<p>Lead.</p>{marker}"), URL).paywalled


def test_an_empty_paywall_placeholder_is_not_a_wall() -> None:
    assert not read_rights(ResponseHeaders(), _page(body='<p>Lead.</p><div id="paywall-slot"></div>'), URL).paywalled


def test_broken_json_ld_and_empty_pages_say_nothing() -> None:
    broken = '<script type="application/ld+json">{"isAccessibleForFree": false,</script>'
    assert not read_rights(ResponseHeaders(), _page(broken), URL).paywalled
    assert read_rights(ResponseHeaders(x_robots_tag=("noarchive",)), "", URL).robots == ("noarchive",)
