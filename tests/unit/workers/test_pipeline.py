"""prepare() / finish() / process(): seed pages in, clean deduplicated Articles (or the reason) out."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ingest.jobs import ArticleJob
from workers.errors import NotAnArticle, UnsupportedContent
from workers.index.sqlite import open_database
from workers.pipeline import Draft, finish, prepare, process
from workers.state_sqlite import SqliteStoryState

ROOT = Path(__file__).resolve().parents[3]
PAGES = ROOT / "seeds/pages"
TRUTH_PARAGRAPHS = [
    p.strip() for p in (ROOT / "seeds/truth/putin-erdogan.txt").read_text(encoding="utf-8").split("\n\n") if p.strip()
]
WORLDWIRE_PAGE = "worldwire/2016/08/putin-erdogan-repair-ties.html"
LEDGER_PAGE = "dailyledger/world/putin-erdogan-seek-common-ground.html"
WORLDWIRE_URL = "https://www.worldwire.example/2016/08/putin-erdogan-repair-ties"
LEDGER_URL = "https://dailyledger.example/world/putin-erdogan-seek-common-ground"
NOW = datetime(2016, 8, 24, 6, 30, tzinfo=timezone.utc)
FETCHED = datetime(2016, 8, 10, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def state() -> Iterator[SqliteStoryState]:
    """The embedded StoryState on a fresh in-memory database."""
    db = open_database(":memory:")
    yield SqliteStoryState(db)
    db.close()


def make_job(page: str, final_url: str, **overrides: Any) -> ArticleJob:
    """A job as ingest would send it for a seed page fetched from `final_url`."""
    fields: dict[str, Any] = {
        "url": final_url,
        "final_url": final_url,
        "fetched_at": FETCHED,
        "status": 200,
        "headers": {"content_type": "text/html; charset=utf-8"},
        "html": (PAGES / page).read_text(encoding="utf-8") if page else "",
        "source": {
            "name": "worldwire",
            "kind": "rss",
            "url": "https://www.worldwire.example/feeds/top.xml",
            "tags": ["world", "wire"],
            "language": "en",
        },
        "entry": None,
        "discovered_via": "feed",
    }
    fields.update(overrides)
    return ArticleJob.model_validate(fields)


def test_seed_page_text_holds_every_paragraph_of_the_truth() -> None:
    text = prepare(make_job(WORLDWIRE_PAGE, WORLDWIRE_URL)).fields["text"]

    missing = [p for p in TRUTH_PARAGRAPHS if p not in text]
    assert not missing, f"sentences lost: {missing}"


def test_seed_page_text_has_no_page_furniture() -> None:
    text = prepare(make_job(WORLDWIRE_PAGE, WORLDWIRE_URL)).fields["text"]

    lines = text.split("\n\n")
    assert not {"Share", "Advertisement", "Related stories"} & set(lines)
    for outside in (
        "Turkey's President Erdogan in Moscow to 'reset' Russia ties",
        "Putin and Erdogan move towards repairing ties amid tension with West",  # the title, kept apart
        "Skip to main content",
        "We use cookies",
        "Most read",
        "All rights reserved",
        "Sign up",
    ):
        assert outside not in text


def test_seed_page_cleans_to_exactly_the_truth_text() -> None:
    truth = (ROOT / "seeds/truth/putin-erdogan.txt").read_text(encoding="utf-8").strip()

    assert prepare(make_job(WORLDWIRE_PAGE, WORLDWIRE_URL)).fields["text"] == truth


def test_syndicated_copy_has_the_same_content_hash_and_its_own_id() -> None:
    original = prepare(make_job(WORLDWIRE_PAGE, WORLDWIRE_URL))
    copy = prepare(make_job(LEDGER_PAGE, LEDGER_URL))

    assert copy.content_hash == original.content_hash
    assert copy.doc_id != original.doc_id


def test_first_copy_is_its_own_cluster_and_the_second_points_to_it(state: SqliteStoryState) -> None:
    original = finish(prepare(make_job(WORLDWIRE_PAGE, WORLDWIRE_URL)), state, NOW)
    copy = finish(prepare(make_job(LEDGER_PAGE, LEDGER_URL)), state, NOW)

    assert (original.cluster_id, original.duplicate_of) == (original.id, None)
    assert (copy.cluster_id, copy.duplicate_of) == (original.id, original.id)


def test_processing_the_same_job_again_is_not_a_duplicate_of_itself(state: SqliteStoryState) -> None:
    job = make_job(WORLDWIRE_PAGE, WORLDWIRE_URL)

    first, again = process(job, state, NOW), process(job, state, NOW)

    assert again == first
    assert again.duplicate_of is None


def test_tracking_parameters_do_not_change_the_document_id() -> None:
    tracked = f"{WORLDWIRE_URL}?utm_source=rss&utm_medium=feed&utm_campaign=world"

    assert prepare(make_job(WORLDWIRE_PAGE, tracked)).doc_id == prepare(make_job(WORLDWIRE_PAGE, WORLDWIRE_URL)).doc_id


def test_tracking_parameters_do_not_change_the_id_of_a_page_served_locally() -> None:
    local = "http://127.0.0.1:8080/pages/worldwire/2016/08/putin-erdogan-repair-ties.html"
    tracked = f"{local}?utm_source=rss&utm_medium=feed&utm_campaign=world"

    assert prepare(make_job(WORLDWIRE_PAGE, tracked)).doc_id == prepare(make_job(WORLDWIRE_PAGE, local)).doc_id


def test_canonical_claim_of_another_outlet_is_recorded_not_used() -> None:
    html = (PAGES / LEDGER_PAGE).read_text(encoding="utf-8").replace(LEDGER_URL, WORLDWIRE_URL)
    job = make_job(LEDGER_PAGE, LEDGER_URL, html=html, source={"name": "ledger", "kind": "rss", "url": LEDGER_URL})

    fields = prepare(job).fields

    assert (fields["canonical_url"], fields["canonical_claim"]) == (LEDGER_URL, WORLDWIRE_URL)


def test_file_url_page_keeps_its_own_url_as_canonical() -> None:
    page_url = (PAGES / WORLDWIRE_PAGE).as_uri()
    job = make_job(WORLDWIRE_PAGE, page_url, source={"name": "seeds", "kind": "rss", "url": (ROOT / "seeds").as_uri()})

    fields = prepare(job).fields

    assert (fields["canonical_url"], fields["canonical_claim"]) == (page_url, WORLDWIRE_URL)


def test_article_carries_the_job_and_page_metadata(state: SqliteStoryState) -> None:
    entry = {"link": WORLDWIRE_URL, "published": "2016-08-10T09:15:00+00:00", "categories": ["World"]}

    article = process(make_job(WORLDWIRE_PAGE, WORLDWIRE_URL, entry=entry), state, NOW)

    assert article.canonical_url == WORLDWIRE_URL
    assert article.canonical_claim is None
    assert (article.source, article.feed_url, article.domain) == (
        "worldwire",
        "https://www.worldwire.example/feeds/top.xml",
        "worldwire.example",
    )
    assert article.title == "Putin and Erdogan move towards repairing ties amid tension with West"
    assert article.authors == ("Marta Lindqvist",)
    assert article.published_at == datetime(2016, 8, 10, 9, 15, tzinfo=timezone.utc)
    assert (article.fetched_at, article.first_seen_at, article.updated_at) == (FETCHED, NOW, NOW)
    assert (article.language, article.word_count, article.reading_time_s) == ("en", 424, 111)
    assert "Erdogan" in article.keywords
    assert {"Russia", "Turkey", "Syria"} <= set(article.entities)
    assert (article.tags, article.categories) == (("world", "wire"), ("World",))
    assert article.site_name == "WorldWire"
    assert article.summary is not None and article.summary.startswith("Russian and Turkish leaders")
    assert (article.extraction_path, article.discovered_via) == ("trafilatura", "feed")


@pytest.mark.parametrize(
    ("page", "language"),
    [
        ("worldwire/2016/08/riverton-council-approves-tram-line.html", "en"),
        ("worldwire/2016/08/kovalenko-wins-northern-open-chess.html", "en"),
        ("worldwire/2016/08/hafenstreik-legt-containerterminal-lahm.html", "de"),
        ("worldwire/2016/08/sequia-reduce-cosecha-cereal-alcarren.html", "es"),
    ],
)
def test_other_seed_pages_are_clean_articles_in_their_language(page: str, language: str) -> None:
    fields = prepare(make_job(page, f"https://www.worldwire.example/{page.removeprefix('worldwire/')}")).fields

    lines = fields["text"].split("\n\n")
    assert fields["language"] == language
    assert not {"Share", "Advertisement", "Related stories"} & set(lines)
    assert all(line.rstrip("”»\"").endswith((".", "?", "!")) for line in lines)


def test_nav_only_page_is_not_an_article_and_says_why() -> None:
    url = "https://www.harbourcourier.example/world"
    html = (ROOT / "tests/fixtures/pages/section-front-nav-only.html").read_text(encoding="utf-8")

    with pytest.raises(NotAnArticle, match=r"^text too short: \d+ chars") as caught:
        prepare(make_job("", url, html=html))

    assert caught.value.url == url


def test_empty_page_is_not_an_article() -> None:
    with pytest.raises(NotAnArticle, match="empty page"):
        prepare(make_job("", WORLDWIRE_URL, html=""))


def test_pdf_response_is_unsupported_content() -> None:
    job = make_job(WORLDWIRE_PAGE, WORLDWIRE_URL, headers={"content_type": "application/pdf"})

    with pytest.raises(UnsupportedContent, match="not HTML: content type application/pdf"):
        prepare(job)


def test_error_page_is_not_an_article() -> None:
    with pytest.raises(NotAnArticle, match="HTTP status 404"):
        prepare(make_job(WORLDWIRE_PAGE, WORLDWIRE_URL, status=404))


def test_error_page_falls_back_to_the_feed_entry_text() -> None:
    content = "\n".join(f"<p>{p}</p>" for p in TRUTH_PARAGRAPHS)
    job = make_job(WORLDWIRE_PAGE, WORLDWIRE_URL, status=503, entry={"link": WORLDWIRE_URL, "content": content})

    fields = prepare(job).fields

    assert fields["extraction_path"] == "feed-content"
    assert fields["text"].split("\n\n") == TRUTH_PARAGRAPHS


def test_draft_survives_pickling_for_the_process_pool() -> None:
    draft = prepare(make_job(WORLDWIRE_PAGE, WORLDWIRE_URL))

    restored = pickle.loads(pickle.dumps(draft))

    assert isinstance(restored, Draft) and restored == draft


def test_undecodable_characters_do_not_cut_the_page_short() -> None:
    clean = prepare(make_job(WORLDWIRE_PAGE, WORLDWIRE_URL)).fields["word_count"]
    html = (PAGES / WORLDWIRE_PAGE).read_text(encoding="utf-8").replace("Speaking on August 9", "Speaking\udcff on August 9")

    assert prepare(make_job("", WORLDWIRE_URL, html=html)).fields["word_count"] == clean


def _wire_job(n: int) -> ArticleJob:
    """A wire story whose credit line is furniture its site repeats on every page."""
    words = ("harbour council tram budget river bridge school library market festival museum station "
             "ferry mayor report vote plan weather storm summer winter farmers rail workers union").split()
    sentences = [" ".join(words[(n * 7 + k * 3 + i) % len(words)] for i in range(30)).capitalize() + "." for k in range(5)]
    body = "".join(f"<p>{s}</p>" for s in sentences)
    html = (
        f"<html><head><title>Wire story {n}</title></head><body><div class='story'><h1>Wire story {n}</h1>"
        f"<p>Harbour Times via Coast Wire</p>{body}</div></body></html>"
    )
    return make_job("", f"https://coastwire.example/wire/{n}.html", html=html)


def test_a_page_processed_again_after_its_site_furniture_is_learned_keeps_its_content_hash(
    state: SqliteStoryState,
) -> None:
    first = process(_wire_job(0), state, NOW)
    for n in (1, 2, 3):
        process(_wire_job(n), state, NOW)
    again = process(_wire_job(0), state, NOW)  # a redelivery, or a re-crawl of the unchanged page

    assert "Coast Wire" in first.text and "Coast Wire" not in again.text  # learned in between
    assert again.content_hash == first.content_hash  # so the index keeps its version
