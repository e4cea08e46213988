"""Where extraction health lives: each source's last pages and its open drifts, in Redis or in SQLite.

Both adapters keep at most `recent_pages + history_pages` pages per source (a ring), and forget a source
unheard of for `keep_days`. record() appends a batch's pages, judges them (workers.drift) and stores what
changed; each raised or cleared drift is returned to exactly one caller, however many workers record at
once, so it is logged once (a drift raised and cleared within one batch is reported both ways). Never decides
what drift is, and never logs.

Redis keys: `{prefix}health:{source}:pages` (a list of encoded pages, oldest first) and
`{prefix}health:{source}:drift` (a hash: metric -> the drift as JSON). SQLite tables: `health_pages`,
`health_drift`, beside the index in the one file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import redis

from ingest.settings import HealthSettings
from workers.drift import RULES_BY_METRIC, Drift, DriftChange, Windows, assess_each, current_drifts, split_windows
from workers.errors import TransientError
from workers.health import PageHealth

SCHEMA_COMPONENT = "workers.health"
SCHEMA_VERSION = 1
_DAY_S = 24 * 3600
# Sources unheard of for keep_days are deleted at most this often (a scan of the pages index).
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class SourceHealth:
    """What `newsingest sources status` shows of one source's extraction."""

    source: str
    windows: Windows
    drifts: tuple[Drift, ...]  # open drifts, `after` as of the recent window


def encode_page(page: PageHealth) -> str:
    """A page in a dozen bytes: `t|n,words,fallback,lines,dropped_lines,baseline`."""
    return (
        f"{'n' if page.no_text else 't'},{page.words},{int(page.fallback)},{page.lines},{page.dropped_lines},"
        f"{int(page.baseline)}"
    )


def decode_page(source: str, value: str | bytes) -> PageHealth:
    text = value.decode("ascii") if isinstance(value, bytes) else value
    kind, words, fallback, lines, dropped, baseline = text.split(",")
    return PageHealth(source, kind == "n", int(words), fallback == "1", int(lines), int(dropped), baseline == "1")


def _drift_json(drift: Drift) -> str:
    return json.dumps(asdict(drift), separators=(",", ":"))


def _drifts(source: str, stored: Mapping[Any, Any]) -> dict[str, Drift]:
    """Open drifts from their stored JSON, skipping metrics no rule knows any more."""
    found = {}
    for metric, value in stored.items():
        name = metric.decode() if isinstance(metric, bytes) else str(metric)
        if name in RULES_BY_METRIC:
            found[name] = Drift(**{**json.loads(value), "source": source})
    return found


def _by_source(pages: Sequence[PageHealth]) -> dict[str, list[PageHealth]]:
    """Pages grouped by source, each group in recording order."""
    groups: dict[str, list[PageHealth]] = {}
    for page in pages:
        groups.setdefault(page.source, []).append(page)
    return groups


class RedisExtractionHealth:
    """ExtractionHealthStore over Redis, shared by every worker (distributed mode).

    Per source, one read (the ring and the open drifts), then one write (the pages pushed and trimmed, the
    changes claimed). Two workers recording one source at once each judge without the other's pages, which
    the next batch sees; each change is still claimed by one of them only (HSETNX, HDEL).
    """

    def __init__(self, redis_client: redis.Redis, key_prefix: str, settings: HealthSettings | None = None) -> None:
        self._redis = redis_client
        self._prefix = key_prefix
        self._settings = settings or HealthSettings()

    def keys(self, source: str) -> tuple[str, str]:
        return f"{self._prefix}health:{source}:pages", f"{self._prefix}health:{source}:drift"

    def record(self, pages: Sequence[PageHealth], now: datetime) -> list[DriftChange]:
        settings = self._settings
        keep, ttl = settings.recent_pages + settings.history_pages, settings.keep_days * _DAY_S
        changes: list[DriftChange] = []
        try:
            for source, group in _by_source(pages).items():
                pages_key, drift_key = self.keys(source)
                with self._redis.pipeline(transaction=True) as pipe:
                    pipe.lrange(pages_key, 0, -1)
                    pipe.hgetall(drift_key)
                    stored, opened = pipe.execute()
                history = [decode_page(source, value) for value in stored]
                flagged, found = assess_each(source, history, group, _drifts(source, opened), settings, now.timestamp())
                with self._redis.pipeline(transaction=True) as pipe:
                    pipe.rpush(pages_key, *(encode_page(page) for page in flagged))
                    pipe.ltrim(pages_key, -keep, -1)
                    pipe.expire(pages_key, ttl)
                    for change in found:
                        if change.raised:
                            pipe.hsetnx(drift_key, change.drift.metric, _drift_json(change.drift))
                        else:
                            pipe.hdel(drift_key, change.drift.metric)
                    pipe.expire(drift_key, ttl)
                    answers = pipe.execute()[3 : 3 + len(found)]
                # HSETNX and HDEL answer 1 to exactly one worker: only that one reports the change.
                changes += [change for change, answer in zip(found, answers, strict=True) if int(answer) == 1]
        except redis.RedisError as exc:
            raise TransientError(f"redis extraction health record failed: {exc}") from exc
        return changes

    def health(self, sources: Sequence[str]) -> dict[str, SourceHealth]:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for source in sources:
                    pages_key, drift_key = self.keys(source)
                    pipe.lrange(pages_key, 0, -1)
                    pipe.hgetall(drift_key)
                answers = pipe.execute()
        except redis.RedisError as exc:
            raise TransientError(f"redis extraction health read failed: {exc}") from exc
        found = {}
        for source, stored, drifts in zip(sources, answers[::2], answers[1::2], strict=True):
            if stored:
                pages = [decode_page(source, value) for value in stored]
                found[source] = _source_health(source, pages, _drifts(source, drifts), self._settings)
        return found


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS health_pages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    page TEXT NOT NULL,
    recorded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS health_pages_source ON health_pages (source, seq);
CREATE TABLE IF NOT EXISTS health_drift (
    source TEXT NOT NULL,
    metric TEXT NOT NULL,
    drift TEXT NOT NULL,
    PRIMARY KEY (source, metric)
) WITHOUT ROWID;
INSERT OR IGNORE INTO schema_version (component, version) VALUES ('{SCHEMA_COMPONENT}', {SCHEMA_VERSION});
"""


class SqliteExtractionHealth:
    """ExtractionHealthStore in the standalone SQLite file. Not thread-safe: the file's one owner calls it.

    With `create=False` it only reads (`sources status` on a read-only connection); a file the pipeline has
    not written health to yet reads as no figures.
    """

    def __init__(self, conn: sqlite3.Connection, settings: HealthSettings | None = None, *, create: bool = True) -> None:
        self._conn = conn
        self._settings = settings or HealthSettings()
        self._pruned_at = float("-inf")
        if create:
            with _transient_on_sqlite_errors("create health schema"):
                conn.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nCOMMIT;")

    def record(self, pages: Sequence[PageHealth], now: datetime) -> list[DriftChange]:
        settings = self._settings
        keep = settings.recent_pages + settings.history_pages
        moment = now.timestamp()
        changes: list[DriftChange] = []
        with _transient_on_sqlite_errors("extraction health record"), self._transaction():
            self._prune(moment)
            for source, group in _by_source(pages).items():
                flagged, found = assess_each(
                    source, self._pages(source), group, self._open_drifts(source), settings, moment
                )
                self._conn.executemany(
                    "INSERT INTO health_pages (source, page, recorded_at) VALUES (?, ?, ?)",
                    [(source, encode_page(page), moment) for page in flagged],
                )
                self._conn.execute(
                    """DELETE FROM health_pages WHERE source = ? AND seq < (
                           SELECT seq FROM health_pages WHERE source = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)""",
                    (source, source, keep - 1),
                )
                for change in found:
                    if change.raised:
                        self._conn.execute(
                            "INSERT OR REPLACE INTO health_drift (source, metric, drift) VALUES (?, ?, ?)",
                            (source, change.drift.metric, _drift_json(change.drift)),
                        )
                    else:
                        self._conn.execute(
                            "DELETE FROM health_drift WHERE source = ? AND metric = ?", (source, change.drift.metric)
                        )
                changes += found
        return changes

    def health(self, sources: Sequence[str]) -> dict[str, SourceHealth]:
        found = {}
        try:
            for source in sources:
                pages = self._pages(source)
                if pages:
                    found[source] = _source_health(source, pages, self._open_drifts(source), self._settings)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return {}  # nothing processed into this file yet
            raise TransientError(f"sqlite extraction health read failed: {exc}") from exc
        return found

    def _pages(self, source: str) -> list[PageHealth]:
        rows = self._conn.execute(
            "SELECT page FROM health_pages WHERE source = ? ORDER BY seq", (source,)
        ).fetchall()
        return [decode_page(source, str(page)) for (page,) in rows]

    def _open_drifts(self, source: str) -> dict[str, Drift]:
        rows = self._conn.execute("SELECT metric, drift FROM health_drift WHERE source = ?", (source,)).fetchall()
        return _drifts(source, {metric: drift for metric, drift in rows})

    def _prune(self, moment: float) -> None:
        if moment - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = moment
        horizon = moment - self._settings.keep_days * _DAY_S
        stale = [
            source
            for (source,) in self._conn.execute(
                "SELECT source FROM health_pages GROUP BY source HAVING max(recorded_at) < ?", (horizon,)
            ).fetchall()
        ]
        for source in stale:
            self._conn.execute("DELETE FROM health_pages WHERE source = ?", (source,))
            self._conn.execute("DELETE FROM health_drift WHERE source = ?", (source,))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")


def _source_health(source: str, pages: list[PageHealth], opened: Mapping[str, Drift], settings: HealthSettings) -> SourceHealth:
    return SourceHealth(source, split_windows(pages, settings), tuple(current_drifts(pages, opened, settings)))


@contextmanager
def _transient_on_sqlite_errors(action: str) -> Iterator[None]:
    """A locked or full database may work on a retry: TransientError, with the cause chained."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise TransientError(f"sqlite {action} failed: {exc}") from exc
