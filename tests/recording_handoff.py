"""Recorder: the Handoff port, keeping the jobs it is given, for tests about fetching (not workers)."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.handoff import DrainReport
from ingest.jobs import ArticleJob


class Recorder:
    def __init__(self) -> None:
        self.jobs: list[ArticleJob] = []

    async def submit(self, jobs: Sequence[ArticleJob]) -> None:
        self.jobs.extend(jobs)

    async def wait_ready(self) -> None:
        return None

    async def drain(self, timeout_s: float) -> DrainReport:
        return DrainReport(0, 0, 0, 0)

    async def close(self) -> None:
        return None
