"""Source state that survives restarts: validators, body hash, schedule, outcome of the last polls,
entries already seen (bounded), and per-page failure counts.

Two adapters behind one Protocol: Redis (distributed) and SQLite (standalone). Never fetches.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import redis.asyncio as aioredis

from ingest.redact import redact_text
from ingest.redis_connect import RedisTarget, async_redis_client
from ingest.settings import PollingSettings

@dataclass(frozen=True)
class FeedRecord:
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_full_fetch_at: float | None = None  # epoch seconds of the last 200 response
    failures: int = 0  # consecutive failed polls
    # What `sources status` shows (epoch seconds):
    next_poll_at: float | None = None
    interval_s: float | None = None  # the adaptive interval, between the source's min and max
    last_poll_at: float | None = None
    last_success_at: float | None = None
    last_change_at: float | None = None  # last poll that found new entries
    last_status: int | None = None
    last_error: str | None = None
    last_error_type: str | None = None
    last_error_at: float | None = None
    items_found: int = 0  # entries in the feed at its last full fetch
    items_new_total: int = 0  # new entries found, all polls together
    # `site` sources: the feeds discovery found, and when.
    feed_url: str | None = None
    feed_kind: str | None = None
    discovered: tuple[str, ...] = ()
    discovered_at: float | None = None

    def __post_init__(self) -> None:
        # An error quotes the URL it failed on; a feed's token or password must not be stored with it
        # (`sources status` and `status` print it, and Redis and SQLite keep it).
        if self.last_error:
            object.__setattr__(self, "last_error", redact_text(self.last_error))

    def to_json(self) -> str:
        # vars(), not asdict(): the fields are flat values, and asdict deep-copies each one.
        return _ENCODE(vars(self))

    @classmethod
    def from_json(cls, text: str | bytes | None) -> FeedRecord:
        if not text:
            return cls()
        raw = json.loads(text)
        values = {k: v for k, v in raw.items() if k in _FIELDS}  # a newer daemon may have written more
        if "discovered" in values:
            values["discovered"] = tuple(values["discovered"] or ())
        return cls(**values)

    @classmethod
    def from_foundation(cls, values: dict[str, Any]) -> FeedRecord:
        """A record of the foundation's state (SQLite `feed_state` row, Redis `feed:{name}` hash,
        where None was stored as ""): its validators, body hash, last full fetch and failures."""

        def text(name: str) -> str | None:
            value = values.get(name)
            return str(value) if value not in (None, "") else None

        fetched = text("last_full_fetch_at")
        failures = text("failures")
        return cls(
            etag=text("etag"),
            last_modified=text("last_modified"),
            body_hash=text("body_hash"),
            last_full_fetch_at=float(fetched) if fetched else None,
            failures=int(float(failures)) if failures else 0,
        )


_FIELDS = frozenset(f.name for f in fields(FeedRecord))
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


class FeedState(Protocol):
    async def load(self, source: str) -> FeedRecord: ...

    async def load_many(self, sources: Sequence[str]) -> dict[str, FeedRecord]: ...

    async def save(self, source: str, record: FeedRecord) -> None: ...

    async def save_many(self, records: dict[str, FeedRecord]) -> None:
        """Save several sources' records in one round trip (one transaction in SQLite)."""

    async def unseen(self, source: str, keys: Sequence[str]) -> list[str]:
        """The keys never marked seen for this source, in their given order. Keys already seen are
        touched: an entry still listed by its feed is never forgotten by pruning."""

    async def mark_seen(self, source: str, keys: Sequence[str]) -> None:
        """Remember keys as seen (clearing their failure counts); prune what is old or too many."""

    async def mark_seen_many(self, batch: Mapping[str, Sequence[str]]) -> None:
        """mark_seen for several sources in one round trip (one transaction in SQLite)."""

    async def page_failed(self, source: str, keys: Sequence[str]) -> dict[str, int]:
        """Count one more failed poll for each page; returns each key's failure count so far."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class SeenLimits:
    max_age_s: float = 90 * 24 * 3600
    max_per_source: int = 20_000

    @classmethod
    def from_settings(cls, polling: PollingSettings) -> SeenLimits:
        return cls(max_age_s=polling.seen_max_age_s, max_per_source=polling.seen_max_per_source)


class RedisFeedState:
    def __init__(self, url: RedisTarget | str, key_prefix: str, limits: SeenLimits = SeenLimits()) -> None:
        self._redis: aioredis.Redis = async_redis_client(url, decode_responses=True)
        self._prefix = key_prefix
        self._limits = limits

    def _key(self, kind: str, source: str) -> str:
        return f"{self._prefix}{kind}:{source}"

    async def load(self, source: str) -> FeedRecord:
        return (await self.load_many([source]))[source]

    async def load_many(self, sources: Sequence[str]) -> dict[str, FeedRecord]:
        out: dict[str, FeedRecord] = {}
        for start in range(0, len(sources), 1000):
            chunk = list(sources[start : start + 1000])
            values = await self._redis.mget([self._key("source", s) for s in chunk])
            out.update({s: FeedRecord.from_json(v) for s, v in zip(chunk, values, strict=True) if v})
            missing = [s for s, v in zip(chunk, values, strict=True) if not v]
            if missing:
                out.update(await self._upgrade(missing))
        return out

    async def _upgrade(self, sources: list[str]) -> dict[str, FeedRecord]:
        """Records of sources with no saved record: the foundation's `feed:{name}` hash when one
        is left (moved to the new key once, so an upgrade keeps validators and the last full
        fetch), else empty."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for source in sources:
                pipe.hgetall(self._key("feed", source))
            hashes = await pipe.execute()
        records = {s: FeedRecord.from_foundation(h) if h else FeedRecord() for s, h in zip(sources, hashes, strict=True)}
        old = [s for s, h in zip(sources, hashes, strict=True) if h]
        if old:
            async with self._redis.pipeline(transaction=True) as pipe:
                for source in old:
                    pipe.set(self._key("source", source), records[source].to_json(), nx=True)
                    pipe.delete(self._key("feed", source))
                await pipe.execute()
        return records

    async def save(self, source: str, record: FeedRecord) -> None:
        await self._redis.set(self._key("source", source), record.to_json())

    async def save_many(self, records: dict[str, FeedRecord]) -> None:
        if records:
            await self._redis.mset({self._key("source", s): r.to_json() for s, r in records.items()})

    async def unseen(self, source: str, keys: Sequence[str]) -> list[str]:
        if not keys:
            return []
        seen_key = self._key("seen", source)
        scores = await self._redis.zmscore(seen_key, list(keys))
        seen = [key for key, score in zip(keys, scores, strict=True) if score is not None]
        if seen:
            await self._redis.zadd(seen_key, {key: _now() for key in seen}, xx=True)
        return [key for key, score in zip(keys, scores, strict=True) if score is None]

    async def mark_seen(self, source: str, keys: Sequence[str]) -> None:
        await self.mark_seen_many({source: keys})

    async def mark_seen_many(self, batch: Mapping[str, Sequence[str]]) -> None:
        batch = {source: keys for source, keys in batch.items() if keys}
        if not batch:
            return
        now = _now()
        async with self._redis.pipeline(transaction=False) as pipe:
            for source, keys in batch.items():
                seen_key = self._key("seen", source)
                pipe.zadd(seen_key, {key: now for key in keys})
                pipe.hdel(self._key("page_failures", source), *keys)
                pipe.zremrangebyscore(seen_key, "-inf", now - self._limits.max_age_s)
                pipe.zremrangebyrank(seen_key, 0, -self._limits.max_per_source - 1)  # keep the newest
            await pipe.execute()

    async def page_failed(self, source: str, keys: Sequence[str]) -> dict[str, int]:
        if not keys:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hincrby(self._key("page_failures", source), key, 1)
            counts = await pipe.execute()
        return {key: int(count) for key, count in zip(keys, counts, strict=True)}

    async def close(self) -> None:
        await self._redis.aclose()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS source_state (source TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen_entries (
    source TEXT NOT NULL, entry_key TEXT NOT NULL, seen_at REAL NOT NULL,
    PRIMARY KEY (source, entry_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_entries_by_age ON seen_entries (source, seen_at);
CREATE TABLE IF NOT EXISTS page_failures (
    source TEXT NOT NULL, entry_key TEXT NOT NULL, failures INTEGER NOT NULL,
    PRIMARY KEY (source, entry_key)
) WITHOUT ROWID;
"""
_CHUNK = 500  # keys per statement, below SQLite's variable limit


class SqliteFeedState:
    """Feed state in the standalone SQLite file; every call runs on the thread that owns the file."""

    def __init__(self, path: Path, owner: ThreadPoolExecutor, limits: SeenLimits = SeenLimits()) -> None:
        self._path = path
        self._owner = owner
        self._limits = limits
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._owner, fn, *args)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
            # WAL + NORMAL: no fsync per small state write; a power cut may lose the last few
            # writes (a source polled again), never corrupt the file.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            _upgrade_foundation_table(conn)
            self._conn = conn
        return self._conn

    async def load(self, source: str) -> FeedRecord:
        return (await self.load_many([source]))[source]

    async def load_many(self, sources: Sequence[str]) -> dict[str, FeedRecord]:
        def query() -> dict[str, FeedRecord]:
            found: dict[str, str] = {}
            for chunk in _chunks(sources):
                rows = self._db().execute(
                    f"SELECT source, record FROM source_state WHERE source IN ({_marks(chunk)})", chunk
                )
                found.update(dict(rows.fetchall()))
            return {s: FeedRecord.from_json(found.get(s)) for s in sources}

        result: dict[str, FeedRecord] = await self._run(query)
        return result

    async def save(self, source: str, record: FeedRecord) -> None:
        def write() -> None:
            self._db().execute("INSERT OR REPLACE INTO source_state VALUES (?, ?)", (source, record.to_json()))

        await self._run(write)

    async def save_many(self, records: dict[str, FeedRecord]) -> None:
        rows = [(source, record.to_json()) for source, record in records.items()]

        def write() -> None:
            db = self._db()
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO source_state VALUES (?, ?)", rows)
            db.execute("COMMIT")

        if rows:
            await self._run(write)

    async def unseen(self, source: str, keys: Sequence[str]) -> list[str]:
        def query() -> list[str]:
            db = self._db()
            seen: set[str] = set()
            for chunk in _chunks(keys):
                rows = db.execute(
                    f"SELECT entry_key FROM seen_entries WHERE source = ? AND entry_key IN ({_marks(chunk)})",
                    (source, *chunk),
                )
                seen.update(row[0] for row in rows)
            if seen:
                now = _now()
                db.executemany(
                    "UPDATE seen_entries SET seen_at = ? WHERE source = ? AND entry_key = ?",
                    [(now, source, key) for key in seen],
                )
            return [key for key in keys if key not in seen]

        result: list[str] = await self._run(query)
        return result

    async def mark_seen(self, source: str, keys: Sequence[str]) -> None:
        await self.mark_seen_many({source: keys})

    async def mark_seen_many(self, batch: Mapping[str, Sequence[str]]) -> None:
        rows = [(source, key) for source, keys in batch.items() for key in keys]
        if not rows:
            return
        now = _now()
        limits = self._limits
        sources = sorted({source for source, _key in rows})

        def write() -> None:
            db = self._db()
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO seen_entries VALUES (?, ?, ?)", [(s, k, now) for s, k in rows])
            db.executemany("DELETE FROM page_failures WHERE source = ? AND entry_key = ?", rows)
            db.executemany(
                "DELETE FROM seen_entries WHERE source = ? AND seen_at < ?",
                [(source, now - limits.max_age_s) for source in sources],
            )
            db.executemany(
                "DELETE FROM seen_entries WHERE source = ? AND entry_key IN (SELECT entry_key FROM seen_entries"
                " WHERE source = ? ORDER BY seen_at DESC LIMIT -1 OFFSET ?)",
                [(source, source, limits.max_per_source) for source in sources],
            )
            db.execute("COMMIT")

        await self._run(write)

    async def page_failed(self, source: str, keys: Sequence[str]) -> dict[str, int]:
        def write() -> dict[str, int]:
            db = self._db()
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO page_failures VALUES (?, ?, 1)"
                " ON CONFLICT (source, entry_key) DO UPDATE SET failures = failures + 1",
                [(source, k) for k in keys],
            )
            counts = {}
            for chunk in _chunks(keys):
                rows = db.execute(
                    f"SELECT entry_key, failures FROM page_failures WHERE source = ? AND entry_key IN ({_marks(chunk)})",
                    (source, *chunk),
                )
                counts.update({str(k): int(n) for k, n in rows})
            db.execute("COMMIT")
            return counts

        if not keys:
            return {}
        result: dict[str, int] = await self._run(write)
        return result

    async def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._run(shut)


def _upgrade_foundation_table(db: sqlite3.Connection) -> None:
    """Move the foundation's `feed_state` rows (validators, body hash, last full fetch, failures)
    into `source_state` once, so an upgrade does not fetch every feed unconditionally again."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feed_state'").fetchone() is None:
        return
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute("SELECT * FROM feed_state").fetchall()
    finally:
        db.row_factory = None
    db.execute("BEGIN")
    db.executemany(
        "INSERT OR IGNORE INTO source_state VALUES (?, ?)",
        [(row["source"], FeedRecord.from_foundation(dict(row)).to_json()) for row in rows],
    )
    db.execute("DROP TABLE feed_state")
    db.execute("COMMIT")


def _now() -> float:
    return datetime.now(UTC).timestamp()


def _chunks(items: Sequence[str]) -> list[list[str]]:
    return [list(items[i : i + _CHUNK]) for i in range(0, len(items), _CHUNK)]


def _marks(chunk: Sequence[str]) -> str:
    return ",".join("?" * len(chunk))
