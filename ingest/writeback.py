"""Source records kept in memory and written back in batches: a FeedState in front of a FeedState.

A poll reads and writes its source's record once each; at thousands of polls a second, one store
round trip each (a thread hop to SQLite, a Redis request) costs more than the poll itself. Here
reads come from memory and changed records reach the store together, every `flush_after_s`,
and on the way out. Seen entries and page failures pass straight through: they decide what is
fetched, so they are never held back. Never fetches; never decides what a record says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ingest.logs import get_logger
from ingest.state import FeedRecord, FeedState

log = get_logger(__name__)


class WriteBehindState:
    """What a crash can lose: the records of the last `flush_after_s` (those sources are polled
    again, with their older validators); never a seen entry."""

    def __init__(self, store: FeedState, flush_after_s: float = 0.5) -> None:
        self._store = store
        self._flush_after_s = flush_after_s
        self._records: dict[str, FeedRecord] = {}
        self._dirty: dict[str, FeedRecord] = {}

    def cached(self, source: str) -> FeedRecord | None:
        return self._records.get(source)

    def remember(self, source: str, record: FeedRecord) -> None:
        """Save without waiting: the record is read back at once and written with the next flush."""
        self._records[source] = record
        self._dirty[source] = record

    async def load(self, source: str) -> FeedRecord:
        record = self._records.get(source)
        if record is None:
            record = self._records[source] = await self._store.load(source)
        return record

    async def load_many(self, sources: Sequence[str]) -> dict[str, FeedRecord]:
        missing = [s for s in sources if s not in self._records]
        if missing:
            self._records.update(await self._store.load_many(missing))
        return {s: self._records[s] for s in sources}

    async def save(self, source: str, record: FeedRecord) -> None:
        self.remember(source, record)

    async def save_many(self, records: dict[str, FeedRecord]) -> None:
        for source, record in records.items():
            self.remember(source, record)

    async def unseen(self, source: str, keys: Sequence[str]) -> list[str]:
        return await self._store.unseen(source, keys)

    async def mark_seen(self, source: str, keys: Sequence[str]) -> None:
        await self._store.mark_seen(source, keys)

    async def page_failed(self, source: str, keys: Sequence[str]) -> dict[str, int]:
        return await self._store.page_failed(source, keys)

    async def flush(self) -> None:
        """Write every changed record in one round trip. The write finishes even if the caller is
        cancelled (shutdown), so what was taken from the dirty set is never dropped half-way."""
        if not self._dirty:
            return
        batch, self._dirty = self._dirty, {}
        await asyncio.shield(self._store.save_many(batch))

    async def run_flusher(self) -> None:
        """Flush every `flush_after_s` until cancelled; a failed write is kept for the next try."""
        while True:
            await asyncio.sleep(self._flush_after_s)
            batch = dict(self._dirty)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is away: keep the records, newer ones win
                self._dirty = {**batch, **self._dirty}
                log.warning("state_flush_failed", error_type=type(exc).__name__, error=str(exc), records=len(batch))

    async def close(self) -> None:
        """Flush; the store itself belongs to whoever made it."""
        await self.flush()
