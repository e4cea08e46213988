"""Hot reload of the sources file: edits take effect within seconds, bad edits are refused.

The file is re-read when its content changes (checked by hash on a short timer: editors that
replace the file, and network filesystems, all show up that way). A file with problems is
logged with every problem (file, line, reason) and the last good sources keep running.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest.errors import SourcesFileError
from ingest.logs import get_logger
from ingest.sources import Source, SourcesFile, load_sources

log = get_logger(__name__)


class SourcesWatcher:
    def __init__(
        self,
        path: Path,
        apply: Callable[[SourcesFile], None],
        check_s: float,
        running: Sequence[Source] | None = None,
    ) -> None:
        """`running`: the sources the daemon runs, read from the file earlier (start-up may wait
        minutes for the index): the first check reads the file and applies it if it differs, so an
        edit made meanwhile is not missed. Without it, the file as it is now is taken as running."""
        self._path = path
        self._apply = apply
        self._check_s = check_s
        self._running = None if running is None else tuple(running)
        self._digest = None if running is not None else _digest(path)
        self._applied = self._digest  # the content the running sources came from (never a refused file)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._check_s)
            except TimeoutError:
                pass
            if not stop.is_set():
                await self.check()

    async def check(self, trigger: str = "edit") -> bool:
        """Reload if the file changed; True when a new configuration was applied.

        A reload someone asked for (`trigger="SIGHUP"`) also re-reads a file refused before, so
        whoever asked sees its problems again, not only the timer's earlier report of them."""
        digest = await asyncio.to_thread(_digest, self._path)
        asked_about_refused = trigger != "edit" and digest != self._applied
        if digest == self._digest and not asked_about_refused:
            return False
        self._digest = digest
        try:
            loaded = await asyncio.to_thread(load_sources, self._path)
        except SourcesFileError as exc:
            log.error(
                "sources_reload_rejected",
                error_type=type(exc).__name__,
                file=str(self._path),
                problems=exc.problems,
                trigger=trigger,
                note="the last good sources keep running",
            )
            return False
        self._applied = digest
        running, self._running = self._running, None
        if running is not None and loaded.enabled == running:
            return False  # the file the daemon started from
        self._apply(loaded)
        return True


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # missing for a moment while an editor replaces it
