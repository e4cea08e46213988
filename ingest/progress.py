"""Progress of a long command: a bar on a terminal (tqdm), else a log line at each tenth and the end.

Never decides what is done; callers report how many items finished.
"""

from __future__ import annotations

import sys
from typing import Any

from ingest.logs import get_logger

log = get_logger(__name__)


class Progress:
    def __init__(self, total: int, *, unit: str, desc: str, event: str) -> None:
        self._total, self._done = total, 0
        self._every = max(1, total // 10)
        self._event, self._unit = event, unit
        self._bar: Any = None
        if sys.stderr.isatty() and total > 0:
            from tqdm import tqdm  # type: ignore[import-untyped]

            self._bar = tqdm(total=total, unit=unit, desc=desc, file=sys.stderr)

    def advance(self, count: int = 1) -> None:
        before, self._done = self._done, self._done + count
        # The total was counted before the work began; writers may have added to it since.
        self._total = max(self._total, self._done)
        if self._bar is not None:
            self._bar.update(count)
        elif self._done // self._every > before // self._every or self._done == self._total:
            log.info(self._event, done=self._done, total=self._total, unit=self._unit)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
