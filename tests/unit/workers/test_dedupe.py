"""canonical_url(), content_hash(), find_duplicate(): one id per article, one cluster per story."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from workers.dedupe import canonical_url, content_hash, find_duplicate

PAGE = "https://www.worldwire.example/2016/08/putin-erdogan-repair-ties"


class DictDedupe:
    """DedupeStore test double: the first doc_id to claim a hash holds it."""

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}

    def claim(self, content_hash: str, doc_id: str) -> str:
        return self.holders.setdefault(content_hash, doc_id)


def test_tracking_parameters_are_dropped() -> None:
    tracked = f"{PAGE}?utm_source=rss&utm_medium=feed&utm_campaign=world&fbclid=abc"

    assert canonical_url(tracked, None, None) == (PAGE, None)


def test_host_is_lowercased_fragment_dropped_and_query_sorted() -> None:
    assert canonical_url("HTTPS://WWW.WorldWire.example/a?b=2&a=1#comments", None, None) == (
        "https://www.worldwire.example/a?a=1&b=2",
        None,
    )


def test_query_parameters_that_name_the_article_are_kept() -> None:
    first, _ = canonical_url("https://news.example/story.php?sid=1", None, None)
    second, _ = canonical_url("https://news.example/story.php?sid=2", None, None)

    assert first != second


def test_claim_on_the_same_registered_domain_is_trusted() -> None:
    assert canonical_url("https://amp.worldwire.example/amp/x?utm_source=rss", PAGE, None) == (PAGE, None)


def test_claim_on_the_source_domain_is_trusted() -> None:
    claim = "https://www.worldwire.example/2016/08/x"

    assert canonical_url("https://cdn-mirror.example/x", claim, "https://www.worldwire.example/feeds/top.xml") == (
        claim,
        None,
    )


def test_claim_on_another_outlet_is_returned_as_untrusted() -> None:
    page = "https://dailyledger.example/world/putin-erdogan-seek-common-ground"

    assert canonical_url(page, PAGE, "https://dailyledger.example/feed/") == (page, PAGE)


def test_claim_under_a_shared_public_suffix_is_untrusted() -> None:
    page = "https://news.harbour.co.uk/a"

    assert canonical_url(page, "https://other.co.uk/a", None) == (page, "https://other.co.uk/a")


def test_claim_on_a_lookalike_domain_is_untrusted() -> None:
    claim = "https://worldwire.example.attacker.example/2016/08/x"

    assert canonical_url(PAGE, claim, None) == (PAGE, claim)


def test_claim_that_is_not_a_web_url_is_untrusted() -> None:
    assert canonical_url(PAGE, "javascript:void(0)", None) == (PAGE, "javascript:void(0)")


def test_claim_of_the_home_page_by_an_article_is_untrusted() -> None:
    assert canonical_url(PAGE, "https://www.worldwire.example/", None) == (PAGE, "https://www.worldwire.example/")


def test_file_url_loses_query_and_fragment() -> None:
    assert canonical_url("file:///srv/seeds/a.html?utm_source=x#top", None, None) == ("file:///srv/seeds/a.html", None)


def test_file_page_cannot_claim_a_web_url() -> None:
    page = "file:///srv/seeds/worldwire/2016/08/putin-erdogan-repair-ties.html"

    assert canonical_url(page, PAGE, "file:///srv/seeds/") == (page, PAGE)


def test_claim_equal_to_the_page_is_not_reported() -> None:
    assert canonical_url(f"{PAGE}#top", PAGE, None) == (PAGE, None)


def test_content_hash_ignores_case_quotes_dashes_and_spacing() -> None:
    syndicated = "“We are working on that”, – Putin added.\n\nThe dispute has strained U.S."
    rewritten = '"we are working on that," - putin added. The dispute  has strained U.S.'

    assert content_hash(syndicated) == content_hash(rewritten)


def test_content_hash_tells_different_words_apart() -> None:
    assert content_hash("Putin met Erdogan on Tuesday.") != content_hash("Putin met Erdogan on Wednesday.")


def test_content_hash_is_sha256_hex() -> None:
    digest = content_hash("text")

    assert len(digest) == 64 and int(digest, 16) >= 0


def test_first_claim_of_a_hash_is_no_duplicate() -> None:
    assert find_duplicate(DictDedupe(), "h", "doc-a") is None


def test_second_document_with_the_same_hash_gets_the_holder() -> None:
    store = DictDedupe()
    find_duplicate(store, "h", "doc-a")

    assert find_duplicate(store, "h", "doc-b") == "doc-a"


def test_holder_claiming_again_is_no_duplicate_of_itself() -> None:
    store = DictDedupe()
    find_duplicate(store, "h", "doc-a")

    assert find_duplicate(store, "h", "doc-a") is None


_HTTP_URLS = urls() | st.builds(lambda rest: f"http://{rest}", st.text(max_size=60))


@settings(max_examples=500, deadline=None)
@given(url=_HTTP_URLS)
def test_canonical_url_is_idempotent_and_never_raises(url: str) -> None:
    canonical, untrusted = canonical_url(url, None, None)

    assert untrusted is None
    assert canonical_url(canonical, None, None) == (canonical, None)


@settings(max_examples=300, deadline=None)
@given(url=_HTTP_URLS, claim=_HTTP_URLS, source=st.none() | _HTTP_URLS)
def test_canonical_url_with_any_claim_never_raises_and_is_stable(url: str, claim: str, source: str | None) -> None:
    canonical, _ = canonical_url(url, claim, source)

    assert canonical_url(canonical, None, None)[0] == canonical


def test_mobile_host_names_the_desktop_page() -> None:
    assert canonical_url("https://m.worldwire.example/2016/08/putin-erdogan-repair-ties", None, None)[0] == PAGE


def test_amp_host_names_the_desktop_page() -> None:
    assert canonical_url("https://amp.worldwire.example/2016/08/putin-erdogan-repair-ties", None, None)[0] == PAGE


def test_amp_path_segment_names_the_canonical_page() -> None:
    assert canonical_url(f"{PAGE}/amp", None, None)[0] == PAGE


def test_amp_file_suffix_names_the_canonical_page() -> None:
    assert canonical_url("https://news.example/a/story.amp.html", None, None)[0] == "https://news.example/a/story.html"


def test_amp_query_flag_is_dropped_and_other_parameters_kept() -> None:
    assert canonical_url("https://news.example/story.php?amp=1&sid=7", None, None)[0] == "https://news.example/story.php?sid=7"


def test_a_word_that_starts_with_amp_is_not_an_amp_marker() -> None:
    assert canonical_url("https://news.example/ampere/record", None, None)[0] == "https://news.example/ampere/record"


def test_amp_page_claiming_its_canonical_page_gets_its_id() -> None:
    assert canonical_url(f"{PAGE}?amp", PAGE, None) == (PAGE, None)
