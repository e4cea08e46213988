"""Feed state that survives restarts: validators, last body hash, failures, and entries already seen.

Two adapters behind one Protocol: Redis (distributed) and SQLite (standalone).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis

T = TypeVar("T")


@dataclass(frozen=True)
class FeedRecord:
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_full_fetch_at: float | None = None  # epoch seconds of the last 200 response
    failures: int = 0


class FeedState(Protocol):
    async def load(self, source: str) -> FeedRecord: ...

    async def save(self, source: str, record: FeedRecord) -> None: ...

    async def unseen(self, source: str, keys: Sequence[str]) -> list[str]:
        """The keys (entry ids) never marked seen for this source, in their given order."""

    async def mark_seen(self, source: str, keys: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


class RedisFeedState:
    def __init__(self, url: str, key_prefix: str) -> None:
        self._redis: aioredis.Redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._prefix = key_prefix

    async def load(self, source: str) -> FeedRecord:
        raw = await self._redis.hgetall(f"{self._prefix}feed:{source}")
        return _record_from({str(k): str(v) for k, v in raw.items()})

    async def save(self, source: str, record: FeedRecord) -> None:
        key = f"{self._prefix}feed:{source}"
        values: dict[str | bytes, str | bytes] = {
            k: ("" if v is None else str(v)) for k, v in asdict(record).items()
        }
        await self._redis.hset(key, mapping=values)  # type: ignore[arg-type]

    async def unseen(self, source: str, keys: Sequence[str]) -> list[str]:
        if not keys:
            return []
        scores = await self._redis.zmscore(f"{self._prefix}seen:{source}", list(keys))
        return [key for key, score in zip(keys, scores, strict=True) if score is None]

    async def mark_seen(self, source: str, keys: Sequence[str]) -> None:
        if keys:
            now = datetime.now(UTC).timestamp()
            await self._redis.zadd(f"{self._prefix}seen:{source}", {key: now for key in keys})

    async def close(self) -> None:
        await self._redis.aclose()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_state (
    source TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, body_hash TEXT,
    last_full_fetch_at REAL, failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS seen_entries (
    source TEXT NOT NULL, entry_key TEXT NOT NULL, seen_at REAL NOT NULL,
    PRIMARY KEY (source, entry_key)
) WITHOUT ROWID;
"""


class SqliteFeedState:
    """Feed state in the standalone SQLite file; every call runs on the thread that owns the file."""

    def __init__(self, path: Path, owner: ThreadPoolExecutor) -> None:
        self._path = path
        self._owner = owner
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._owner, fn, *args)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    async def load(self, source: str) -> FeedRecord:
        def query() -> FeedRecord:
            row = self._db().execute(
                "SELECT etag, last_modified, body_hash, last_full_fetch_at, failures"
                " FROM feed_state WHERE source = ?",
                (source,),
            ).fetchone()
            return FeedRecord(*row) if row else FeedRecord()

        record: FeedRecord = await self._run(query)
        return record

    async def save(self, source: str, record: FeedRecord) -> None:
        def write() -> None:
            self._db().execute(
                "INSERT OR REPLACE INTO feed_state VALUES (?, ?, ?, ?, ?, ?)",
                (source, *asdict(record).values()),
            )

        await self._run(write)

    async def unseen(self, source: str, keys: Sequence[str]) -> list[str]:
        def query() -> list[str]:
            db = self._db()
            return [
                key
                for key in keys
                if db.execute(
                    "SELECT 1 FROM seen_entries WHERE source = ? AND entry_key = ?", (source, key)
                ).fetchone()
                is None
            ]

        result: list[str] = await self._run(query)
        return result

    async def mark_seen(self, source: str, keys: Sequence[str]) -> None:
        now = datetime.now(UTC).timestamp()

        def write() -> None:
            db = self._db()
            db.execute("BEGIN")
            db.executemany(
                "INSERT OR REPLACE INTO seen_entries VALUES (?, ?, ?)", [(source, k, now) for k in keys]
            )
            db.execute("COMMIT")

        await self._run(write)

    async def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._run(shut)


def _record_from(raw: dict[str, str]) -> FeedRecord:
    return FeedRecord(
        etag=raw.get("etag") or None,
        last_modified=raw.get("last_modified") or None,
        body_hash=raw.get("body_hash") or None,
        last_full_fetch_at=float(raw["last_full_fetch_at"]) if raw.get("last_full_fetch_at") else None,
        failures=int(raw.get("failures") or 0),
    )
