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
import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from celery import Celery
from celery.result import AsyncResult

from ingest.errors import IngestError
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
        *,
        initializer: Callable[[], None] | None = None,
        article_time_limit_s: float | None = None,
        retry_budget: int = 2,
        preload: Sequence[str] = (),
    ) -> None:
        self._processes, self._initializer, self._preload = processes, initializer, list(preload)
        self._pool = self._new_pool()
        self._prepare, self._store, self._owner = prepare, store, owner
        self._tasks: set[asyncio.Task[Any]] = set()
        self._submitted = self._done = self._failed = 0
        self._high, self._low = high_water, low_water  # batches in the pool, not yet stored
        # The outer bound on one article, for a page stuck where the in-process limit cannot reach
        # it (a C call). Generous (a process start may be included): the pool's processes are
        # killed to enforce it.
        self._hard_limit_s = None if article_time_limit_s is None else 2 * article_time_limit_s + 30
        self._retry_budget = retry_budget
        self._rebuilding: asyncio.Lock | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        """forkserver: forking a process that runs an event loop and threads is unsafe. The fork
        server, started with the first batch (a run with nothing new starts nothing), imports
        `preload` once (seconds of imports and model loading), so each pool process, forked from
        it, starts warm instead of paying those seconds itself (measured: bench/e2e_throughput.py)."""
        context = multiprocessing.get_context("forkserver")
        if self._preload:
            context.set_forkserver_preload(self._preload)  # before the fork server starts; then kept
        return ProcessPoolExecutor(self._processes, mp_context=context, initializer=self._initializer)

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
        try:
            prepared = await self._prepare_all(jobs)
            await loop.run_in_executor(self._owner, self._store, list(zip(jobs, prepared, strict=True)))
            self._done += 1
        except Exception as exc:  # the edge of one batch: log once, keep the daemon running
            self._failed += 1
            log.error("batch_failed", error_type=type(exc).__name__, error=str(exc), jobs=len(jobs))

    async def _prepare_all(self, jobs: list[ArticleJob]) -> list[Prepared]:
        """Prepare every job in the pool. A pool process that dies (SIGKILL, OOM, a hard-limit kill)
        breaks the whole pool: it is rebuilt and the jobs without an outcome go again, one at a time
        once a batch has seen a death, until each has been in `retry_budget` dying processes."""
        outcomes: dict[int, Prepared] = {}
        deaths = [0] * len(jobs)
        one_at_a_time = False
        while len(outcomes) < len(jobs):
            todo = [i for i in range(len(jobs)) if i not in outcomes]
            groups = [[i] for i in todo] if one_at_a_time else [todo]
            for group in groups:
                pool = self._pool
                results = await asyncio.gather(*(self._prepare_one(pool, jobs[i]) for i in group), return_exceptions=True)
                broken = False
                for i, result in zip(group, results, strict=True):
                    if isinstance(result, (BrokenProcessPool, _HardLimit)):
                        broken = True
                        deaths[i] += 1
                        if deaths[i] >= self._retry_budget:
                            outcomes[i] = ProcessingLost(jobs[i].url, deaths[i], str(result))
                            log.error("article_given_up", url=jobs[i].url, pool_deaths=deaths[i], error=str(result))
                    else:
                        outcomes[i] = result
                if broken:
                    one_at_a_time = True
                    await self._rebuild(pool)
        return [outcomes[i] for i in range(len(jobs))]

    async def _prepare_one(self, pool: ProcessPoolExecutor, job: ArticleJob) -> Prepared:
        submitted = pool.submit(self._prepare, job)
        future = asyncio.wrap_future(submitted)
        if self._hard_limit_s is None:
            return await future
        # The hard limit counts from the job's start (its move to a process), not its queue wait.
        while not submitted.running() and not future.done():
            await asyncio.wait({future}, timeout=1.0)
        try:
            return await asyncio.wait_for(future, self._hard_limit_s)
        except TimeoutError:
            # The in-process limit did not fire: the page holds a process in C. Only killing it frees it.
            log.error("article_hard_limit_killed_pool", url=job.url, limit_s=self._hard_limit_s)
            _kill_pool_processes(pool)
            raise _HardLimit(f"preparing the page exceeded the hard limit of {self._hard_limit_s:g}s") from None

    async def _rebuild(self, broken: ProcessPoolExecutor) -> None:
        """Replace a broken pool once, however many batches saw it break."""
        if self._rebuilding is None:
            self._rebuilding = asyncio.Lock()
        async with self._rebuilding:
            if self._pool is not broken:
                return  # another batch rebuilt it already
            _kill_pool_processes(broken)
            await asyncio.to_thread(broken.shutdown, wait=True, cancel_futures=True)
            self._pool = self._new_pool()
            log.warning("process_pool_rebuilt", processes=self._processes)

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


class _HardLimit(Exception):
    """One article outlived the pool's hard limit; its process was killed."""


class ProcessingLost(IngestError):
    """An article whose pool process died every time it was prepared (killed, out of memory, hung).

    Stored as the article's outcome, so the batch dead-letters it with this reason and goes on.
    """

    def __init__(self, url: str, deaths: int, cause: str) -> None:
        super().__init__(url, deaths, cause)
        self.url, self.deaths, self.cause = url, deaths, cause

    def __str__(self) -> str:
        return f"the processing pool's process died {self.deaths} times preparing this page ({self.cause}): {self.url}"


def _kill_pool_processes(pool: ProcessPoolExecutor) -> None:
    # A private attribute, but the only handle: the executor has no public way to kill its workers.
    processes = getattr(pool, "_processes", None) or {}
    for pid in list(processes):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
