"""Source records and seen entries kept in memory and written back in batches: a FeedState in
front of a FeedState.

A poll reads and writes its source's record once each and marks its handed-off entries seen; at
thousands of polls a second, one store round trip each (a thread hop to SQLite, a Redis request)
costs more than the poll itself. Here reads come from memory, and changed records and new seen
marks reach the store together, every `flush_after_s`, and on the way out. Seen marks not yet
written are answered from memory, so this daemon never fetches an entry twice. Page failures pass
straight through (rare, and they count retries). Never fetches; never decides what a record says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from ingest.logs import get_logger
from ingest.state import FeedRecord, FeedState

log = get_logger(__name__)


class WriteBehindState:
    """What a crash can lose: the records and seen marks of the last `flush_after_s`. Those sources
    are polled again with their older validators and those articles fetched again; their ids make
    the second delivery an update of the same documents (at-least-once, DESIGN.md)."""

    def __init__(self, store: FeedState, flush_after_s: float = 0.5) -> None:
        self._store = store
        self._flush_after_s = flush_after_s
        self._records: dict[str, FeedRecord] = {}
        self._dirty: dict[str, FeedRecord] = {}
        self._seen: dict[str, dict[str, None]] = {}  # source -> keys marked seen, not yet written

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
        pending = self._seen.get(source)
        if pending:
            keys = [key for key in keys if key not in pending]
        return await self._store.unseen(source, keys) if keys else []

    async def mark_seen(self, source: str, keys: Sequence[str]) -> None:
        if keys:
            self._seen.setdefault(source, {}).update(dict.fromkeys(keys))

    async def mark_seen_many(self, batch: Mapping[str, Sequence[str]]) -> None:
        for source, keys in batch.items():
            await self.mark_seen(source, keys)

    async def page_failed(self, source: str, keys: Sequence[str]) -> dict[str, int]:
        return await self._store.page_failed(source, keys)

    async def flush(self) -> None:
        """Write the new seen marks, then every changed record: one round trip each. The writes
        finish even if the caller is cancelled (shutdown); on a store error what was taken is put
        back (newer records win) and the error raised."""
        if not self._dirty and not self._seen:
            return
        records, self._dirty = self._dirty, {}
        seen, self._seen = self._seen, {}
        written: list[str] = []

        async def write() -> None:
            if seen:
                await self._store.mark_seen_many({source: list(keys) for source, keys in seen.items()})
                written.append("seen")
            if records:
                await self._store.save_many(records)

        try:
            await asyncio.shield(write())
        except Exception:
            self._dirty = {**records, **self._dirty}
            if not written:
                for source, keys in seen.items():
                    self._seen[source] = {**keys, **self._seen.get(source, {})}
            raise

    async def run_flusher(self) -> None:
        """Flush every `flush_after_s` until cancelled; a failed write is kept for the next try."""
        while True:
            await asyncio.sleep(self._flush_after_s)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is away: what was not written waits for the next try
                log.warning(
                    "state_flush_failed", error_type=type(exc).__name__, error=str(exc),
                    records=len(self._dirty), sources_with_seen_entries=len(self._seen),
                )

    async def close(self) -> None:
        """Flush; the store itself belongs to whoever made it."""
        await self.flush()
