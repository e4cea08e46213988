"""Throughput, CPU per article and peak memory of the worker pipeline's CPU stages.

The baseline, measured in the same run on the same pages, is plain `trafilatura.extract`:
the figures that matter are the ratios (what cleaning, dedupe hashing and enrichment add).

    .venv/bin/python bench/pipeline_throughput.py [--rounds 30] [--pages DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

from ingest.jobs import ArticleJob, SourceSnapshot
from workers.pipeline import prepare

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Figures:
    articles_per_s: float
    cpu_ms_per_article: float
    peak_kib: float


def _jobs(pages: list[Path]) -> list[ArticleJob]:
    source = SourceSnapshot(name="bench", kind="rss", url="https://bench.example/feed.xml")
    return [
        ArticleJob(
            url=f"https://bench.example/{page.stem}",
            final_url=f"https://bench.example/{page.stem}",
            fetched_at=datetime.now(UTC),
            status=200,
            html=page.read_text(encoding="utf-8"),
            source=source,
        )
        for page in pages
    ]


def _measure(label: str, work: Callable[[], None], articles: int, rounds: int) -> Figures:
    work()  # warm-up: model loading and imports are not per-article costs
    wall, cpu = [], []
    for done in range(1, rounds + 1):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
        if done % 10 == 0:
            print(f"  {label}: {done}/{rounds} rounds", file=sys.stderr)
    tracemalloc.start()
    work()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return Figures(articles / statistics.median(wall), statistics.median(cpu) * 1000 / articles, peak / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--pages", type=Path, default=ROOT / "seeds" / "pages")
    args = parser.parse_args()
    pages = sorted(args.pages.rglob("*.html"))
    jobs = _jobs(pages)
    print(f"{len(pages)} pages from {args.pages}, {args.rounds} rounds each", file=sys.stderr)

    def extract_only() -> None:
        for job in jobs:
            trafilatura.extract(job.html)

    def prepare_all() -> None:
        for job in jobs:
            prepare(job)

    baseline = _measure("trafilatura.extract", extract_only, len(jobs), args.rounds)
    pipeline = _measure("pipeline.prepare", prepare_all, len(jobs), args.rounds)

    print(f"{'':28}{'articles/s':>12}{'CPU ms/article':>16}{'peak KiB':>10}")
    for name, figures in (("trafilatura.extract (base)", baseline), ("pipeline.prepare", pipeline)):
        print(f"{name:28}{figures.articles_per_s:12.1f}{figures.cpu_ms_per_article:16.2f}{figures.peak_kib:10.0f}")
    print(
        f"ratio prepare/base: throughput {pipeline.articles_per_s / baseline.articles_per_s:.2f}x, "
        f"CPU {pipeline.cpu_ms_per_article / baseline.cpu_ms_per_article:.2f}x, "
        f"peak memory {pipeline.peak_kib / baseline.peak_kib:.2f}x"
    )


if __name__ == "__main__":
    main()
