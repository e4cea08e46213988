"""Extraction health of one page, and the figures of a window of pages: what the layout-change monitor watches.

Pure: taken from what the pipeline already produced (a Draft and its Article, or the reason a page gave no
article). Storing the pages is workers.health_state's job; judging a change is workers.drift's.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.jobs import ArticleJob
from workers.documents import Article
from workers.errors import NotAnArticle
from workers.extract import FALLBACK_PATHS
from workers.pipeline import Draft


@dataclass(frozen=True)
class PageHealth:
    """How extraction went on one page of a source.

    `lines` are the extracted text's non-blank lines; `dropped_lines` those the noise filter and the site's
    learned boilerplate removed. `baseline` is set by the store: False when the page was recorded while the
    source had a drift raised, so a broken stretch never becomes the normal it is compared with.
    """

    source: str
    no_text: bool
    words: int = 0
    fallback: bool = False
    lines: int = 0
    dropped_lines: int = 0
    baseline: bool = True


@dataclass(frozen=True)
class WindowFigures:
    """A window of pages in four figures. The three text figures are None when fewer than half the window's
    pages gave text: then there is too little to judge them, and the no-text share says what happened."""

    pages: int
    text_pages: int
    no_text_share: float | None
    median_words: float | None
    low_words: float | None  # the 10th percentile of words: a recent median below it is no chance low
    fallback_share: float | None
    boilerplate_share: float | None  # dropped lines / extracted lines, pooled over the window


def article_health(source: str, draft: Draft, article: Article) -> PageHealth:
    """The health of a page that became an article (a copy of another story counts the same)."""
    learned_dropped = _line_count(draft.fields["text"]) - _line_count(article.text)
    return PageHealth(
        source=source,
        no_text=False,
        words=article.word_count,
        fallback=article.extraction_path in FALLBACK_PATHS,
        lines=draft.lines_in,
        dropped_lines=draft.lines_dropped + max(learned_dropped, 0),
    )


def failure_health(job: ArticleJob, error: BaseException) -> PageHealth | None:
    """The health of a page that gave no article, or None when its failure says nothing about extraction.

    Only a page the server delivered (2xx) that holds no article text counts: an error status, a PDF or a
    page too big to parse is not the layout's doing.
    """
    if isinstance(error, NotAnArticle) and 200 <= job.status < 300:
        return PageHealth(source=job.source.name, no_text=True)
    return None


def window_figures(pages: Sequence[PageHealth]) -> WindowFigures:
    texts = [page for page in pages if not page.no_text]
    enough_text = bool(texts) and len(texts) * 2 >= len(pages)
    lines = sum(page.lines for page in texts)
    return WindowFigures(
        pages=len(pages),
        text_pages=len(texts),
        no_text_share=(len(pages) - len(texts)) / len(pages) if pages else None,
        median_words=float(statistics.median(page.words for page in texts)) if enough_text else None,
        low_words=_tenth_percentile([page.words for page in texts]) if enough_text else None,
        fallback_share=sum(page.fallback for page in texts) / len(texts) if enough_text else None,
        boilerplate_share=sum(page.dropped_lines for page in texts) / lines if enough_text and lines else None,
    )


def _tenth_percentile(values: list[int]) -> float:
    if len(values) < 2:
        return float(values[0])
    return float(statistics.quantiles(values, n=10, method="inclusive")[0])


def _line_count(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())
