"""source_health(): each source's extraction figures and open layout drifts, read from the store of the
configured mode (Redis when distributed, the SQLite file when standalone), for `newsingest sources status`.

Reads only: never records pages or changes a drift.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ingest.redis_connect import RedisTarget, redis_client
from ingest.settings import Settings
from workers.health_state import RedisExtractionHealth, SourceHealth, SqliteExtractionHealth


def source_health(settings: Settings, sources: Sequence[str]) -> dict[str, SourceHealth]:
    """Figures per source name; sources with no page recorded yet are left out. Raises TransientError when
    the store cannot be read."""
    if settings.redis_url:
        client = redis_client(RedisTarget.from_settings(settings))
        try:
            return RedisExtractionHealth(client, settings.key_prefix, settings.health).health(sources)
        finally:
            client.close()
    if not settings.sqlite_path.exists():
        return {}  # never run here: nothing processed yet
    # Read-only: a status query must never create tables in, or lock, the daemon's file.
    conn = sqlite3.connect(f"{settings.sqlite_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return SqliteExtractionHealth(conn, settings.health, create=False).health(sources)
    finally:
        conn.close()
