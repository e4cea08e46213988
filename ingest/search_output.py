"""How search hits, stats and exports look: a terminal table, JSON lines, CSV. Pure: writes to a given stream.

Colours (ANSI) only when asked, which the caller does only on a terminal; never reads the index.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from typing import Any, TextIO

from workers.documents import Article
from workers.ports import HIGHLIGHT_END, HIGHLIGHT_START, IndexStats, SearchHit

_BOLD_YELLOW, _DIM, _BOLD, _RESET = "\x1b[1;33m", "\x1b[2m", "\x1b[1m", "\x1b[0m"
_BAR = "█"
CSV_LIST_SEPARATOR = "; "


def plain_snippet(snippet: str | None) -> str:
    return (snippet or "").replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")


def html_snippet(snippet: str | None) -> str:
    """The snippet as HTML: text escaped, matched words in <mark> (for dashboards)."""
    from html import escape

    return escape(snippet or "").replace(HIGHLIGHT_START, "<mark>").replace(HIGHLIGHT_END, "</mark>")


def shown(article: Article) -> Article:
    """The article as every output shows it: a publisher's nosnippet withholds the summary."""
    return article.model_copy(update={"summary": None}) if article.nosnippet else article


def shown_snippet(hit: SearchHit) -> str | None:
    """The hit's highlighted snippet, or None when the publisher said nosnippet. A metadata-only document
    has no text to highlight: its kept snippet (the summary) stands in."""
    if hit.article.nosnippet:
        return None
    if not hit.snippet and hit.article.stored == "metadata":
        return hit.article.summary
    return hit.snippet


def hit_document(hit: SearchHit) -> dict[str, Any]:
    """One hit as JSON: the stored document plus score, snippet and the story's matching copies."""
    document: dict[str, Any] = shown(hit.article).to_source()
    snippet = shown_snippet(hit)
    document.update(score=hit.score, snippet=plain_snippet(snippet), snippet_html=html_snippet(snippet), copies=hit.copies)
    return document


def write_hits_json(hits: list[SearchHit], out: TextIO) -> None:
    for hit in hits:
        out.write(json.dumps(hit_document(hit), ensure_ascii=False) + "\n")


def write_hits_table(hits: list[SearchHit], out: TextIO, *, colour: bool, width: int | None = None) -> None:
    """A numbered table: date, source, title (and how many copies the story has), then the snippet."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    source_width = min(18, max((len(h.article.source) for h in hits), default=6))
    title_width = max(20, width - 4 - 12 - source_width - 2)
    bold, dim, reset = (_BOLD, _DIM, _RESET) if colour else ("", "", "")
    out.write(f"{dim}{'#':>3} {'date':<11} {'source':<{source_width}}  title{reset}\n")
    for rank, hit in enumerate(hits, 1):
        article = hit.article
        published = article.published_at.date().isoformat() if article.published_at else "undated"
        title = _cut(article.title or "(untitled)", title_width)
        copies = f"  (+{hit.copies - 1} {'copy' if hit.copies == 2 else 'copies'})" if hit.copies > 1 else ""
        source = _cut(article.source, source_width)
        out.write(f"{rank:>3} {published:<11} {source:<{source_width}}  {bold}{title}{reset}{dim}{copies}{reset}\n")
        snippet = _cut_marked(shown_snippet(hit) or "", width - 4)
        if colour:
            snippet = snippet.replace(HIGHLIGHT_START, _BOLD_YELLOW).replace(HIGHLIGHT_END, _RESET)
        else:
            snippet = plain_snippet(snippet)
        out.write(f"    {snippet}\n    {dim}{article.url}{reset}\n")


def write_stats(stats: IndexStats, out: TextIO, *, colour: bool, width: int | None = None) -> None:
    """Articles per day as bars, then the top sources, languages, entities and keywords."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    bold, reset = (_BOLD, _RESET) if colour else ("", "")
    out.write(
        f"{bold}{stats.documents} articles{reset}, {stats.stories} stories, "
        f"{stats.duplicates} duplicates found\n"
    )
    sections = (
        ("articles per day", stats.per_day),
        ("per source", stats.per_source),
        ("per language", stats.per_language),
        ("top entities", stats.top_entities),
        ("top keywords", stats.top_keywords),
    )
    for heading, rows in sections:
        if not rows:
            continue
        out.write(f"\n{bold}{heading}{reset}\n")
        label_width = min(30, max(len(label) for label, _ in rows))
        most = max(n for _, n in rows) or 1
        bar_width = max(10, width - label_width - 12)
        for label, n in rows:
            bar = _BAR * round(n / most * bar_width) if n else ""
            out.write(f"  {_cut(label, label_width):<{label_width}} {n:>6} {bar}\n")


def stats_document(stats: IndexStats) -> dict[str, Any]:
    document = asdict(stats)
    for key, value in document.items():
        if isinstance(value, tuple):
            document[key] = [{"key": k, "count": n} for k, n in value]
    return document


EXPORT_COLUMNS = tuple(Article.model_fields)


def write_export(
    articles: Iterable[Article], out: TextIO, fmt: str, *, on_written: Callable[[], None] = lambda: None
) -> int:
    """Stream articles as JSON lines or CSV (lists joined by '; '); one at a time, constant memory. As stored:
    a metadata-only article has no text (its `stored` says "metadata"), a nosnippet one no summary.

    `on_written` is called after each article (progress); it never writes to `out`.
    """
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for row in _csv_rows(articles):
            writer.writerow(row)
            count += 1
            on_written()
        return count
    for article in articles:
        out.write(shown(article).model_dump_json() + "\n")
        count += 1
        on_written()
    return count


def _csv_rows(articles: Iterable[Article]) -> Iterator[dict[str, Any]]:
    for article in articles:
        row = shown(article).model_dump(mode="json")
        yield {
            key: CSV_LIST_SEPARATOR.join(value) if isinstance(value, list) else ("" if value is None else value)
            for key, value in row.items()
        }


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _cut_marked(snippet: str, width: int) -> str:
    """Cut a snippet to `width` visible characters without leaving a highlight open."""
    visible = len(plain_snippet(snippet))
    if visible <= width:
        return snippet
    out, shown, open_mark = [], 0, False
    for char in snippet:
        if char in (HIGHLIGHT_START, HIGHLIGHT_END):
            open_mark = char == HIGHLIGHT_START
            out.append(char)
            continue
        if shown >= width - 1:
            break
        out.append(char)
        shown += 1
    return "".join(out) + (HIGHLIGHT_END if open_mark else "") + "…"
