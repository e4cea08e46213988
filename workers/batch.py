"""One batch of article jobs: validate, prepare, dedupe, bulk-index, dead-letter what cannot succeed.

Shared by the Celery task and the standalone handoff; no Celery, no sockets of its own.
Transient errors propagate to the caller, whose retry policy decides; permanent ones become
dead letters here, one per article, so one bad page never fails or repeats its batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ingest.jobs import ArticleJob
from ingest.logs import get_logger
from workers import metrics
from workers.documents import Article, DeadLetter, DeadLetterStage
from workers.drift import DriftChange
from workers.errors import InvalidJob, PermanentError, ReuseWithheld, TransientError
from workers.health import PageHealth, article_health, failure_health
from workers.pipeline import Draft, finish, prepare
from workers.ports import DeadLetterStore, ExtractionHealthStore, IndexBackend, PageArchive, StoryState

log = get_logger(__name__)

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class BatchReport:
    indexed: int
    duplicates: int
    dead_letters: int
    tombstoned: int = 0  # articles dropped because they were deleted for good (`newsingest delete`)


def validate_jobs(messages: Sequence[Any]) -> tuple[list[ArticleJob], list[DeadLetter]]:
    jobs, letters = [], []
    for message in messages:
        try:
            jobs.append(ArticleJob.model_validate(message))
        except ValidationError as exc:
            error = InvalidJob(f"not a valid article job v1: {exc.error_count()} errors: {_first_error(exc)}")
            letters.append(_letter_for_message(message, error))
    return jobs, letters


# What a bad page makes the code we call raise (a bug that this input triggers, or a page too big for
# memory): the same page raises it again on every retry, so it is the page's failure, not the batch's.
# Not Exception: a Celery soft time limit must still reach the task, and an outage is a TransientError.
PAGE_FAILURES: tuple[type[Exception], ...] = (
    PermanentError, ArithmeticError, AssertionError, AttributeError, LookupError, TypeError, ValueError,
    RecursionError, MemoryError,
)


def prepare_safely(job: ArticleJob, people_and_orgs: bool = False) -> Draft | Exception:
    """Prepare one job; a failure of this page is returned as a value, so the batch goes on."""
    try:
        return prepare(job, people_and_orgs)
    except PAGE_FAILURES as exc:
        if not isinstance(exc, PermanentError):
            log.error("prepare_failed_on_page", url=job.url, error_type=type(exc).__name__, error=str(exc))
        return exc


def process_messages(
    messages: Sequence[Any],
    dedupe: StoryState,
    index: IndexBackend,
    dead_letters: DeadLetterStore,
    people_and_orgs: bool = False,
    health: ExtractionHealthStore | None = None,
    prepare_one: Callable[[ArticleJob], Draft | Exception] | None = None,
    archive: PageArchive | None = None,
) -> BatchReport:
    """The whole batch in this process (what a Celery task does). `prepare_one` replaces
    prepare_safely (e.g. under a per-article time limit: workers.article_limit)."""
    jobs, invalid = validate_jobs(messages)
    if invalid:
        dead_letters.record(invalid)
        metrics.record_dead_letters([(letter.source, letter.stage) for letter in invalid])
    prepare_job = prepare_one or (lambda job: prepare_safely(job, people_and_orgs))
    prepared = [(job, prepare_job(job)) for job in jobs]
    report = store_prepared(prepared, dedupe, index, dead_letters, health=health, archive=archive)
    return BatchReport(report.indexed, report.duplicates, report.dead_letters + len(invalid), report.tombstoned)


def store_prepared(
    prepared: Sequence[tuple[ArticleJob, Draft | BaseException]],
    dedupe: StoryState,
    index: IndexBackend,
    dead_letters: DeadLetterStore,
    now: datetime | None = None,
    health: ExtractionHealthStore | None = None,
    archive: PageArchive | None = None,
) -> BatchReport:
    """The stateful half: boilerplate counts and dedupe look-ups in job order, one bulk write, dead letters
    for the rest. `dedupe` is the shared StoryState (exact claims, near-duplicate index, line counts);
    `health`, when given, records how extraction went on each page and logs layout drift; `archive`, when
    given, keeps the fetched page of every article written (workers.raw_archive)."""
    now = now or datetime.now(UTC)
    letters: list[DeadLetter] = []
    articles: list[Article] = []
    jobs_by_doc: dict[str, ArticleJob] = {}
    pages: list[PageHealth] = []
    # Asked before finish(): a deleted article must leave no dedupe state behind when it comes back.
    buried = index.tombstoned([o.doc_id for _, o in prepared if isinstance(o, Draft)])
    for job, outcome in prepared:
        if isinstance(outcome, TransientError):
            raise outcome
        if isinstance(outcome, Draft) and outcome.doc_id in buried:
            # Not a failure: the job ended as asked (the ledger marks it done), the article stays deleted.
            log.info("article_tombstoned", url=job.url, doc_id=outcome.doc_id, source=job.source.name)
            continue
        if isinstance(outcome, ReuseWithheld):
            # The source's policy for reserved pages is skip: the job ended as asked, nothing is stored.
            log.info("article_withheld", url=job.url, source=job.source.name, reason=outcome.reason)
            continue
        if isinstance(outcome, BaseException):
            # Anything prepare() raised that is not transient will fail again on the same page.
            letters.append(dead_letter(job, "extract", outcome, now))
            log.warning("article_dead_lettered", url=job.url, error_type=type(outcome).__name__, error=str(outcome))
            metrics.record_failure(job.source.name, outcome)
            page = failure_health(job, outcome)
            if page is not None:
                pages.append(page)
            continue
        article = finish(outcome, dedupe, now)
        metrics.record_article(job.source.name, article)
        articles.append(article)
        jobs_by_doc[article.id] = job
        pages.append(article_health(job.source.name, outcome, article))
    outcomes = index.bulk_index(articles) if articles else []
    for written in outcomes:
        if written.result == "rejected":
            job = jobs_by_doc[written.doc_id]
            letters.append(dead_letter(job, "index", PermanentError(written.reason or "rejected", job.url), now))
    if letters:
        dead_letters.record(letters)
    if archive is not None:
        # A metadata-only article keeps no copy of its page either: its publisher reserved reuse.
        full = {a.id for a in articles if a.stored == "full"}
        _archive_pages(archive, [(o.doc_id, jobs_by_doc[o.doc_id]) for o in outcomes if o.result == "indexed" and o.doc_id in full])
    metrics.record_batch_written([(o.result, jobs_by_doc[o.doc_id]) for o in outcomes], datetime.now(UTC))
    metrics.record_dead_letters([(letter.source, letter.stage) for letter in letters])
    if health is not None and pages:
        # After the write: a batch retried for an unavailable index is not counted twice.
        _record_health(health, pages, now)
    indexed = sum(1 for o in outcomes if o.result == "indexed")
    duplicates = sum(1 for a in articles if a.duplicate_of)
    dropped = sum(1 for _, o in prepared if isinstance(o, Draft) and o.doc_id in buried)
    if dropped:
        metrics.ARTICLES_TOMBSTONED.inc(dropped)
    log.info("batch_stored", indexed=indexed, duplicates=duplicates, dead_letters=len(letters), tombstoned=dropped)
    return BatchReport(indexed, duplicates, len(letters), dropped)


def _archive_pages(archive: PageArchive, pages: list[tuple[str, ArticleJob]]) -> None:
    """Archive the written articles' pages. A full or broken archive disk costs those pages a future
    reprocess, never the articles themselves: they are indexed already, so this logs and goes on."""
    if not pages:
        return
    try:
        archive.put(pages)
    except Exception as exc:  # the edge of an optional store: OSError, sqlite3.Error, zstd errors alike
        log.error("raw_archive_unwritten", error_type=type(exc).__name__, error=str(exc), pages=len(pages))
        metrics.ARCHIVE_FAILURES.inc(len(pages))


def _record_health(health: ExtractionHealthStore, pages: list[PageHealth], now: datetime) -> None:
    """Record the batch's pages; log each drift raised or cleared, once across all workers."""
    try:
        changes = health.record(pages, now)
    except TransientError as exc:
        # The monitor never fails the work it watches: these pages go uncounted.
        log.warning("extraction_health_unrecorded", error_type=type(exc).__name__, error=str(exc), pages=len(pages))
        return
    for change in changes:
        _log_drift(change)


def _log_drift(change: DriftChange) -> None:
    drift = change.drift
    figures = {"before": _figure(drift.metric, drift.before), "after": _figure(drift.metric, drift.after)}
    if change.raised:
        log.warning("layout_drift", source=drift.source, metric=drift.metric, **figures)
    else:
        log.info("layout_drift_cleared", source=drift.source, metric=drift.metric, **figures)


def _figure(metric: str, value: float) -> float | int:
    return round(value) if metric == "median_words" else round(value, 2)


def dead_letter(job: ArticleJob, stage: DeadLetterStage, error: BaseException, now: datetime) -> DeadLetter:
    return DeadLetter(
        job_id=job.job_id,
        url=_storable(job.url),
        source=job.source.name,
        stage=stage,
        error_type=type(error).__name__,
        reason=_storable(str(error)),
        failed_at=now,
        job=_storable(job.to_message()),
    )


def _storable(value: Any) -> Any:
    """`value` with lone surrogates (half an emoji from a feed's JSON) made U+FFFD. No UTF-8 writer takes
    one, so a dead letter for the very document they made unwritable would fail, and with it the batch."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def _letter_for_message(message: Any, error: InvalidJob) -> DeadLetter:
    data = _storable(message) if isinstance(message, dict) else {"raw": repr(message)[:2000]}
    source = data.get("source")
    return DeadLetter(
        job_id=str(data.get("job_id") or "unknown"),
        url=data.get("url") if isinstance(data.get("url"), str) else None,
        source=source.get("name") if isinstance(source, dict) else None,
        stage="validate",
        error_type=type(error).__name__,
        reason=_storable(str(error)),
        failed_at=datetime.now(UTC),
        job=data,
    )


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
