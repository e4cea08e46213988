"""The daemon: poll due sources, fetch their new articles, hand them off; `--once` or forever.

One unit of work is one poll of one source: its errors are logged once, with their type, and
never reach another source. Only a daemon bug may end the task group.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import structlog

from ingest.client import HttpClient
from ingest.errors import IngestError
from ingest.fetch import fetch_page
from ingest.handoff import DrainReport, Handoff
from ingest.jobs import ArticleJob, FeedEntry
from ingest.logs import get_logger
from ingest.poll import poll_source
from ingest.scheduler import Schedule
from ingest.settings import Settings
from ingest.sources import Source
from ingest.state import FeedState

log = get_logger(__name__)


@dataclass
class SourceReport:
    source: str
    ok: bool = True
    status: int | None = None
    entries_new: int = 0
    articles_fetched: int = 0
    articles_failed: int = 0
    error: str | None = None


@dataclass
class RunReport:
    sources: list[SourceReport] = field(default_factory=list)
    drain: DrainReport | None = None

    @property
    def articles_fetched(self) -> int:
        return sum(r.articles_fetched for r in self.sources)


class Daemon:
    def __init__(
        self,
        settings: Settings,
        sources: Sequence[Source],
        client: HttpClient,
        state: FeedState,
        handoff: Handoff,
    ) -> None:
        self._settings = settings
        self._sources = {s.name: s for s in sources if s.enabled}
        self._client, self._state, self._handoff = client, state, handoff
        self._fetch_slots = asyncio.Semaphore(settings.fetch_concurrency)
        self._poll_slots = asyncio.Semaphore(settings.poll_concurrency)

    async def run_once(self) -> RunReport:
        """Poll every enabled source once and wait until what was fetched is processed."""
        reports = await asyncio.gather(*(self._guarded_poll(s) for s in self._sources.values()))
        drain = await self._handoff.drain(self._settings.once_timeout_s)
        return RunReport(list(reports), drain)

    async def run_forever(self, stop: asyncio.Event) -> None:
        schedule = Schedule({n: s.poll_interval_s for n, s in self._sources.items()}, time.time())
        in_flight: set[asyncio.Task[SourceReport]] = set()
        async with asyncio.TaskGroup() as group:
            while not stop.is_set():
                for name in schedule.due(time.time()):
                    task = group.create_task(self._poll_and_reschedule(self._sources[name], schedule))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                wait_s = schedule.seconds_until_next(time.time())
                try:
                    await asyncio.wait_for(stop.wait(), timeout=min(wait_s if wait_s is not None else 60, 60))
                except TimeoutError:
                    pass
            await self._finish_in_flight(in_flight)

    async def _finish_in_flight(self, in_flight: set[asyncio.Task[SourceReport]]) -> None:
        if not in_flight:
            return
        grace = self._settings.shutdown_grace_s
        log.info("shutdown_waiting", polls_in_flight=len(in_flight), grace_s=grace)
        _, pending = await asyncio.wait(set(in_flight), timeout=grace)
        for task in pending:
            task.cancel()

    async def _poll_and_reschedule(self, source: Source, schedule: Schedule) -> SourceReport:
        report = await self._guarded_poll(source)
        record = await self._state.load(source.name)
        failures = 0 if report.ok else record.failures + 1
        if not report.ok:
            await self._state.save(source.name, replace(record, failures=failures))
        due = schedule.reschedule(source.name, time.time(), failures)
        log.debug("poll_scheduled", source=source.name, in_s=round(due - time.time(), 1))
        return report

    async def _guarded_poll(self, source: Source) -> SourceReport:
        """One poll of one source; every error ends here, logged once with its type."""
        structlog.contextvars.bind_contextvars(source=source.name)
        started = time.monotonic()
        report = SourceReport(source.name)
        try:
            async with self._poll_slots:
                await self._poll(source, report)
        except IngestError as exc:
            report.ok, report.error = False, str(exc)
            log.error("poll_failed", error_type=type(exc).__name__, error=str(exc), url=source.url)
        except Exception as exc:  # a bug or an unforeseen library error: still only this source's
            report.ok, report.error = False, f"{type(exc).__name__}: {exc}"
            log.exception("poll_crashed", error_type=type(exc).__name__, url=source.url)
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
        return report

    async def _poll(self, source: Source, report: SourceReport) -> None:
        result = await poll_source(self._client, source, self._state)
        report.status, report.entries_new = result.status, len(result.new_entries)
        fetched = await asyncio.gather(*(self._fetch(source, entry) for entry in result.new_entries))
        jobs = [job for job in fetched if job is not None]
        report.articles_fetched, report.articles_failed = len(jobs), len(fetched) - len(jobs)
        for start in range(0, len(jobs), self._settings.batch_size):
            await self._handoff.submit(jobs[start : start + self._settings.batch_size])
        # Only handed-off entries count as seen; failed pages are tried again next poll.
        await self._state.mark_seen(source.name, [job.entry.seen_key for job in jobs if job.entry])
        # Keep the old body hash while pages failed, or the unchanged feed would hide them.
        record = result.record if report.articles_failed == 0 else replace(result.record, body_hash=None)
        await asyncio.shield(self._state.save(source.name, record))

    async def _fetch(self, source: Source, entry: FeedEntry) -> ArticleJob | None:
        async with self._fetch_slots:
            try:
                return await fetch_page(self._client, source, entry)
            except IngestError as exc:
                log.warning("article_fetch_failed", error_type=type(exc).__name__, error=str(exc), url=entry.link)
                return None


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
