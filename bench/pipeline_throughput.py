"""Throughput, CPU per article and peak RSS of the whole worker pipeline, next to plain trafilatura.

On the fixture corpus (tests/fixtures/corpus, 48 pages in 7 languages) by default. Three workloads, each
in a fresh child process so its peak RSS is its own, each measured in the same run:

* trafilatura.extract (base): the baseline the target is stated against;
* pipeline.prepare: the CPU stages (extract, clean, canonical URL, enrich, MinHash signature);
* pipeline (whole): prepare + finish against fresh standalone state (learned boilerplate counts,
  exact-text claim, near-duplicate LSH look-up and insert) - everything but indexing.

The target: the whole pipeline costs at most 1.5x plain extraction (CPU per article).

    .venv/bin/python bench/pipeline_throughput.py [--rounds 10] [--pages DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the child processes import this module by path
    sys.path.insert(0, str(ROOT))

WORKLOADS = ("trafilatura.extract (base)", "pipeline.prepare", "pipeline (whole)")


@dataclass(frozen=True)
class Figures:
    articles_per_s: float
    cpu_ms_per_article: float
    peak_rss_mib: float


def _corpus_pages(pages_dir: Path | None) -> list[tuple[str, str]]:
    """(url, html) of every page: the corpus manifest's, or every *.html under `pages_dir`."""
    if pages_dir is not None:
        return [(f"https://bench.example/{p.stem}", p.read_text(encoding="utf-8")) for p in sorted(pages_dir.rglob("*.html"))]
    from bench.score_corpus import load_corpus

    return [(page.url, page.page.read_text(encoding="utf-8")) for page in load_corpus()]


def _workload(name: str, pages: list[tuple[str, str]]) -> Callable[[], None]:
    import trafilatura

    from ingest.jobs import ArticleJob, SourceSnapshot

    jobs = [
        ArticleJob(
            url=url, final_url=url, fetched_at=datetime.now(UTC), status=200, html=html,
            source=SourceSnapshot(name="bench", kind="rss", url=f"https://{url.split('/')[2]}/feed.xml"),
        )
        for url, html in pages
    ]
    if name == WORKLOADS[0]:
        return lambda: [trafilatura.extract(job.html) for job in jobs] and None
    from workers.errors import PermanentError
    from workers.index.sqlite import open_database
    from workers.pipeline import finish, prepare
    from workers.state_sqlite import SqliteStoryState

    def prepare_all() -> None:
        for job in jobs:
            try:
                prepare(job)
            except PermanentError:
                pass

    def whole() -> None:
        db = open_database(":memory:")  # fresh state: every article is new, as on first sight
        state, now = SqliteStoryState(db), datetime.now(UTC)
        for job in jobs:
            try:
                finish(prepare(job), state, now)
            except PermanentError:
                pass
        db.close()

    return prepare_all if name == WORKLOADS[1] else whole


def _measure(name: str, pages_dir: Path | None, rounds: int) -> Figures:
    """Runs in a child process: warm up (imports, models), then `rounds` timed passes over the pages."""
    pages = _corpus_pages(pages_dir)
    work = _workload(name, pages)
    work()  # warm-up: model loading and imports are not per-article costs
    wall, cpu = [], []
    for _ in range(rounds):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    return Figures(len(pages) / statistics.median(wall), statistics.median(cpu) * 1000 / len(pages), peak_mib)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pages", type=Path, help="a folder of *.html pages instead of the corpus")
    args = parser.parse_args()
    print(f"{len(_corpus_pages(args.pages))} pages from {args.pages or 'the corpus'}, {args.rounds} rounds each",
          file=sys.stderr)
    figures: dict[str, Figures] = {}
    # spawn: every workload starts from an empty process, so peak RSS is its own.
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        for name in WORKLOADS:
            figures[name] = pool.apply(_measure, (name, args.pages, args.rounds))
            print(f"  {name}: done", file=sys.stderr)
    base = figures[WORKLOADS[0]]
    print(f"{'':28}{'articles/s/core':>16}{'CPU ms/article':>16}{'peak RSS MiB':>14}{'CPU vs base':>13}")
    for name, f in figures.items():
        ratio = f.cpu_ms_per_article / base.cpu_ms_per_article
        print(f"{name:28}{f.articles_per_s:16.1f}{f.cpu_ms_per_article:16.2f}{f.peak_rss_mib:14.0f}{ratio:12.2f}x")


if __name__ == "__main__":
    main()
