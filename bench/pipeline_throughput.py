"""Throughput, CPU per article and peak RSS of the whole worker pipeline, next to plain trafilatura.

On the fixture corpus (tests/fixtures/corpus, 48 pages in 7 languages) by default. Three workloads, each
in a fresh child process so its peak RSS is its own, all measured in the same run, taking turns round by
round (so the machine's load hits them alike); the ratio is the median of the per-round ratios:

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
from multiprocessing.connection import Connection
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


def _serve(name: str, pages_dir: Path | None, conn: Connection) -> None:
    """A child process: load and warm up one workload, then time one pass over the pages per request."""
    pages = _corpus_pages(pages_dir)
    work = _workload(name, pages)
    work()  # warm-up: model loading and imports are not per-article costs
    conn.send(len(pages))
    while conn.recv() == "round":
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        work()
        conn.send((time.perf_counter() - wall_start, time.process_time() - cpu_start))
    conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # peak RSS; Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pages", type=Path, help="a folder of *.html pages instead of the corpus")
    args = parser.parse_args()
    print(f"{len(_corpus_pages(args.pages))} pages from {args.pages or 'the corpus'}, {args.rounds} rounds each",
          file=sys.stderr)
    # spawn: every workload starts from an empty process, so peak RSS is its own. The workloads take
    # turns, one round each, so a busy moment on the machine slows all of them alike instead of one.
    context = multiprocessing.get_context("spawn")
    conns, children = {}, []
    for name in WORKLOADS:
        parent_end, child_end = context.Pipe()
        child = context.Process(target=_serve, args=(name, args.pages, child_end), daemon=True)
        child.start()
        conns[name] = parent_end
        children.append(child)
    sizes = {name: conn.recv() for name, conn in conns.items()}
    wall: dict[str, list[float]] = {name: [] for name in WORKLOADS}
    cpu: dict[str, list[float]] = {name: [] for name in WORKLOADS}
    for _ in range(args.rounds):
        for name, conn in conns.items():
            conn.send("round")
            round_wall, round_cpu = conn.recv()
            wall[name].append(round_wall)
            cpu[name].append(round_cpu)
    peaks = {}
    for name, conn in conns.items():
        conn.send("stop")
        peaks[name] = conn.recv()
    for child in children:
        child.join()
    base = WORKLOADS[0]
    print(f"{'':28}{'articles/s/core':>16}{'CPU ms/article':>16}{'peak RSS MiB':>14}{'CPU vs base':>13}")
    for name in WORKLOADS:
        figures = Figures(
            sizes[name] / statistics.median(wall[name]), statistics.median(cpu[name]) * 1000 / sizes[name], peaks[name]
        )
        # The median of the per-round ratios: each round's two passes ran back to back.
        ratio = statistics.median(mine / theirs for mine, theirs in zip(cpu[name], cpu[base], strict=True))
        print(f"{name:28}{figures.articles_per_s:16.1f}{figures.cpu_ms_per_article:16.2f}"
              f"{figures.peak_rss_mib:14.0f}{ratio:12.2f}x")


if __name__ == "__main__":
    main()
