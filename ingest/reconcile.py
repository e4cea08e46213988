"""Close the loop on every hand-off: record jobs in the ledger first, and reconcile the ledger later.

`LedgeredHandoff` wraps the mode's handoff: a job is in the ledger (committed) before the
queue or the pool sees it. `Reconciler` runs a round every `reconcile_interval_s`, on the
daemon's own tick (the daemon asks `wait_ready()` before every poll round, so no extra task
lives outside its task group): it folds in the workers' marks, then takes the jobs neither done
nor dead-lettered `reconcile_timeout_s` after their hand-off, checks the index for each
(by the id its URL gives), re-enqueues the rest through the same handoff, and after
`reconcile_max_sends` hand-offs dead-letters a job as lost in transit. One log line per round.
Distributed, a job waiting in a deep queue is not late, however long it waits: there the timeout
counts from the last time the reconciler saw the queue empty after the job's hand-off (by then its
batch had left the queue), so a backlog is never re-sent and never called lost.
Never processes a job itself, never talks to Elasticsearch or SQLite indexes directly: the
composition root gives it `probe` and `give_up`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import redis

from ingest.handoff import DrainReport, Handoff
from ingest.jobs import ArticleJob
from ingest.ledger import JobLedger, Mark, Overdue, parse_marks
from ingest.logs import get_logger
from ingest.redis_connect import RedisTarget, redis_client
from ingest.settings import ReliabilitySettings, Settings

log = get_logger(__name__)

# Does the index already hold this job's article, fetched no earlier than the job? (job message -> bool,
# or None when the index did not answer)
Probe = Callable[[dict[str, object]], Awaitable[bool | None]]
# Record dead letters for jobs the reconciler gives up on: (jobs, reason) -> None.
GiveUp = Callable[[Sequence[Overdue], str], Awaitable[None]]
# How many batches wait in the queue the workers read (distributed mode).
Backlog = Callable[[], Awaitable[int]]

_MARKS_PER_POP = 1000


class RedisMarkInbox:
    """The Redis list distributed workers push their marks to; popped (and so consumed) by the daemon."""

    def __init__(self, redis_url: RedisTarget | str, key: str) -> None:
        self._client = redis_client(redis_url)
        self._key = key

    def take(self, limit: int = _MARKS_PER_POP) -> list[Mark]:
        raw = self._client.lpop(self._key, limit)
        return parse_marks(raw or [])  # type: ignore[arg-type]  # list[bytes] with a count

    def close(self) -> None:
        self._client.close()


class RedisBacklog:
    """The depth of the Celery queue: the Redis list behind it (key prefix included)."""

    def __init__(self, redis_url: RedisTarget | str, key: str) -> None:
        self._client = redis_client(redis_url, socket_timeout=10, socket_connect_timeout=5)
        self._key = key

    @classmethod
    def of(cls, settings: Settings) -> RedisBacklog:
        assert settings.redis_url
        return cls(RedisTarget.from_settings(settings), settings.key_prefix + settings.celery.queue)

    def depth(self) -> int:
        return int(self._client.llen(self._key))

    async def __call__(self) -> int:
        return await asyncio.to_thread(self.depth)

    def close(self) -> None:
        self._client.close()


def queued_batches(settings: Settings) -> int:
    """Batches waiting in the Celery queue (distributed), 0 standalone or when Redis does not answer
    (then nothing is excused as waiting: a missing job stays missing)."""
    if not settings.redis_url:
        return 0
    backlog = RedisBacklog.of(settings)
    try:
        return backlog.depth()
    except redis.RedisError:
        return 0
    finally:
        backlog.close()


@dataclass(frozen=True)
class RoundReport:
    marks: int = 0  # jobs ended by marks folded in this round
    overdue: int = 0
    found_in_index: int = 0
    reenqueued: int = 0
    lost_in_transit: int = 0
    pruned: int = 0
    waiting_for_index: int = 0  # overdue, but the index did not answer: left for a later round


class Reconciler:
    def __init__(
        self,
        ledger: JobLedger,
        resend: Handoff,
        settings: ReliabilitySettings,
        batch_size: int,
        *,
        inbox: RedisMarkInbox | None = None,
        probe: Probe | None = None,
        give_up: GiveUp | None = None,
        backlog: Backlog | None = None,
        first_round_timeout_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ledger, self._resend, self._settings = ledger, resend, settings
        self._batch_size = batch_size
        self._inbox, self._probe, self._give_up = inbox, probe, give_up
        self._backlog = backlog
        self._drained_at: list[float] = []  # rounds that saw the queue empty (recent ones, and one older)
        # Standalone: jobs a previous daemon left pending died with its pool; no need to wait for them.
        self._first_timeout_s = first_round_timeout_s
        self._clock = clock
        self._next_round_at = 0.0
        self._running = False

    async def tick(self) -> RoundReport | None:
        """A round if one is due (and none is running); otherwise nothing."""
        if self._running or self._clock() < self._next_round_at:
            return None
        self._running = True
        try:
            return await self.reconcile()
        finally:
            self._next_round_at = self._clock() + self._settings.reconcile_interval_s
            self._running = False

    async def fold_marks(self) -> int:
        """Apply the workers' marks waiting in Redis to the ledger; returns how many jobs they ended."""
        if self._inbox is None:
            return 0
        ended = 0
        for _ in range(100):  # bounded: a round never spins on a list that keeps growing
            marks = await asyncio.to_thread(self._inbox.take)
            if not marks:
                break
            ended += await asyncio.to_thread(self._ledger.mark, marks)
        return ended

    async def reconcile(self) -> RoundReport:
        settings = self._settings
        timeout_s = settings.reconcile_timeout_s if self._first_timeout_s is None else self._first_timeout_s
        self._first_timeout_s = None
        try:
            ended = await self.fold_marks()
        except redis.RedisError as exc:  # Redis away: reconcile what the ledger knows, fold next round
            log.warning("ledger_marks_unreachable", error_type=type(exc).__name__, error=str(exc))
            ended = 0
        as_of = await self._as_of(timeout_s)
        overdue = [] if as_of is None else await asyncio.to_thread(self._ledger.overdue, timeout_s, 500, as_of)
        found: list[Mark] = []
        waiting_for_index = 0
        resend: list[Overdue] = []
        lost: list[Overdue] = []
        for job in overdue:
            indexed = None if self._probe is None or not job.message else await self._probe(job.message)
            if indexed:
                found.append((job.job_id, "done", None))
                continue
            if indexed is None and self._probe is not None and job.message:
                # The index did not answer: workers retry their batches until it is back (waiting, not
                # lost), and a copy sent now could not be indexed either. Asked again next round.
                waiting_for_index += 1
                continue
            if job.sends >= settings.reconcile_max_sends or not job.message:
                lost.append(job)
            else:
                resend.append(job)
        if found:
            await asyncio.to_thread(self._ledger.mark, found)
        if lost:
            reason = f"lost in transit {lost[0].sends} times (never done or dead-lettered)"
            if self._give_up is not None:
                await self._give_up(lost, reason)
            await asyncio.to_thread(
                self._ledger.mark, [(j.job_id, "dead", f"lost in transit {j.sends} times") for j in lost]
            )
            for job in lost:
                log.error("job_lost_in_transit", job_id=job.job_id, url=job.url, source=job.source, sends=job.sends)
        reenqueued = await self._reenqueue(resend)
        pruned = await asyncio.to_thread(self._ledger.prune, settings.ledger_retention_s, self._clock())
        report = RoundReport(ended, len(overdue), len(found), reenqueued, len(lost), pruned, waiting_for_index)
        log.info(
            "reconcile_round",
            marks=report.marks,
            overdue=report.overdue,
            found_in_index=report.found_in_index,
            reenqueued=report.reenqueued,
            lost_in_transit=report.lost_in_transit,
            pruned=report.pruned,
            waiting_for_index=report.waiting_for_index,
        )
        return report

    async def _as_of(self, timeout_s: float) -> float | None:
        """The moment to judge lateness at: now, or with a queue, `timeout_s` after the latest round
        (at least that old) that saw the queue empty; jobs handed off after that round may still be
        waiting in it. None while no such round exists (a backlog since start-up, or Redis away)."""
        now = self._clock()
        if self._backlog is None:
            return now
        try:
            if await self._backlog() == 0:
                self._drained_at.append(now)
        except redis.RedisError as exc:  # not seen empty this round: jobs wait a round longer
            log.warning("queue_depth_unreadable", error_type=type(exc).__name__, error=str(exc))
        old = [at for at in self._drained_at if at <= now - timeout_s]
        self._drained_at = old[-1:] + [at for at in self._drained_at if at > now - timeout_s]
        return old[-1] + timeout_s if old else None

    async def _reenqueue(self, overdue: Sequence[Overdue]) -> int:
        jobs = []
        for item in overdue:
            jobs.append(ArticleJob.model_validate(item.message))
            log.warning("job_reenqueued", job_id=item.job_id, url=item.url, source=item.source, sends=item.sends + 1)
        for start in range(0, len(jobs), self._batch_size):
            batch = jobs[start : start + self._batch_size]
            await self._resend.submit(batch)
            await asyncio.to_thread(self._ledger.resent, [j.job_id for j in batch], self._clock())
        return len(jobs)


class LedgeredHandoff:
    """A Handoff that records each job in the ledger before the wrapped handoff gets it."""

    def __init__(self, inner: Handoff, ledger: JobLedger, reconciler: Reconciler | None = None) -> None:
        self._inner, self._ledger, self._reconciler = inner, ledger, reconciler

    async def submit(self, jobs: Sequence[ArticleJob]) -> None:
        if not jobs:
            return
        # Shielded: a daemon cancelled mid-commit must not leave a job handed off but unrecorded.
        await asyncio.shield(asyncio.to_thread(self._ledger.record, jobs))
        await self._inner.submit(jobs)

    async def wait_ready(self) -> None:
        if self._reconciler is not None:
            try:
                await self._reconciler.tick()
            except Exception as exc:  # the edge of one round: the next one tries again, polling goes on
                log.error("reconcile_failed", error_type=type(exc).__name__, error=str(exc))
        await self._inner.wait_ready()

    async def wait_reachable(self) -> None:
        """While the wrapped handoff's queue is unreachable (its broker away), wait for it."""
        wait: Callable[[], Awaitable[None]] | None = getattr(self._inner, "wait_reachable", None)
        if wait is not None:
            await wait()

    async def drain(self, timeout_s: float) -> DrainReport:
        report = await self._inner.drain(timeout_s)
        if self._reconciler is not None:
            try:
                await self._reconciler.fold_marks()  # so `audit` right after `run --once` is current
            except redis.RedisError as exc:
                log.warning("ledger_marks_unreachable", error_type=type(exc).__name__, error=str(exc))
        return report

    async def close(self) -> None:
        await self._inner.close()
