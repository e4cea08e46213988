"""The console's pure parts: chart geometry, the search form's addresses, links, source ordering, sign-in targets."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ingest.console.charts import daily_chart, ranking_chart
from ingest.console.signin import local_target
from ingest.console.views import PAGE_SIZE, SearchForm, safe_link, source_rows
from ingest.sources import Source
from ingest.state import FeedRecord
from workers.errors import InvalidQuery

TODAY = date(2026, 11, 25)


def test_daily_chart_has_a_bar_per_day_with_empty_days_and_today_last() -> None:
    chart = daily_chart([("2026-11-20", 4), ("2026-11-25", 2), ("2026-10-01", 99)], TODAY, 7, width=70, height=40)
    assert [bar.label for bar in chart.bars] == [f"2026-11-{d}" for d in range(19, 26)]
    assert [bar.value for bar in chart.bars] == [0, 4, 0, 0, 0, 0, 2]  # outside the window: not drawn
    tallest = chart.bars[1]
    assert tallest.height == 39 and tallest.y == 1  # the peak reaches the top, bars stand on the axis
    assert chart.bars[6].height == pytest.approx(19.5) and chart.bars[0].height == 0
    assert all(bar.x + bar.width <= 70 for bar in chart.bars)
    assert chart.summary == "6 articles in the 7 days from 2026-11-19 to 2026-11-25; the most on 2026-11-20 (4)."


def test_a_tiny_count_still_shows_beside_a_huge_one() -> None:
    chart = daily_chart([("2026-11-24", 1), ("2026-11-25", 100_000)], TODAY, 2, height=100)
    assert 1 <= chart.bars[0].height < 2


def test_an_empty_chart_says_so() -> None:
    chart = daily_chart([], TODAY, 30)
    assert chart.empty and chart.summary == "No articles in the 30 days to 2026-11-25."
    assert all(bar.height == 0 for bar in chart.bars)


def test_ranking_bars_scale_to_the_first() -> None:
    chart = ranking_chart([("wire", 10), ("gazette", 5), ("herald", 1), ("post", 1)], width=200)
    assert [bar.width for bar in chart.bars] == [200, 100, 20, 20]
    assert chart.summary == "Articles by count, the most first: wire 10, gazette 5, herald 1, …."
    assert ranking_chart([]).bars == ()


def test_search_form_makes_short_shareable_addresses() -> None:
    form = SearchForm.from_params({"q": "ferry strike", "lang": "de", "page": "3", "utm_source": "mail"})
    assert form.url() == "/?q=ferry+strike&lang=de"  # a changed search starts at page 1
    assert form.url(page=4) == "/?q=ferry+strike&lang=de&page=4"
    assert form.url(lang="") == "/?q=ferry+strike"
    assert SearchForm().url() == "/"
    assert form.filtered and not SearchForm(q="x").filtered


def test_search_form_pages_through_the_results() -> None:
    query = SearchForm(q="ferry", page=3).query(max_chars=500, max_window=1000)
    assert (query.offset, query.limit, query.sort) == (2 * PAGE_SIZE, PAGE_SIZE, "relevance")
    assert SearchForm().query(max_chars=500, max_window=1000).sort == "newest"  # no words: newest first


@pytest.mark.parametrize(
    ("params", "says"),
    [({"page": "-1"}, "page must be"), ({"page": "two"}, "page must be"), ({"since": "soon"}, "not a date")],
)
def test_search_form_refuses_nonsense_in_one_line(params: dict[str, str], says: str) -> None:
    with pytest.raises(InvalidQuery, match=says):
        SearchForm.from_params(params).query(max_chars=500, max_window=1000)


def test_search_form_refuses_too_long_words_and_too_deep_pages() -> None:
    with pytest.raises(InvalidQuery, match="characters long"):
        SearchForm(q="x" * 501).query(max_chars=500, max_window=1000)
    with pytest.raises(InvalidQuery, match="deeper than the 100 results"):
        SearchForm(page=6).query(max_chars=500, max_window=100)


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://news.example/a?b=1", "https://news.example/a?b=1"),
        ("HTTP://news.example/", "HTTP://news.example/"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("file:///etc/passwd", None),
        ("http:///no-host", None),
        ("http://[::1", None),
        ("", None),
        (None, None),
    ],
)
def test_only_web_addresses_become_links(url: str | None, link: str | None) -> None:
    assert safe_link(url) == link


def test_sources_that_need_attention_come_first() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC).timestamp()
    sources = [
        Source(name=name, url=f"https://{name}.example/feed.xml", enabled=name != "off")
        for name in ("alpha", "broken", "drifty", "off", "fresh")
    ]
    records = {
        "alpha": FeedRecord(last_poll_at=now - 60, last_success_at=now - 60, interval_s=900, next_poll_at=now + 840),
        "broken": FeedRecord(last_poll_at=now - 30, failures=3, last_error="HTTP 500 from the feed",
                             last_error_type="BadStatus", last_error_at=now - 30),
        "drifty": FeedRecord(last_poll_at=now - 60, last_success_at=now - 60),
    }
    from workers.drift import Drift
    from workers.health_state import SourceHealth

    drifting = SourceHealth("drifty", windows=None, drifts=(Drift("drifty", "median_words", 640, 45, now - 7200),))  # type: ignore[arg-type]
    rows = source_rows(sources, records, {"drifty": drifting}, {"alpha": (("2026-11-25", 3),)}, now=now, today=TODAY)
    assert [(row.name, row.status) for row in rows] == [
        ("broken", "failing"), ("drifty", "drifting"), ("off", "paused"), ("fresh", "new"), ("alpha", "ok"),
    ]
    broken, drifty = rows[0], rows[1]
    assert broken.last_error == "BadStatus: HTTP 500 from the feed (30s ago)" and broken.failures == 3
    assert drifty.drifts == ("median words 640 → 45 (since 2h ago)",)
    assert rows[4].chart.total == 3 and rows[4].next_poll == "in 14m" and rows[2].next_poll == "paused"


@pytest.mark.parametrize(
    ("given", "target"),
    [
        ("/sources?x=1", "/sources?x=1"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("sources", "/"),
    ],
)
def test_sign_in_returns_only_to_a_console_path(given: str | None, target: str) -> None:
    assert local_target(given) == target
