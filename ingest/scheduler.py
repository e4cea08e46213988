"""Which source is due, and when it is due next. Pure: time comes in as an argument.

One heap of due times serves any number of sources: no sleeping task per source.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable

MAX_BACKOFF_S = 24 * 3600
JITTER = 0.1  # ±10% so sources added together do not poll together forever


class Schedule:
    def __init__(self, intervals_s: dict[str, int], now: float, rng: random.Random | None = None) -> None:
        self._intervals = dict(intervals_s)
        self._rng = rng or random.Random()
        self._heap: list[tuple[float, str]] = [(now, name) for name in sorted(intervals_s)]
        heapq.heapify(self._heap)

    def due(self, now: float) -> list[str]:
        """Pop every source due at `now`. A popped source is off the schedule until `reschedule`."""
        names = []
        while self._heap and self._heap[0][0] <= now:
            names.append(heapq.heappop(self._heap)[1])
        return names

    def seconds_until_next(self, now: float) -> float | None:
        return max(0.0, self._heap[0][0] - now) if self._heap else None

    def reschedule(self, name: str, now: float, failures: int = 0) -> float:
        """Put a polled source back; failures push it later and later (capped), success resets."""
        interval = self._intervals[name]
        delay = min(interval * 2 ** min(failures, 16), max(MAX_BACKOFF_S, interval))
        due: float = now + delay * self._rng.uniform(1 - JITTER, 1 + JITTER)
        heapq.heappush(self._heap, (due, name))
        return due

    @property
    def names(self) -> Iterable[str]:
        return self._intervals.keys()
