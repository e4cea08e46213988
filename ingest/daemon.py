"""The daemon: poll due sources, fetch their new articles, hand them off; `--once` or forever.

A fixed pool of poll workers and one of page workers read two queues. Work reaches a queue only
once its host has a free slot (ingest/politeness.py), so no worker ever waits for a busy host.
One unit of work is one poll of one source: its errors are logged once, with their type, saved
for `sources status`, and never reach another source. Only a daemon bug may end the task group.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog

from ingest.client import HttpClient
from ingest.corrections import Recheck, RecheckQueue
from ingest.errors import BadStatus, IngestError
from ingest.fetch import fetch_page
from ingest.handoff import DrainReport, Handoff
from ingest.housekeeping import Periodic, run_periodically
from ingest import metrics
from ingest.jobs import ArticleJob, DiscoveredVia, FeedEntry
from ingest.leases import SourceLeases
from ingest.logs import get_logger
from ingest.politeness import HostGate, HostPacer, PoliteClient, host_key
from ingest.poll import PollOptions, PollResult, poll_source
from ingest.reload import SourcesWatcher
from ingest.robots import RobotsCache
from ingest.tdmrep import TdmRepCache
from ingest.scheduler import Schedule, adapt_interval, cache_floor_s, next_delay_s
from ingest.scrape import HostTurns, poll_page_source
from ingest.settings import Settings
from ingest.sources import Source, SourcesFile
from ingest.state import FeedRecord, FeedState
from ingest.writeback import WriteBehindState

log = get_logger(__name__)


@dataclass
class SourceReport:
    source: str
    ok: bool = True
    status: int | None = None
    entries_new: int = 0
    articles_fetched: int = 0
    articles_failed: int = 0
    articles_given_up: int = 0
    error: str | None = None
    error_type: str | None = None
    retry_after_s: float | None = None


@dataclass
class RunReport:
    sources: list[SourceReport] = field(default_factory=list)
    drain: DrainReport | None = None

    @property
    def articles_fetched(self) -> int:
        return sum(r.articles_fetched for r in self.sources)


@dataclass
class _PageItem:
    source: Source
    entry: FeedEntry
    host: str | None  # None: not paced (a local file)
    outcome: asyncio.Future[ArticleJob | IngestError]
    validators: dict[str, str] | None = None  # a re-check's conditional GET headers


class Daemon:
    def __init__(
        self,
        settings: Settings,
        sources: Sequence[Source],
        client: HttpClient,
        state: FeedState,
        handoff: Handoff,
        *,
        sources_path: Path | None = None,
        clock: Callable[[], float] = time.time,
        leases: SourceLeases | None = None,
        rechecks: RecheckQueue | None = None,
        housekeeping: Sequence[Periodic] = (),
    ) -> None:
        self._settings = settings
        self._sources = {s.name: s for s in sources if s.enabled}
        self._client, self._handoff = client, handoff
        # A handoff that can tell its queue is unreachable (Celery on Redis) pauses page fetches
        # meanwhile: fetched pages would only pile up in memory waiting for it.
        self._wait_reachable: Callable[[], Awaitable[None]] | None = getattr(handoff, "wait_reachable", None)
        # Records are read from memory and written back in batches (ingest/writeback.py).
        self._state = WriteBehindState(state, settings.polling.state_flush_s)
        self._sources_path = sources_path
        self._clock = clock
        self._rng = random.Random()
        self._polling = settings.polling
        self._options = PollOptions(
            sitemap_max_children=settings.polling.sitemap_max_children,
            news_freshness_s=settings.polling.news_freshness_s,
            discovery_refresh_s=settings.polling.discovery_refresh_s,
        )
        self._schedule: Schedule | None = None
        self._leases = leases  # distributed: poll only sources whose lease this daemon holds
        self._rechecks = rechecks  # articles to fetch again for corrections (ingest/corrections.py)
        self._housekeeping = tuple(housekeeping)  # periodic jobs such as retention (ingest/housekeeping.py)
        self._watcher: SourcesWatcher | None = None
        self._in_flight: dict[str, asyncio.Future[SourceReport]] = {}
        self._background: set[asyncio.Task[None]] = set()
        # Sources in flight (queued for a host, polled, or fetching pages): fetched pages wait in
        # memory for their siblings (one handoff per poll), so this bounds memory whatever the
        # number of sources.
        self._open_polls = asyncio.Semaphore(4 * max(settings.poll_concurrency, settings.fetch_concurrency))
        # Made on the running loop by _WorkerPools:
        self._gate: HostGate
        self._fetcher: PoliteClient
        self._tdmrep: TdmRepCache | None = None  # hosts' /.well-known/tdmrep.json (Settings.rights)
        self._polls: asyncio.Queue[tuple[Source, str | None]]
        self._pages: asyncio.Queue[_PageItem]
        self._group: asyncio.TaskGroup

    # -- running ---------------------------------------------------------------------------

    async def run_once(self, on_source_done: Callable[[], None] | None = None) -> RunReport:
        """Poll every enabled source once and wait until what was fetched is processed.
        `on_source_done` is called as each source's poll (and hand-off) ends: progress output."""

        async def one(source: Source) -> SourceReport:
            report = await self._dispatch(source)
            if on_source_done is not None:
                on_source_done()
            return report

        async with self._workers():
            await self._state.load_many(list(self._sources))  # one round trip, not one per source
            reports = await asyncio.gather(*(one(s) for s in list(self._sources.values())))
        drain = await self._handoff.drain(self._settings.once_timeout_s)
        return RunReport(list(reports), drain)

    async def run_forever(self, stop: asyncio.Event) -> None:
        self._schedule = schedule = await self._initial_schedule()
        watcher = (
            SourcesWatcher(
                self._sources_path, self.apply_sources, self._polling.reload_check_s,
                running=tuple(self._sources.values()),  # an edit made during start-up is applied
            )
            if self._sources_path is not None
            else None
        )
        self._watcher = watcher
        async with self._workers() as group:
            if watcher is not None:
                self._spawn(watcher.run(stop))  # cancelled with the rest if the loop below ends
            if self._leases is not None:
                self._spawn(self._leases.keep_alive())
            if self._rechecks is not None:
                self._spawn(self._recheck_loop(stop))
            for job in self._housekeeping:
                self._spawn(run_periodically(job, stop))
            while not stop.is_set():
                with metrics.BACKPRESSURE_PAUSED.track_inprogress():
                    # Backpressure: no new polls past the high-water mark, nor while the queue is
                    # unreachable; a stop request ends the wait.
                    await _unless_stopped(self._handoff.wait_ready(), stop)
                for name in schedule.due(self._clock()):
                    source = self._sources.get(name)
                    if source is not None and name not in self._in_flight:
                        self._spawn(self._dispatch_and_forget(source))
                wait_s = schedule.seconds_until_next(self._clock())
                try:
                    await asyncio.wait_for(stop.wait(), timeout=min(wait_s if wait_s is not None else 1.0, 1.0))
                except TimeoutError:
                    pass
            await self._finish_in_flight()
            if self._leases is not None:
                await self._leases.release_all()

    async def reload_sources(self) -> bool:
        """SIGHUP: re-read the sources file now; True when a changed, valid file was applied."""
        return await self._watcher.check("SIGHUP") if self._watcher is not None else False

    def _workers(self) -> _WorkerPools:
        return _WorkerPools(self)

    async def _finish_in_flight(self) -> None:
        if not self._in_flight:
            return
        grace = self._settings.shutdown_grace_s
        log.info("shutdown_waiting", polls_in_flight=len(self._in_flight), grace_s=grace)
        await asyncio.wait(list(self._in_flight.values()), timeout=grace)

    async def _initial_schedule(self) -> Schedule:
        """Due times from the saved state: a restart does not poll every source at once again."""
        now = self._clock()
        records = await self._state.load_many(list(self._sources))
        schedule = Schedule({}, now, self._rng)
        for name, source in self._sources.items():
            record = records.get(name, FeedRecord())
            interval = _clamp(record.interval_s or source.poll_interval_s, source)
            due = record.next_poll_at
            if due is None or due > now + source.max_bound_s * 1.2:
                due = now
            schedule.add(name, interval, max(due, now))
        return schedule

    def apply_sources(self, loaded: SourcesFile) -> None:
        """Hot reload: add, remove and change sources without a restart."""
        schedule, now = self._schedule, self._clock()
        new = {s.name: s for s in loaded.enabled}
        added = [n for n in new if n not in self._sources]
        removed = [n for n in self._sources if n not in new]
        changed = [n for n in new if n in self._sources and new[n] != self._sources[n]]
        self._sources = new
        if schedule is not None:
            for name in removed:
                schedule.remove(name)
            for name in added:
                schedule.add(name, new[name].poll_interval_s, now)
            for name in changed:
                if name in self._in_flight:
                    continue  # rescheduled with its new settings when its poll ends
                old_due = schedule.due_at(name)
                due = now + new[name].poll_interval_s if old_due is None else min(old_due, now + new[name].poll_interval_s)
                schedule.add(name, new[name].poll_interval_s, due)
        log.info("sources_reloaded", added=added, removed=removed, changed=changed, sources=len(new))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._group.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- one source ------------------------------------------------------------------------

    async def _dispatch_and_forget(self, source: Source) -> None:
        if self._leases is not None and not await self._leases.claim(source.name):
            # Another daemon polls it: ask again later, in time to take over if that one dies.
            if self._schedule is not None and source.name in self._sources:
                due = self._clock() + min(self._leases.retry_after_s, source.poll_interval_s)
                self._schedule.add(source.name, _clamp(source.poll_interval_s, source), due)
            return
        await self._dispatch(source)

    async def _dispatch(self, source: Source) -> SourceReport:
        """Queue one poll of `source` for when its host is free; return its report when done."""
        done: asyncio.Future[SourceReport] = asyncio.get_running_loop().create_future()
        self._in_flight[source.name] = done
        try:
            # Taken before any host slot, so a waiting source holds nothing a running one needs.
            async with self._open_polls:
                host = _paced_host(source.url)
                if host is None:
                    self._polls.put_nowait((source, None))
                else:
                    self._gate.submit(host, lambda: self._polls.put_nowait((source, host)))
                return await done
        finally:
            self._in_flight.pop(source.name, None)

    async def _poll_worker(self) -> None:
        while True:
            source, host = await self._polls.get()
            await self._run_source(source, host)

    async def _run_source(self, source: Source, host: str | None) -> None:
        """One poll; its pages go to the page workers and are awaited off this worker."""
        structlog.contextvars.bind_contextvars(source=source.name)
        started = time.monotonic()
        report = SourceReport(source.name)
        if self._schedule is not None:
            metrics.SCHEDULE_LAG.observe(max(0.0, self._clock() - self._schedule.last_due_at(source.name, self._clock())))
        try:
            result = await self._poll(source, report)
            metrics.record_poll(source.name, report.ok, report.status, report.entries_new, time.monotonic() - started)
        finally:
            structlog.contextvars.unbind_contextvars("source")
            # The host's slot is free once the feed is read: its pages queue for slots of their own.
            if host is not None:
                self._gate.finish(host)
        if result is not None and result.new_entries:
            self._spawn(self._complete(source, result, report, started))
        else:
            await self._complete(source, result, report, started)

    async def _poll(self, source: Source, report: SourceReport) -> PollResult | None:
        try:
            if source.kind == "page":  # listing pages: each request waits for its host's turn
                turns = HostTurns(self._gate, _paced_host(source.url))
                result = await poll_page_source(self._fetcher, source, self._state, self._options, turns)
            else:
                result = await poll_source(self._fetcher, source, self._state, self._options)
        except IngestError as exc:
            _failed(report, exc)
            log.error("poll_failed", error_type=type(exc).__name__, error=str(exc), url=source.url)
            return None
        except Exception as exc:  # a bug or an unforeseen library error: still only this source's
            _failed(report, exc)
            log.exception("poll_crashed", error_type=type(exc).__name__, url=source.url)
            return None
        report.status, report.entries_new = result.status, len(result.new_entries)
        return result

    async def _complete(self, source: Source, result: PollResult | None, report: SourceReport, started: float) -> None:
        """Fetch the new pages, hand them off, remember what is done, save state, reschedule."""
        structlog.contextvars.bind_contextvars(source=source.name)
        record: FeedRecord | None = None
        try:
            if result is not None and result.new_entries:
                record = await self._fetch_and_hand_off(source, result, report)
        except Exception as exc:  # the edge of one source's unit of work
            _failed(report, exc)
            log.exception("poll_crashed", error_type=type(exc).__name__, url=source.url)
        finally:
            try:
                await self._save_outcome(source, report, result, record)
            finally:
                log.info(
                    "poll_finished",
                    status=report.status,
                    entries_new=report.entries_new,
                    articles_fetched=report.articles_fetched,
                    articles_failed=report.articles_failed,
                    ok=report.ok,
                    duration_ms=round((time.monotonic() - started) * 1000),
                )
                structlog.contextvars.unbind_contextvars("source")
                done = self._in_flight.get(source.name)
                if done is not None and not done.done():
                    done.set_result(report)

    async def _fetch_and_hand_off(self, source: Source, result: PollResult, report: SourceReport) -> FeedRecord:
        loop = asyncio.get_running_loop()
        items = []
        for entry in result.new_entries:
            items.append(self._queue_page(source, entry, loop))
        # Handed off batch by batch as pages arrive, not once the whole poll is fetched: a big feed's
        # first batch is processed while the rest download, and a daemon killed mid-poll loses (and
        # fetches again) at most one unfinished batch, not every page of the poll.
        ready: list[ArticleJob] = []
        for outcome in asyncio.as_completed([item.outcome for item in items]):
            page = await outcome
            if isinstance(page, ArticleJob):
                ready.append(page)
            if len(ready) >= self._settings.batch_size:
                await self._hand_off(source.name, ready)
                ready = []
        await self._hand_off(source.name, ready)
        failed = [item.entry.seen_key for item in items if not isinstance(item.outcome.result(), ArticleJob)]
        report.articles_fetched, report.articles_failed = len(items) - len(failed), len(failed)
        counts = await self._state.page_failed(source.name, failed)
        given_up = [key for key, count in counts.items() if count >= self._polling.page_retry_budget]
        if given_up:
            log.warning("articles_given_up", entries=given_up[:20], count=len(given_up), budget=self._polling.page_retry_budget)
            await self._state.mark_seen(source.name, given_up)
        report.articles_given_up = len(given_up)
        # Keep no body hash while pages wait for a retry, or the unchanged feed would hide them.
        retry_pending = len(failed) > len(given_up)
        return result.record if not retry_pending else replace(result.record, body_hash=None)

    def _queue_page(
        self, source: Source, entry: FeedEntry, loop: asyncio.AbstractEventLoop, validators: dict[str, str] | None = None
    ) -> _PageItem:
        """One page for the page workers, once its host's politeness allows; its outcome comes later."""
        item = _PageItem(source, entry, _paced_host(entry.link), loop.create_future(), validators)
        if item.host is None:
            self._pages.put_nowait(item)
        else:
            self._gate.submit(item.host, lambda: self._pages.put_nowait(item))
        return item

    async def _hand_off(self, source_name: str, jobs: list[ArticleJob]) -> None:
        """One batch to the workers; only then do its entries count as seen (failed pages are tried
        again next poll, until their retry budget is spent)."""
        if not jobs:
            return
        await self._handoff.submit(jobs)
        metrics.record_handoff(source_name, len(jobs))
        await self._state.mark_seen(source_name, [job.entry.seen_key for job in jobs if job.entry])
        if self._rechecks is not None:
            try:
                await asyncio.to_thread(self._rechecks.add, jobs, self._clock())
            except sqlite3.Error as exc:  # a missed re-check costs a correction, never the article
                log.warning("rechecks_not_queued", error_type=type(exc).__name__, error=str(exc), jobs=len(jobs))

    # -- corrections -----------------------------------------------------------------------

    async def _recheck_loop(self, stop: asyncio.Event) -> None:
        every_s = self._settings.corrections.check_s
        while not stop.is_set():
            try:
                await self._recheck_due()
            except Exception as exc:  # the edge of one round: log, and look again next time
                log.exception("recheck_round_crashed", error_type=type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), timeout=every_s)
            except TimeoutError:
                pass

    async def _recheck_due(self) -> None:
        """Fetch the articles whose re-check is due, politely (same host gate and robots as polls), with
        the validators of the last fetch; a page that changed goes to the workers as an ordinary job (an
        edited text becomes a new version in the index), an unchanged one (304, same text) ends here."""
        assert self._rechecks is not None
        await self._handoff.wait_ready()  # backpressure applies to re-checks as to polls
        due = await asyncio.to_thread(self._rechecks.due, self._clock(), self._settings.corrections.max_per_round)
        if not due:
            return
        loop = asyncio.get_running_loop()
        items: list[tuple[Recheck, _PageItem]] = []
        for recheck in due:
            source = self._sources.get(recheck.source)
            if source is None:
                continue  # removed or disabled since: its articles are no longer followed
            items.append((recheck, self._queue_page(source, recheck.entry, loop, recheck.validators())))
        outcomes = await asyncio.gather(*(item.outcome for _, item in items))
        by_source: dict[str, list[ArticleJob]] = {}
        unchanged = 0
        for (recheck, _), page in zip(items, outcomes, strict=True):
            if not isinstance(page, ArticleJob):
                continue
            if recheck.unchanged(page):
                unchanged += 1
            else:
                by_source.setdefault(page.source.name, []).append(page)
        for name, jobs in by_source.items():
            await self._handoff.submit(jobs)
            metrics.record_handoff(name, len(jobs))
        changed = [job for jobs in by_source.values() for job in jobs]
        fetched = len(changed) + unchanged
        log.info(
            "articles_rechecked", due=len(due), fetched=fetched, unchanged=unchanged, changed=len(changed),
            failed=len(items) - fetched,
        )
        await asyncio.to_thread(self._rechecks.advance, due, changed)

    async def _save_outcome(
        self, source: Source, report: SourceReport, result: PollResult | None, record: FeedRecord | None
    ) -> None:
        """Reschedule the source and save what `sources status` shows."""
        if record is None and result is not None and report.ok:
            record = result.record
        if record is None:
            record = self._state.cached(source.name)
        if record is None:  # not read yet (a poll that failed before loading it)
            record = await asyncio.shield(self._state.load(source.name))
        # From here on nothing waits: the outcome is recorded even if the poll is being cancelled.
        now = self._clock()
        current = self._sources.get(source.name, source)  # a hot reload may have changed it
        interval = _clamp(record.interval_s or current.poll_interval_s, current)
        if report.ok:
            if record.last_success_at is not None and result is not None:
                interval = adapt_interval(interval, report.entries_new > 0, current.min_bound_s, current.max_bound_s)
            failures = 0
            floor = cache_floor_s(result.max_age_s if result else None, current.min_bound_s, current.max_bound_s)
        else:
            failures = record.failures + 1
            floor = min(report.retry_after_s or 0.0, self._polling.max_retry_after_s)
        if self._schedule is not None and current.name in self._sources:
            due = self._schedule.reschedule(current.name, now, failures, interval, floor)
        else:
            due = now + max(next_delay_s(interval, failures, self._rng), floor)
        updates: dict[str, object] = {
            "failures": failures,
            "next_poll_at": due,
            "interval_s": interval,
            "last_poll_at": now,
            "last_status": report.status if report.status is not None else record.last_status,
        }
        if report.ok:
            updates.update(
                last_success_at=now,
                items_found=result.entries_total if result else record.items_found,
                items_new_total=record.items_new_total + report.entries_new,
            )
            if report.entries_new:
                updates["last_change_at"] = now
        else:
            updates.update(last_error=report.error, last_error_type=report.error_type, last_error_at=now)
        self._state.remember(source.name, replace(record, **updates))  # type: ignore[arg-type]

    async def _page_worker(self) -> None:
        while True:
            item = await self._pages.get()
            structlog.contextvars.bind_contextvars(source=item.source.name)
            fetch_started = time.monotonic()
            try:
                if self._wait_reachable is not None:
                    await self._wait_reachable()
                via: DiscoveredVia = _VIA.get(item.source.kind, "feed")
                item.outcome.set_result(await fetch_page(
                    self._fetcher, item.source, item.entry, via,
                    tdmrep=self._tdmrep, default_reuse=self._settings.rights.reuse_reserved, validators=item.validators,
                ))
            except IngestError as exc:
                log.warning("article_fetch_failed", error_type=type(exc).__name__, error=str(exc), url=item.entry.link)
                item.outcome.set_result(exc)
            except Exception as exc:  # the edge of one page: log once, the poll carries on
                log.exception("article_fetch_crashed", error_type=type(exc).__name__, url=item.entry.link)
                item.outcome.set_result(IngestError(f"{type(exc).__name__}: {exc}"))
            finally:
                structlog.contextvars.unbind_contextvars("source")
                if not item.outcome.done():
                    item.outcome.cancel()
                else:
                    metrics.record_page(item.source.name, item.outcome.result(), time.monotonic() - fetch_started)
                if item.host is not None:
                    self._gate.finish(item.host)


class _WorkerPools:
    """`async with`: the queues, the gate and both worker pools, cancelled on the way out."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self._group = asyncio.TaskGroup()
        self._workers: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> asyncio.TaskGroup:
        d = self._daemon
        settings, polling = d._settings, d._settings.polling
        d._gate = HostGate(HostPacer(settings.http.per_host_concurrency, polling.host_delay_s, polling.max_host_delay_s))
        robots = (
            RobotsCache(d._client, settings.http.user_agent, polling.robots_cache_s) if polling.respect_robots else None
        )
        d._fetcher = PoliteClient(d._client, d._gate, robots)
        rights = settings.rights
        d._tdmrep = TdmRepCache(d._client, rights.tdmrep_cache_s) if rights.tdmrep else None
        d._polls = asyncio.Queue()
        d._pages = asyncio.Queue()
        await self._group.__aenter__()
        d._group = self._group
        self._workers = [self._group.create_task(d._state.run_flusher())]
        self._workers += [self._group.create_task(d._poll_worker()) for _ in range(settings.poll_concurrency)]
        self._workers += [self._group.create_task(d._page_worker()) for _ in range(settings.fetch_concurrency)]
        return self._group

    async def __aexit__(self, *exc_info: object) -> None:
        for task in [*self._workers, *self._daemon._background]:
            task.cancel()
        try:
            await self._group.__aexit__(None, None, None)
        finally:
            try:
                await self._daemon._state.flush()  # what the last polls recorded
            except Exception as exc:  # the store is away: those sources are polled again next start
                log.error("state_not_saved", error_type=type(exc).__name__, error=str(exc))


_VIA: dict[str, DiscoveredVia] = {"sitemap": "sitemap", "page": "page"}


async def _unless_stopped(wait: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Await `wait` until it returns or `stop` is set, whichever comes first (then it is cancelled)."""
    waiting = asyncio.ensure_future(wait)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, stopping):
            task.cancel()
    if waiting.done() and not waiting.cancelled():
        waiting.result()  # its error, if it raised


def _paced_host(url: str) -> str | None:
    return None if urlsplit(url).scheme == "file" else host_key(url)


def _clamp(interval_s: float, source: Source) -> float:
    return min(max(interval_s, source.min_bound_s), source.max_bound_s)


def _failed(report: SourceReport, exc: Exception) -> None:
    report.ok = False
    report.error = str(exc) if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"
    report.error_type = type(exc).__name__
    if isinstance(exc, BadStatus) and exc.status in (429, 503):
        report.retry_after_s = exc.retry_after_s


def install_stop_signals(stop: asyncio.Event) -> None:
    """First SIGTERM/SIGINT: stop polling and drain. Second: exit at once."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("shutdown_forced", signal=signal.Signals(signum).name)
            raise SystemExit(130)
        log.info("shutdown_requested", signal=signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
