"""The processing side's Prometheus series, each defined once here; call sites record with one line.

In a Celery worker these are prometheus-client multiprocess values (workers/metrics_server.py sets
PROMETHEUS_MULTIPROC_DIR before anything imports prometheus-client); in standalone mode the store
step runs in the daemon, so they land in the daemon's registry and its /metrics. Labels are
bounded: source names, stages, outcomes; never URLs. Never does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prometheus_client import Counter, Histogram

from ingest.jobs import ArticleJob
from workers.documents import Article
from workers.errors import NotAnArticle
from workers.extract import FALLBACK_PATHS

EXTRACTIONS = Counter(
    "newsingest_extractions",
    "Pages through extraction, by outcome: ok, fallback (text from a fallback path), not_an_article, timeout, error",
    ["source", "outcome"],
)
DUPLICATES = Counter("newsingest_duplicates", "Articles found to copy an earlier story", ["source"])
INDEX_WRITES = Counter("newsingest_index_writes", "Documents written to the index, by result", ["result"])
INDEX_RETRIES = Counter("newsingest_index_retries", "Batches retried, by reason (index_unavailable, transient)", ["reason"])
DEAD_LETTERS = Counter("newsingest_dead_letters", "Jobs that ended as dead letters, by stage", ["source", "stage"])
ARTICLES_TOMBSTONED = Counter(
    "newsingest_articles_tombstoned", "Fetched articles dropped because they were deleted for good (newsingest delete)"
)
BATCHES_STORED = Counter("newsingest_batches_stored", "Batches processed to the end (indexed or dead-lettered)")
ARCHIVE_FAILURES = Counter(
    "newsingest_raw_archive_failures", "Indexed articles whose fetched page could not be archived"
)
SEARCHABLE_LAG = Histogram(
    "newsingest_fetch_to_searchable_seconds",
    "From a page's fetched_at to its document acknowledged by the index",
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
)


def record_article(source: str, article: Article) -> None:
    outcome = "fallback" if article.extraction_path in FALLBACK_PATHS else "ok"
    EXTRACTIONS.labels(source, outcome).inc()
    if article.duplicate_of:
        DUPLICATES.labels(source).inc()


def record_failure(source: str, error: BaseException) -> None:
    EXTRACTIONS.labels(source, "not_an_article" if isinstance(error, NotAnArticle) else "error").inc()


def record_timeout(jobs: int) -> None:
    """A batch that hit Celery's soft time limit (its pages, not one of them, are to blame)."""
    EXTRACTIONS.labels("", "timeout").inc(jobs)


def record_batch_written(results: Sequence[tuple[str, ArticleJob]], now: datetime) -> None:
    """One batch stored; `results`: (index result, job) per document the index answered for."""
    BATCHES_STORED.inc()
    for result, job in results:
        INDEX_WRITES.labels(result).inc()
        if result != "rejected":
            SEARCHABLE_LAG.observe(max((now - job.fetched_at).total_seconds(), 0.0))


def record_dead_letters(letters: Sequence[tuple[str | None, str]]) -> None:
    """`letters`: (source, stage) per dead letter."""
    for source, stage in letters:
        DEAD_LETTERS.labels(source or "", stage).inc()
