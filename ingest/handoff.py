"""Hand article jobs to the workers: a Celery queue on Redis, or an in-process pool.

Both adapters keep what they submitted so `drain()` can wait until it is processed (`run --once`).
The ingest side knows nothing of how jobs are processed: the standalone adapter is given the
processing functions by the composition root (ingest/cli.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
import traceback
from collections.abc import Callable, Sequence
import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import kombu.exceptions
import redis
from celery import Celery
from celery.result import AsyncResult

from ingest.errors import IngestError
from ingest.jobs import ArticleJob
from ingest.logs import get_logger
from ingest.redis_connect import RedisTarget, as_target, redis_client

log = get_logger(__name__)

TASK_NAME = "newsingest.process_batch"
_READY_CHECK_S = 0.5
# What "the broker is away" looks like here: redis-py's errors, and kombu's wrapping of them in send_task.
BROKER_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, kombu.exceptions.OperationalError)
_SEND_FAILURES: tuple[type[Exception], ...] = (*BROKER_ERRORS, AttributeError)  # see _torn_down_in_kombu
_BROKER_PROBE_MAX_S = 5.0  # while it is away, the broker is asked at least this often
_BROKER_STILL_AWAY_LOG_S = 30.0  # and the wait is logged again this often


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
    """Enqueue one task per batch; pause while the queue is past its high-water mark.

    While the broker is unreachable, `submit` and `wait_ready` wait for it (the jobs stay with the
    poll that fetched them, and no new poll starts) instead of failing: an outage of Redis is a
    pause, never a loss. `track_results` keeps each batch's result for `drain()` (`run --once`); the
    daemon (`run`) does not, since it would hold one result, and one subscription, per batch for ever.
    """

    def __init__(
        self,
        app: Celery,
        queue: str,
        queue_key: str,
        redis_url: RedisTarget | str,
        high_water: int,
        low_water: int,
        *,
        track_results: bool = True,
    ) -> None:
        self._app = app
        self._queue = queue
        self._queue_key = queue_key  # the Redis list behind the queue (key prefix included)
        # Bounded waits: a broker that stops answering holds a thread for seconds, not for ever.
        self._redis = redis_client(redis_url, socket_timeout=10, socket_connect_timeout=5)
        self._high, self._low = high_water, low_water
        self._track_results = track_results
        self._pending: list[AsyncResult[Any]] = []
        self._ready_checked_at = -_READY_CHECK_S
        self._broker = BrokerWait(self._redis.ping, broker_address(as_target(redis_url).url))

    async def submit(self, jobs: Sequence[ArticleJob]) -> None:
        if not jobs:
            return
        await self._wait_below_high_water()
        messages = [job.to_message() for job in jobs]
        while True:
            try:
                result = await asyncio.to_thread(
                    self._app.send_task, TASK_NAME, args=[messages], queue=self._queue, compression="gzip",
                    ignore_result=not self._track_results,
                )
                break
            except _SEND_FAILURES as exc:
                if isinstance(exc, AttributeError) and not _torn_down_in_kombu(exc):
                    raise  # a bug of ours, not the broker going away
                # Sent again once the broker answers (a send that failed half-way may arrive twice:
                # the document ids make the second one an update of the same documents).
                await self._broker.lost(exc)
        if self._track_results:
            self._pending.append(result)

    async def wait_ready(self) -> None:
        # One LLEN per half second at most: the daemon asks before every poll.
        if time.monotonic() - self._ready_checked_at < _READY_CHECK_S:
            return
        await self._wait_below_high_water()
        self._ready_checked_at = time.monotonic()

    async def wait_reachable(self) -> None:
        """Return at once while the broker answers; while it does not, once it answers again."""
        await self._broker.wait()

    async def _depth(self) -> int:
        while True:
            try:
                return int(await asyncio.to_thread(self._redis.llen, self._queue_key))
            except BROKER_ERRORS as exc:
                await self._broker.lost(exc)

    async def _wait_below_high_water(self) -> None:
        depth = await self._depth()
        if depth < self._high:
            return
        log.warning("backpressure_paused", queue=self._queue, depth=depth, high_water=self._high)
        while depth > self._low:
            await asyncio.sleep(1.0)
            depth = await self._depth()
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


class BrokerWait:
    """Where everyone who needs the broker waits while it is unreachable.

    The first caller to meet a broker error logs `broker_unreachable` (what is waited for: the
    broker's address, never its password) and the outage begins; one waiter at a time asks the
    broker again (from a tenth of `probe_max_s`, backing off to every `probe_max_s`), logs
    `broker_still_unreachable` every `still_away_log_s`, and `broker_reconnected` when it answers.
    Holds nothing per waiter or per attempt, so a long outage costs no memory.
    """

    def __init__(
        self,
        ping: Callable[[], object],
        broker: str,
        *,
        probe_max_s: float = _BROKER_PROBE_MAX_S,
        still_away_log_s: float = _BROKER_STILL_AWAY_LOG_S,
    ) -> None:
        self._ping = ping
        self._broker = broker
        self._probe_max_s, self._still_away_log_s = probe_max_s, still_away_log_s
        self._up = asyncio.Event()
        self._up.set()
        self._probing = False
        self._down_since = self._logged_at = 0.0

    @property
    def reachable(self) -> bool:
        return self._up.is_set()

    async def lost(self, exc: Exception) -> None:
        """A call failed with a broker error: note the outage (logged once), wait until it is over."""
        if self._up.is_set():
            self._up.clear()
            self._down_since = self._logged_at = time.monotonic()
            log.warning(
                "broker_unreachable", waiting_for=f"the broker at {self._broker}",
                error_type=type(exc).__name__, error=str(exc),
            )
        await self.wait()

    async def wait(self) -> None:
        while not self._up.is_set():
            if self._probing:  # another waiter asks the broker; check again if it is cancelled
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._up.wait(), self._probe_max_s)
                continue
            self._probing = True
            try:
                await self._probe()
            finally:
                self._probing = False

    async def _probe(self) -> None:
        delay_s = self._probe_max_s / 10
        while True:
            await asyncio.sleep(delay_s)
            try:
                await asyncio.to_thread(self._ping)
            except BROKER_ERRORS as exc:
                now = time.monotonic()
                if now - self._logged_at >= self._still_away_log_s:
                    self._logged_at = now
                    log.warning(
                        "broker_still_unreachable", waiting_for=f"the broker at {self._broker}",
                        waited_s=round(now - self._down_since), error_type=type(exc).__name__, error=str(exc),
                    )
                delay_s = min(2 * delay_s, self._probe_max_s)
                continue
            log.info("broker_reconnected", broker=self._broker, outage_s=round(time.monotonic() - self._down_since, 1))
            self._up.set()
            return


def _torn_down_in_kombu(exc: AttributeError) -> bool:
    """Whether kombu met its own channel already closed: when Redis dies mid-publish, another thread may
    tear the connection down first and the publish fails on `None.client` inside kombu's transport
    (seen in the Redis-killed fault test), which is the broker going away, not a bug of the caller."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and f"{os.sep}kombu{os.sep}" in frames[-1].filename


def broker_address(url: str) -> str:
    """A broker URL fit for logs: scheme, host, port and database, without user or password."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


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
