"""`newsingest sources status`: what each source did last, read from the saved state."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ingest.cli import main
from ingest.state import FeedRecord, SqliteFeedState


async def _save(path: Path, name: str, record: FeedRecord) -> None:
    owner = ThreadPoolExecutor(1)
    state = SqliteFeedState(path, owner)
    await state.save(name, record)
    await state.close()
    owner.shutdown()


def test_status_shows_last_success_error_items_next_poll_and_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: city\n    url: https://city.example/rss.xml\n"
        "  - name: quiet\n    url: https://quiet.example/rss.xml\n",
        encoding="utf-8",
    )
    now = time.time()
    record = FeedRecord(
        last_poll_at=now - 60, last_success_at=now - 3600, items_found=12, next_poll_at=now + 600,
        interval_s=900, failures=1, last_error="HTTP 503: https://city.example/rss.xml (source=city)",
        last_error_type="BadStatus", last_error_at=now - 60, last_status=503,
    )
    asyncio.run(_save(tmp_path / "data" / "newsingest.sqlite3", "city", record))
    monkeypatch.setenv("NEWSINGEST_DATA_DIR", str(tmp_path / "data"))
    assert main(["sources", "status", str(sources)]) == 0
    out = capsys.readouterr().out
    assert "last success 1h ago" in out and "items found 12" in out
    assert "next poll in 9m" in out and "interval 15m" in out
    assert "last error 1m ago: BadStatus: HTTP 503" in out
    assert "quiet" in out and "never polled" in out
