"""What each source's polls left behind (FeedRecord), read from the state store of the configured mode:
Redis when distributed, the SQLite file when standalone. For `sources status`, `status` and the web
console; the daemon keeps its own store open instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ingest.redis_connect import RedisTarget
from ingest.settings import Settings
from ingest.state import FeedRecord, FeedState, RedisFeedState, SqliteFeedState


async def load_records(settings: Settings, names: list[str]) -> dict[str, FeedRecord]:
    """The records of these sources; those never polled are left out (all of them before a first run)."""
    owner: ThreadPoolExecutor | None = None
    if settings.redis_url:
        state: FeedState = RedisFeedState(RedisTarget.from_settings(settings), settings.key_prefix)
    elif settings.sqlite_path.exists():
        owner = ThreadPoolExecutor(1, thread_name_prefix="sqlite-owner")
        state = SqliteFeedState(settings.sqlite_path, owner)
    else:
        return {}  # never run here: nothing polled yet
    try:
        return await state.load_many(names)
    finally:
        await state.close()
        if owner is not None:
            owner.shutdown(wait=True)
