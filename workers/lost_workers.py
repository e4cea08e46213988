"""Bound the redeliveries of a batch whose worker died: split it up, then dead-letter the page that kills.

With late acks and reject-on-worker-lost, a batch whose process was killed (SIGKILL, OOM, Celery's
hard time limit) comes back, and a page that kills every time would come back for ever. Each
delivery is counted in Redis (per task id and retry number); from the second delivery on, a batch
of several jobs is split into one task per job, and a one-job task delivered more than
`max_deliveries` times becomes a dead letter naming the cause. Never processes an article itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis
from celery import Task

from ingest.handoff import TASK_NAME
from ingest.logs import get_logger
from ingest.settings import Settings
from workers.batch import dead_letter, validate_jobs
from workers.errors import PermanentError
from workers.ledger_marks import JobMarks, dead_marks, job_ids_of, mark_safely
from workers.ports import DeadLetterStore

log = get_logger(__name__)

_DELIVERY_COUNT_TTL_S = 24 * 3600


class WorkerLost(PermanentError):
    """The process preparing this job died every time (`worker lost 4 times while processing: <url>`)."""


def split_or_give_up_after_lost_workers(
    task: Task[Any, Any],
    settings: Settings,
    shared: redis.Redis,
    dead_letters: DeadLetterStore,
    marks: JobMarks,
    messages: list[dict[str, Any]],
) -> bool:
    """Count this delivery; True when the batch was split up or dead-lettered instead of processed."""
    deliveries = _count_delivery(task, settings, shared)
    if deliveries < 2:
        return False
    if len(messages) > 1:
        for message in messages:
            task.app.send_task(
                TASK_NAME, args=[[message]], queue=settings.celery.queue, compression="gzip"
            )
        log.warning("batch_split_after_lost_worker", deliveries=deliveries, jobs=len(messages))
        return True
    if deliveries <= settings.reliability.max_deliveries:
        return False
    jobs, invalid = validate_jobs(messages)
    url = jobs[0].url if jobs else None
    error = WorkerLost(f"worker lost {deliveries - 1} times while processing", url)
    letters = [dead_letter(job, "process", error, datetime.now(UTC)) for job in jobs] + invalid
    dead_letters.record(letters)
    mark_safely(marks, dead_marks(job_ids_of(messages), f"process: {error}"))
    log.error("article_dead_lettered", url=url, error_type="WorkerLost", error=str(error))
    return True


def _count_delivery(task: Task[Any, Any], settings: Settings, shared: redis.Redis) -> int:
    key = f"{settings.key_prefix}deliveries:{task.request.id}:{task.request.retries}"
    try:
        pipe = shared.pipeline()
        pipe.incr(key)
        # A day, not a multiple of the (short) visibility timeout: a restored batch may wait behind a
        # long backlog before its next delivery, and a forgotten count would let a killer loop.
        pipe.expire(key, _DELIVERY_COUNT_TTL_S)
        count, _ = pipe.execute()
        return int(count)
    except redis.RedisError as exc:  # counting is a safeguard; Redis trouble must not stop the work
        log.warning("delivery_count_unavailable", error_type=type(exc).__name__, error=str(exc))
        return 1
