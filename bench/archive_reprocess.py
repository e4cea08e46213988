"""What the raw archive costs and how fast `reprocess` goes, against first ingestion in the same run.

Standalone stack in a temporary folder (SQLite index and state, a local process pool as the daemon uses),
on the fixture corpus's real pages (tests/fixtures/corpus) repeated to --articles documents, each copy
under its own URL with a one-line difference so every body is distinct, as articles are:

* ingest, archive off (base): prepare in the pool, then store in batches of 50;
* ingest, archive on: the same into a fresh index, the archive written by the store step;
* reprocess: every archived document again through today's pipeline (ingest/reprocess.py), unchanged;
* archive put alone: CPU per page of compressing and recording, one thread.

Prints articles/s and the ratio to the base, archive bytes per article, and peak RSS.

    .venv/bin/python bench/archive_reprocess.py [--articles 2000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.score_corpus import load_corpus  # noqa: E402
from ingest.jobs import ArticleJob, SourceSnapshot  # noqa: E402
from ingest.logs import configure_logging  # noqa: E402
from ingest.reprocess import Criteria, Tally, batches, pooled, reprocess_batch  # noqa: E402
from workers.article_limit import prepare_within, warm_up  # noqa: E402
from workers.batch import store_prepared  # noqa: E402
from workers.index.sqlite import SqliteDeadLetters, SqliteIndex, open_database  # noqa: E402
from workers.raw_archive import RawArchive  # noqa: E402
from workers.state_sqlite import SqliteStoryState  # noqa: E402

BATCH = 50


def _jobs(count: int) -> list[ArticleJob]:
    pages = [(page.url, page.page.read_text(encoding="utf-8")) for page in load_corpus()]
    now = datetime.now(UTC)
    jobs = []
    for n in range(count):
        url, html = pages[n % len(pages)]
        # Another registered domain per copy: the page's canonical claim is not trusted there, so each
        # copy is a document of its own (a story syndicated to many outlets).
        copy_url = url.replace(url.split("/")[2], f"outlet{n}.example", 1)
        jobs.append(ArticleJob(
            url=copy_url, final_url=copy_url, fetched_at=now, status=200,
            html=html.replace("</body>", f"<!-- served for request {n} --></body>", 1),
            source=SourceSnapshot(name=f"bench-{n % 6}", kind="rss", url=f"https://outlet{n}.example/feed.xml"),
        ))
    return jobs


def _ingest(jobs: list[ArticleJob], folder: Path, pool: ProcessPoolExecutor, archive: RawArchive | None) -> float:
    db = open_database(folder / "newsingest.sqlite3")
    index = SqliteIndex(db)
    index.ensure_ready()
    state, letters = SqliteStoryState(db), SqliteDeadLetters(db)
    prepare = partial(prepare_within, limit_s=60.0)
    began = time.perf_counter()
    for start in range(0, len(jobs), BATCH):
        batch = jobs[start:start + BATCH]
        store_prepared(list(zip(batch, pool.map(prepare, batch), strict=True)), state, index, letters, archive=archive)
    elapsed = time.perf_counter() - began
    db.close()
    return elapsed


def _reprocess(folder: Path, pool: ProcessPoolExecutor, archive: RawArchive) -> tuple[float, Tally]:
    db = open_database(folder / "newsingest.sqlite3")
    index, state, letters = SqliteIndex(db), SqliteStoryState(db), SqliteDeadLetters(db)
    tally, criteria = Tally(), Criteria()
    prepare = pooled(pool, partial(prepare_within, limit_s=60.0))
    began = time.perf_counter()
    for ids in batches(archive, criteria, "", BATCH):
        reprocess_batch(ids, archive=archive, criteria=criteria, sources={}, prepare=prepare, index=index,
                        story=state, dead_letters=letters, tally=tally)
    elapsed = time.perf_counter() - began
    db.close()
    return elapsed, tally


def _put_alone(jobs: list[ArticleJob], folder: Path) -> float:
    """CPU seconds of archiving every page into a fresh archive, in this thread."""
    archive = RawArchive(folder)
    began = time.process_time()
    for start in range(0, len(jobs), BATCH):
        archive.put([(f"doc-{start + i}", job) for i, job in enumerate(jobs[start:start + BATCH])])
    spent = time.process_time() - began
    archive.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=None, help="pool processes (default: the cores)")
    parser.add_argument("--rounds", type=int, default=2, help="ingest passes of each kind (the best counts)")
    args = parser.parse_args()
    configure_logging("WARNING")
    jobs = _jobs(args.articles)
    print(f"{len(jobs):,} articles from {len(load_corpus())} corpus pages", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as temp, \
            ProcessPoolExecutor(args.workers, initializer=warm_up) as pool:
        root = Path(temp)
        list(pool.map(partial(prepare_within, limit_s=60.0), jobs[:8]))  # warm the pool up
        base_times, with_times = [], []
        for turn in range(args.rounds):  # taking turns, so a busy moment slows both alike; the best of each
            for name, times in (("off", base_times), ("on", with_times)):
                (root / f"{name}-{turn}").mkdir()
                archive = RawArchive(root / f"{name}-{turn}" / "archive") if name == "on" else None
                times.append(_ingest(jobs, root / f"{name}-{turn}", pool, archive))
        base_s, with_s = min(base_times), min(with_times)
        assert archive is not None
        again_s, tally = _reprocess(root / f"on-{args.rounds - 1}", pool, archive)
        usage = archive.usage()
        archive.close()
        put_cpu_s = _put_alone(jobs, root / "put-alone")
    count = len(jobs)
    print(f"{'workload':34}{'seconds':>9}{'articles/s':>12}{'vs base':>9}")
    for name, seconds in (("ingest, archive off (base)", base_s), ("ingest, archive on", with_s),
                          ("reprocess (archive to index)", again_s)):
        print(f"{name:34}{seconds:9.1f}{count / seconds:12.0f}{base_s / seconds:9.2f}")
    print(f"reprocess outcome: {tally.unchanged:,} unchanged, {tally.changed:,} changed, {tally.failed:,} failed, "
          f"{tally.skipped:,} skipped")
    print(f"archive put alone: {put_cpu_s * 1000 / count:.2f} ms CPU per page (compress, write, record)")
    print(f"archive: {usage.documents:,} documents, {usage.bodies:,} bodies; raw {usage.raw_bytes / count / 1024:.1f} KiB "
          f"per article, stored {usage.stored_bytes / count / 1024:.1f} KiB per article "
          f"({usage.raw_bytes / max(usage.stored_bytes, 1):.1f}x smaller), index {usage.index_bytes / count:.0f} B "
          "per article")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
