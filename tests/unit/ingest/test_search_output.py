"""How hits and stats look in a terminal and as JSON/CSV. Pure: writes to StringIO."""

from __future__ import annotations

import io
from collections.abc import Callable

from ingest.search_output import html_snippet, write_hits_table, write_stats
from workers.documents import Article
from workers.ports import HIGHLIGHT_END, HIGHLIGHT_START, IndexStats, SearchHit

MakeArticle = Callable[..., Article]
SNIPPET = f"the old {HIGHLIGHT_START}volcano{HIGHLIGHT_END} woke up"


def _table(hits: list[SearchHit], colour: bool) -> str:
    out = io.StringIO()
    write_hits_table(hits, out, colour=colour, width=100)
    return out.getvalue()


def test_matched_words_are_coloured_on_a_terminal(make_article: MakeArticle) -> None:
    assert "\x1b[1;33mvolcano\x1b[0m" in _table([SearchHit(make_article(), 1.0, SNIPPET)], colour=True)


def test_no_colour_codes_off_a_terminal(make_article: MakeArticle) -> None:
    table = _table([SearchHit(make_article(), 1.0, SNIPPET)], colour=False)
    assert "\x1b[" not in table and HIGHLIGHT_START not in table and "old volcano woke" in table


def test_a_story_with_copies_says_how_many(make_article: MakeArticle) -> None:
    assert "(+2 copies)" in _table([SearchHit(make_article(), 1.0, SNIPPET, copies=3)], colour=False)


def test_html_snippet_escapes_text_and_marks_matches() -> None:
    assert html_snippet(f"<b> {HIGHLIGHT_START}x{HIGHLIGHT_END}") == "&lt;b&gt; <mark>x</mark>"


def test_stats_bars_grow_with_the_count() -> None:
    stats = IndexStats(3, 0, (("2026-11-24", 1), ("2026-11-25", 2)), (), (), (), ())
    out = io.StringIO()
    write_stats(stats, out, colour=False, width=60)
    one, two = (line for line in out.getvalue().splitlines() if line.strip().startswith("2026-"))
    assert 0 < one.count("█") < two.count("█")
