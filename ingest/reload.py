"""Hot reload of the sources file: edits take effect within seconds, bad edits are refused.

The file is re-read when its content changes (checked by hash on a short timer: editors that
replace the file, and network filesystems, all show up that way). A file with problems is
logged with every problem (file, line, reason) and the last good sources keep running.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path

from ingest.errors import SourcesFileError
from ingest.logs import get_logger
from ingest.sources import SourcesFile, load_sources

log = get_logger(__name__)


class SourcesWatcher:
    def __init__(self, path: Path, apply: Callable[[SourcesFile], None], check_s: float) -> None:
        self._path = path
        self._apply = apply
        self._check_s = check_s
        self._digest = _digest(path)  # the daemon started from this content

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._check_s)
            except TimeoutError:
                pass
            if not stop.is_set():
                await self.check()

    async def check(self) -> bool:
        """Reload if the file changed; True when a new configuration was applied."""
        digest = await asyncio.to_thread(_digest, self._path)
        if digest == self._digest:
            return False
        self._digest = digest
        try:
            loaded = await asyncio.to_thread(load_sources, self._path)
        except SourcesFileError as exc:
            log.error(
                "sources_reload_rejected",
                file=str(self._path),
                problems=exc.problems,
                note="the last good sources keep running",
            )
            return False
        self._apply(loaded)
        return True


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # missing for a moment while an editor replaces it
