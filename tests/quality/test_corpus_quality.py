"""Quality floor of the whole pipeline on the 48-page corpus (tests/fixtures/corpus): token-level F1 of the
clean text against the hand-checked truths. Measured when set: mean F1 0.989, recall 1.000, plain
trafilatura.extract 0.923 on the same pages (bench/score_corpus.py prints the figures)."""

from __future__ import annotations

import pytest

from bench.score_corpus import Report, load_corpus, pipeline_texts, score_corpus

MEAN_F1_FLOOR = 0.98
MEAN_RECALL_FLOOR = 0.995
PAGE_F1_FLOOR = 0.9


@pytest.fixture(scope="module")
def report() -> Report:
    with pipeline_texts() as pipeline:
        return score_corpus(pipeline)


def test_corpus_has_at_least_forty_pages_in_several_languages() -> None:
    corpus = load_corpus()
    assert len(corpus) >= 40 and len({page.language for page in corpus}) >= 5


def test_mean_f1_stays_above_the_floor(report: Report) -> None:
    assert report.mean("f1") >= MEAN_F1_FLOOR


def test_cleaning_keeps_the_story_sentences(report: Report) -> None:
    assert report.mean("recall") >= MEAN_RECALL_FLOOR


def test_no_page_comes_out_badly(report: Report) -> None:
    bad = {page: round(score.f1, 3) for page, score in report.pages.items() if score.f1 < PAGE_F1_FLOOR}
    assert not bad
