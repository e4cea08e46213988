"""process_batch: the Celery task. A thin shell over workers.batch: run it, then retry or give up.

An unavailable index is retried without limit (it is not the job's fault); other transient
errors have a bounded budget, after which the batch's jobs become dead letters. A batch waiting
out its countdown is held by its worker, which renews it (workers/held_batches.py), so no copy is
restored meanwhile however short Redis's visibility timeout.
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded

from ingest.handoff import TASK_NAME
from ingest.logs import get_logger
from ingest.redis_connect import RedisTarget, redis_client
from ingest.settings import Settings
from workers import metrics
from workers.batch import dead_letter, process_messages, validate_jobs
from workers.dedupe_state import RedisStoryState
from workers.errors import IndexUnavailable, TransientError
from workers.health_state import RedisExtractionHealth
from workers.index.connect import elastic_client
from workers.index.elastic import ElasticDeadLetters, ElasticIndex
from workers.ledger_marks import RedisJobMarks, TrackingDeadLetters, batch_marks, dead_marks, job_ids_of, mark_safely
from workers.article_limit import prepare_within
from workers.raw_archive import RawArchive, open_archive
from workers.lost_workers import split_or_give_up_after_lost_workers as _split_or_give_up_after_lost_workers

log = get_logger(__name__)


@dataclass
class _WorkerContext:
    """Connections of one worker process, made after the fork that created it."""

    pid: int
    index: ElasticIndex
    dead_letters: ElasticDeadLetters
    dedupe: RedisStoryState
    health: RedisExtractionHealth
    marks: RedisJobMarks
    shared: redis.Redis
    archive: RawArchive | None


_context: _WorkerContext | None = None


def _worker_context(settings: Settings) -> _WorkerContext:
    global _context
    if _context is None or _context.pid != os.getpid():
        assert settings.elasticsearch_url and settings.redis_url
        client = elastic_client(settings, "write")
        index = ElasticIndex(
            client,
            settings.index_alias,
            max_bulk_documents=settings.index.bulk_max_documents,
            max_bulk_bytes=settings.index.bulk_max_bytes,
        )
        index.ensure_ready()
        dead_letters = ElasticDeadLetters(client, settings.index_alias)
        dead_letters.ensure_ready()
        shared = redis_client(RedisTarget.from_settings(settings))
        _context = _WorkerContext(
            pid=os.getpid(),
            index=index,
            dead_letters=dead_letters,
            dedupe=RedisStoryState(shared, settings.key_prefix, settings.dedupe),
            health=RedisExtractionHealth(shared, settings.key_prefix, settings.health),
            marks=RedisJobMarks(shared, settings.key_prefix),
            shared=shared,
            archive=open_archive(settings),
        )
    return _context


def retry_countdown_s(retries: int, cap_s: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter, capped (the cap is below the visibility timeout)."""
    return (rng or random).uniform(0, min(cap_s, 2 ** min(retries, 20)))


def process_batch(task: Task[Any, Any], messages: list[dict[str, Any]]) -> dict[str, int]:
    """The Celery task body (bound): one batch, then retry or dead-letter per the error's type."""
    settings: Settings = task.app.conf.newsingest_settings
    celery = settings.celery
    countdown = retry_countdown_s(task.request.retries, celery.retry_backoff_max_s)
    try:
        context = _worker_context(settings)
        if _split_or_give_up_after_lost_workers(task, settings, context.shared, context.dead_letters, context.marks, messages):
            return {"indexed": 0, "duplicates": 0, "dead_letters": 0}
        tracking = TrackingDeadLetters(context.dead_letters)
        limit_s, people = settings.reliability.article_time_limit_s, settings.enrich.people_and_orgs
        report = process_messages(
            messages, context.dedupe, context.index, tracking, people,
            health=context.health,
            prepare_one=lambda job: prepare_within(job, limit_s, people),
            archive=context.archive,
        )
        # Every job of a batch that returned has ended: the daemon's ledger hears it.
        mark_safely(context.marks, batch_marks(job_ids_of(messages), tracking))
    except SoftTimeLimitExceeded:
        metrics.record_timeout(len(messages))
        raise
    except IndexUnavailable as exc:
        metrics.INDEX_RETRIES.labels("index_unavailable").inc()
        # A short cap, not retry_backoff_max_s: once the index is back, work resumes within seconds.
        wait_s = retry_countdown_s(task.request.retries, settings.index.unavailable_retry_max_s)
        log.warning(
            "index_unavailable_retrying",
            waiting_for="the index (elasticsearch)",
            error=str(exc),
            retries=task.request.retries,
            retry_in_s=round(wait_s, 1),
        )
        raise task.retry(exc=exc, countdown=wait_s) from exc
    except TransientError as exc:
        if task.request.retries >= celery.max_retries:
            _give_up(settings, messages, exc)
            return {"indexed": 0, "duplicates": 0, "dead_letters": len(messages)}
        metrics.INDEX_RETRIES.labels("transient").inc()
        log.warning("transient_error_retrying", error_type=type(exc).__name__, error=str(exc))
        raise task.retry(exc=exc, countdown=countdown) from exc
    return asdict(report)


def _give_up(settings: Settings, messages: list[dict[str, Any]], exc: TransientError) -> None:
    jobs, invalid = validate_jobs(messages)
    now = datetime.now(UTC)
    letters = [dead_letter(job, "process", exc, now) for job in jobs] + invalid
    context = _worker_context(settings)
    context.dead_letters.record(letters)
    mark_safely(context.marks, dead_marks(job_ids_of(messages), f"process: {exc}"))
    metrics.record_dead_letters([(letter.source, letter.stage) for letter in letters])
    log.error("batch_dead_lettered", error_type=type(exc).__name__, error=str(exc), jobs=len(letters))


def register_tasks(app: Celery, settings: Settings) -> None:
    """Register process_batch on `app`; the task reads the settings from the app's configuration."""
    app.conf.newsingest_settings = settings
    app.task(name=TASK_NAME, bind=True, max_retries=None)(process_batch)
