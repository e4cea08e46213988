"""Hand article jobs to the workers: a Celery queue on Redis, or an in-process pool.

Both adapters keep what they submitted so `drain()` can wait until it is processed (`run --once`).
The ingest side knows nothing of how jobs are processed: the standalone adapter is given the
processing functions by the composition root (ingest/cli.py).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from celery import Celery
from celery.result import AsyncResult

from ingest.jobs import ArticleJob
from ingest.logs import get_logger

log = get_logger(__name__)

TASK_NAME = "newsingest.process_batch"
_READY_CHECK_S = 0.5


@dataclass(frozen=True)
class DrainReport:
    batches: int
    finished: int
    failed: int  # batches that raised (their jobs are dead-lettered or still queued for retry)
    timed_out: int


class Handoff(Protocol):
    async def submit(self, jobs: Sequence[ArticleJob]) -> None: ...

    async def wait_ready(self) -> None:
        """Return at once below the high-water mark; past it, wait until below the low-water mark."""

    async def drain(self, timeout_s: float) -> DrainReport: ...

    async def close(self) -> None: ...


class CeleryHandoff:
    """Enqueue one task per batch; pause while the queue is past its high-water mark."""

    def __init__(
        self, app: Celery, queue: str, queue_key: str, redis_url: str, high_water: int, low_water: int
    ) -> None:
        self._app = app
        self._queue = queue
        self._queue_key = queue_key  # the Redis list behind the queue (key prefix included)
        self._redis = redis.Redis.from_url(redis_url)
        self._high, self._low = high_water, low_water
        self._pending: list[AsyncResult[Any]] = []
        self._ready_checked_at = -_READY_CHECK_S

    async def submit(self, jobs: Sequence[ArticleJob]) -> None:
        if not jobs:
            return
        await self._wait_below_high_water()
        messages = [job.to_message() for job in jobs]
        result = await asyncio.to_thread(
            self._app.send_task, TASK_NAME, args=[messages], queue=self._queue, compression="gzip"
        )
        self._pending.append(result)

    async def wait_ready(self) -> None:
        # One LLEN per half second at most: the daemon asks before every poll.
        if time.monotonic() - self._ready_checked_at < _READY_CHECK_S:
            return
        await self._wait_below_high_water()
        self._ready_checked_at = time.monotonic()

    async def _wait_below_high_water(self) -> None:
        depth = await asyncio.to_thread(self._redis.llen, self._queue_key)
        if depth < self._high:
            return
        log.warning("backpressure_paused", queue=self._queue, depth=depth, high_water=self._high)
        while depth > self._low:
            await asyncio.sleep(1.0)
            depth = await asyncio.to_thread(self._redis.llen, self._queue_key)
        log.info("backpressure_resumed", queue=self._queue, depth=depth)

    async def drain(self, timeout_s: float) -> DrainReport:
        deadline = time.monotonic() + timeout_s
        pending, self._pending = self._pending, []
        waiting = list(pending)
        while waiting and time.monotonic() < deadline:
            states = await asyncio.to_thread(lambda: [r.ready() for r in waiting])
            waiting = [r for r, ready in zip(waiting, states, strict=True) if not ready]
            if waiting:
                await asyncio.sleep(0.2)
        failed = sum(1 for r in pending if r not in waiting and r.failed())
        return DrainReport(len(pending), len(pending) - len(waiting) - failed, failed, len(waiting))

    async def close(self) -> None:
        await asyncio.to_thread(self._redis.close)


Prepared = Any  # whatever the prepare function returns (a workers Draft), or the exception it raised
PrepareFn = Callable[[ArticleJob], Any]
StoreFn = Callable[[Sequence[tuple[ArticleJob, Prepared]]], Any]


class LocalHandoff:
    """Standalone: CPU stages in a process pool, then the stateful step on the thread owning SQLite."""

    def __init__(
        self,
        prepare: PrepareFn,
        store: StoreFn,
        processes: int,
        owner: Executor,
        high_water: int = 50,
        low_water: int = 10,
    ) -> None:
        # forkserver: forking a process that runs an event loop and threads is unsafe.
        self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("forkserver"))
        self._prepare, self._store, self._owner = prepare, store, owner
        self._tasks: set[asyncio.Task[Any]] = set()
        self._submitted = self._done = self._failed = 0
        self._high, self._low = high_water, low_water  # batches in the pool, not yet stored

    async def wait_ready(self) -> None:
        if len(self._tasks) < self._high:
            return
        log.warning("backpressure_paused", batches_in_flight=len(self._tasks), high_water=self._high)
        while len(self._tasks) > self._low:
            await asyncio.wait(list(self._tasks), return_when=asyncio.FIRST_COMPLETED)
        log.info("backpressure_resumed", batches_in_flight=len(self._tasks))

    async def submit(self, jobs: Sequence[ArticleJob]) -> None:
        if jobs:
            self._submitted += 1
            task = asyncio.create_task(self._process(list(jobs)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _process(self, jobs: list[ArticleJob]) -> None:
        loop = asyncio.get_running_loop()
        prepared = await asyncio.gather(
            *(loop.run_in_executor(self._pool, self._prepare, job) for job in jobs), return_exceptions=True
        )
        try:
            await loop.run_in_executor(self._owner, self._store, list(zip(jobs, prepared, strict=True)))
            self._done += 1
        except Exception as exc:  # the edge of one batch: log once, keep the daemon running
            self._failed += 1
            log.error("batch_failed", error_type=type(exc).__name__, error=str(exc), jobs=len(jobs))

    async def drain(self, timeout_s: float) -> DrainReport:
        tasks = list(self._tasks)
        not_done: set[asyncio.Task[Any]] = set()
        if tasks:
            _, not_done = await asyncio.wait(tasks, timeout=timeout_s)
        return DrainReport(self._submitted, self._done, self._failed, len(not_done))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
