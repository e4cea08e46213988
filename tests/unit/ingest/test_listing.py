"""read_listing(): which links of a listing page are articles, and why the others are not.

The fixture site's pages against the truth list kept beside them (tests/fixtures/sites/harbour-gazette/truth.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.listing import LinkDecision, Listing, link_rules, read_listing

SITE = Path(__file__).resolve().parents[2] / "fixtures" / "sites" / "harbour-gazette"
TRUTH: dict[str, list[str]] = json.loads((SITE / "truth.json").read_text(encoding="utf-8"))
BASE = "https://harbour-gazette.example"


def _url_of(file: str) -> str:
    """The address a listing file is served at (`city/page-2.html` is /city/?page=2)."""
    relative = file.removeprefix("later/")
    folder, _, name = relative.rpartition("/")
    prefix = f"{BASE}/{folder}/" if folder else f"{BASE}/"
    return prefix if name == "index.html" else f"{prefix}?page={name.removeprefix('page-').removesuffix('.html')}"


def _read(file: str, **hints: object) -> Listing:
    return read_listing((SITE / file).read_text(encoding="utf-8"), _url_of(file), link_rules(**hints))  # type: ignore[arg-type]


def _decision(listing: Listing, path: str) -> LinkDecision:
    return next(d for d in listing.decisions if d.url == BASE + path)


@pytest.mark.parametrize("file", sorted(TRUTH))
def test_the_fixture_pages_give_exactly_their_article_links(file: str) -> None:
    taken = set(_read(file).articles)
    truth = {BASE + path for path in TRUTH[file]}
    precision = len(taken & truth) / len(taken)
    recall = len(taken & truth) / len(truth)
    assert (precision, recall) == (1.0, 1.0), f"wrongly taken {taken - truth}, missed {truth - taken}"


def test_every_skip_rule_of_a_real_layout_is_named() -> None:
    rules = {d.rule for file in TRUTH for d in _read(file).decisions if not d.take}
    assert rules >= {
        "other domain", "navigation", "in header/footer/nav", "in an ad or share block", "media file",
        "not crawlable", "account", "advertising", "pagination", "no article shape", "not a web link",
        "the listing page itself",
    }


def test_skip_reasons_say_what_matched() -> None:
    front = _read("index.html")
    assert _decision(front, "/tag/ferries/").reason == "navigation: /tag/"
    assert _decision(front, "/documents/harbour-budget-2027.pdf").reason == "media file: .pdf"
    assert _decision(front, "/login/").reason == "not crawlable: /login/"
    assert _decision(front, "/events/christmas-market/").reason == "no article shape: score 0"
    assert _decision(_read("city/index.html"), "/port/").reason == "in header/footer/nav: <nav>"
    assert next(d for d in front.decisions if "ads.example" in d.url).reason == "other domain: ads.example"


def test_a_story_linked_twice_with_tracking_parameters_is_one_link() -> None:
    front = _read("index.html")
    pier = [url for url in front.articles if "ferry-pier" in url]
    assert pier == [f"{BASE}/2026/11/24/council-approves-new-ferry-pier/"]


def test_a_story_in_the_header_and_in_the_page_is_taken() -> None:
    decision = _decision(_read("city/index.html"), "/2026/11/24/storm-delays-container-ship/")
    assert decision.reason == "in header/footer/nav: <header>"  # on the city page it is only in the header
    assert _decision(_read("port/index.html"), "/2026/11/24/storm-delays-container-ship/").take


def test_pagination_continues_at_rel_next_and_ends_on_the_last_page() -> None:
    assert _read("city/index.html").next_page == f"{BASE}/city/?page=2"
    assert _read("city/page-2.html").next_page == f"{BASE}/city/?page=3"
    assert _read("city/page-3.html").next_page is None


def test_page_number_links_continue_pagination_without_rel_next() -> None:
    html = "<main><a href='/a/2026/01/02/one-two-three'>x</a> <a href='?page=2'>2</a> <a href='?page=3'>3</a></main>"
    assert read_listing(html, f"{BASE}/a/").next_page == f"{BASE}/a/?page=2"


def test_an_exclude_pattern_skips_links_that_look_like_articles() -> None:
    front = _read("index.html", exclude=("/live/",))
    assert _decision(front, "/live/storm-watch-2026-11-24/").reason == "excluded by pattern: /live/"


def test_include_patterns_take_only_the_links_they_match() -> None:
    front = _read("index.html", include=(r"/2026/11/2[34]/",))
    assert all("/2026/11/2" in url for url in front.articles) and len(front.articles) == 5
    assert _decision(front, "/news/4471203").reason == "not matched by include patterns"


def test_a_link_selector_reads_links_only_in_that_area() -> None:
    front = _read("index.html", link_selector="section.wires")
    assert front.articles == (f"{BASE}/world/2016/08/10/putin-erdogan-repair-ties/",)
    assert _decision(front, "/news/4471203").reason == "outside the link area: section.wires"


def test_links_to_a_private_address_not_allowed_are_skipped() -> None:
    html = "<main><a href='http://127.0.0.1:1/2026/11/24/secret-admin-story-here/'>x</a>" \
           "<a href='/2026/11/24/a-local-story-on-this-port/'>y</a></main>"
    listing = read_listing(html, "http://127.0.0.1:8081/", link_rules(allow_hosts=frozenset({"127.0.0.1:8081"})))
    assert listing.articles == ("http://127.0.0.1:8081/2026/11/24/a-local-story-on-this-port/",)
    assert listing.decisions[0].reason == "private address: 127.0.0.1:1 is not in allow_hosts"


def test_subdomains_and_extra_domains_belong_to_the_site() -> None:
    html = (
        "<main><a href='https://news.harbour-gazette.example/2026/11/24/a-story-on-a-subdomain/'>a</a>"
        "<a href='https://gazette-archive.example/2026/11/24/a-story-on-a-sister-site/'>b</a></main>"
    )
    alone = read_listing(html, f"{BASE}/")
    assert len(alone.articles) == 1 and alone.decisions[1].reason == "other domain: gazette-archive.example"
    assert len(read_listing(html, f"{BASE}/", link_rules(extra_domains=("gazette-archive.example",))).articles) == 2


def test_a_page_that_is_not_html_has_no_links() -> None:
    assert read_listing("", f"{BASE}/").decisions == ()
