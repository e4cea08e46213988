"""Token-level precision, recall and F1 of the pipeline's text against the corpus truths, next to plain
`trafilatura.extract` on the same pages.

The corpus (tests/fixtures/corpus/corpus.json) lists each page, the URL it is served under and its
hand-checked clean text. The pipeline runs in full (prepare, then finish against fresh standalone state,
pages in corpus order) so learned per-site boilerplate counts as it would in production.

    .venv/bin/python bench/score_corpus.py [--pages]      # --pages: one line per page
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

from ingest.jobs import ArticleJob, SourceSnapshot

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "corpus.json"
_TOKEN = re.compile(r"\w+")
NOW = datetime(2026, 4, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CorpusPage:
    page: Path
    url: str
    truth: str
    language: str
    site: str


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Report:
    pages: dict[str, Score]

    def mean(self, field: str) -> float:
        return statistics.fmean(getattr(score, field) for score in self.pages.values())


def load_corpus(path: Path = CORPUS) -> list[CorpusPage]:
    entries = json.loads(path.read_text(encoding="utf-8"))
    return [
        CorpusPage(ROOT / e["page"], e["url"], (ROOT / e["truth"]).read_text(encoding="utf-8"), e["language"], e["site"])
        for e in entries
    ]


def tokens(text: str) -> Counter[str]:
    return Counter(token.casefold() for token in _TOKEN.findall(text))


def score(predicted: str, truth: str) -> Score:
    """Bag-of-tokens overlap: every word the truth has and the text lacks costs recall, every extra one precision."""
    got, want = tokens(predicted), tokens(truth)
    overlap = sum((got & want).values())
    precision = overlap / sum(got.values()) if got else 0.0
    recall = overlap / sum(want.values()) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1)


def job_for(page: CorpusPage) -> ArticleJob:
    source = SourceSnapshot(name=page.site, kind="rss", url=f"https://{page.url.split('/')[2]}/feed.xml")
    return ArticleJob(
        url=page.url, final_url=page.url, fetched_at=NOW, status=200,
        headers={"content_type": "text/html; charset=utf-8"},  # type: ignore[arg-type]
        html=page.page.read_text(encoding="utf-8"), source=source,
    )


@contextmanager
def pipeline_texts() -> Iterator[Callable[[CorpusPage], str]]:
    """The pipeline (prepare + finish on fresh in-memory standalone state) as page -> text."""
    from workers.index.sqlite import open_database
    from workers.pipeline import finish, prepare
    from workers.state_sqlite import SqliteStoryState

    from workers.errors import PermanentError

    db = open_database(":memory:")
    state = SqliteStoryState(db)

    def text(page: CorpusPage) -> str:
        try:
            return finish(prepare(job_for(page)), state, NOW).text
        except PermanentError:  # a page the pipeline gives up on scores zero
            return ""

    try:
        yield text
    finally:
        db.close()


def plain_trafilatura(page: CorpusPage) -> str:
    return trafilatura.extract(page.page.read_text(encoding="utf-8")) or ""


def score_corpus(extract_text: Callable[[CorpusPage], str], corpus: list[CorpusPage] | None = None) -> Report:
    pages = corpus if corpus is not None else load_corpus()
    return Report({str(p.page.relative_to(ROOT)): score(extract_text(p), p.truth) for p in pages})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", action="store_true", help="print every page's scores")
    args = parser.parse_args()
    corpus = load_corpus()
    with pipeline_texts() as pipeline:
        reports = {"pipeline": score_corpus(pipeline, corpus), "trafilatura.extract": score_corpus(plain_trafilatura, corpus)}
    if args.pages:
        for page in reports["pipeline"].pages:
            ours, base = reports["pipeline"].pages[page], reports["trafilatura.extract"].pages[page]
            print(f"{page:70} ours P {ours.precision:.3f} R {ours.recall:.3f} F1 {ours.f1:.3f}"
                  f" | base P {base.precision:.3f} R {base.recall:.3f} F1 {base.f1:.3f}")
    print(f"{len(corpus)} pages")
    print(f"{'':22}{'precision':>10}{'recall':>10}{'F1':>10}")
    for name, report in reports.items():
        print(f"{name:22}{report.mean('precision'):10.3f}{report.mean('recall'):10.3f}{report.mean('f1'):10.3f}")


if __name__ == "__main__":
    main()
