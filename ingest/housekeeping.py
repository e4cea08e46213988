"""Periodic jobs the daemon runs beside polling (retention): every so often, never fatal.

A job's failure is logged once with its type and the job runs again at its next time; only a stop
request ends the loop. Knows nothing of what the jobs do (the composition root makes them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ingest.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    every_s: float
    run: Callable[[], Awaitable[None]]
    first_delay_s: float = 60.0  # after start-up, so a restart loop does not run it back to back


async def run_periodically(job: Periodic, stop: asyncio.Event) -> None:
    delay_s = min(job.first_delay_s, job.every_s)
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay_s)
            return
        except TimeoutError:
            pass
        try:
            await job.run()
        except Exception as exc:  # the edge of one round: log, and try again next time
            log.error("periodic_job_failed", job=job.name, error_type=type(exc).__name__, error=str(exc),
                      retry_in_s=job.every_s)
        delay_s = job.every_s
