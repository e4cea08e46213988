"""Which source is due, and when it is due next. Pure: time comes in as an argument.

One heap of due times serves any number of sources: no sleeping task per source. Sources
can be added, moved and removed while it runs (hot reload); a removed or moved source's old
heap entry is skipped when it surfaces.

Wide jitter (±10%) spreads sources that start together; after that a source keeps its phase: its
next poll is due one interval (±2%) after its last *due* time, not after its poll ended. So time
spent queueing for a busy host, or in the poll itself, is not added to every gap: a poll that
started late is followed by one due on time, and gaps stay within ±10% of the interval.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable

MAX_BACKOFF_S = 24 * 3600
JITTER = 0.1  # ±10% so sources added together do not poll together forever
STEADY_JITTER = 0.02  # once spread, a source keeps its phase (see the module docstring)
# How the adaptive interval moves: shorter after a poll that found new entries, longer after
# one that did not. It settles where about a third of the polls find something new.
SHRINK_ON_CHANGE = 0.67
GROW_ON_QUIET = 1.25


class Schedule:
    def __init__(
        self, intervals_s: dict[str, float], now: float, rng: random.Random | None = None
    ) -> None:
        self._intervals: dict[str, float] = {}
        self._due_at: dict[str, float] = {}
        self._last_due: dict[str, float] = {}  # when each popped source was due: its phase
        self._spread: set[str] = set()  # sources placed once with wide jitter since being added
        self._rng = rng or random.Random()
        self._heap: list[tuple[float, str]] = []
        for name in sorted(intervals_s):
            self.add(name, intervals_s[name], now)

    def add(self, name: str, interval_s: float, due_at: float) -> None:
        """Put (or move) a source on the schedule, due at `due_at`."""
        self._intervals[name] = interval_s
        self._due_at[name] = due_at
        heapq.heappush(self._heap, (due_at, name))

    def remove(self, name: str) -> None:
        self._intervals.pop(name, None)
        self._due_at.pop(name, None)
        self._last_due.pop(name, None)
        self._spread.discard(name)

    def due(self, now: float) -> list[str]:
        """Pop every source due at `now`. A popped source is off the schedule until `reschedule`."""
        names = []
        while self._heap and self._heap[0][0] <= now:
            due_at, name = heapq.heappop(self._heap)
            if self._due_at.get(name) == due_at:  # else: removed or moved since
                del self._due_at[name]
                self._last_due[name] = due_at
                names.append(name)
        return names

    def seconds_until_next(self, now: float) -> float | None:
        while self._heap and self._due_at.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)  # drop stale entries so the wait is right
        return max(0.0, self._heap[0][0] - now) if self._heap else None

    def reschedule(
        self,
        name: str,
        now: float,
        failures: int = 0,
        interval_s: float | None = None,
        not_before_s: float = 0.0,
    ) -> float:
        """Put a polled source back; failures push it later and later (capped), success resets.
        `not_before_s` (Retry-After, Cache-Control max-age) is a floor on the delay."""
        if name not in self._intervals:
            return now  # removed while it was being polled
        if interval_s is not None:
            self._intervals[name] = interval_s
        interval, last_due = self._intervals[name], self._last_due.get(name)
        if failures == 0 and name in self._spread and last_due is not None:
            due = last_due + interval * self._rng.uniform(1 - STEADY_JITTER, 1 + STEADY_JITTER)
            due = max(due, now + not_before_s, now + interval * (1 - JITTER))
        else:  # placed from now: its first poll, or backing off (recovery then starts afresh)
            due = now + max(next_delay_s(interval, failures, self._rng), not_before_s)
            if failures == 0:
                self._spread.add(name)
            else:
                self._spread.discard(name)
        self.add(name, interval, due)
        return due

    def due_at(self, name: str) -> float | None:
        return self._due_at.get(name)

    def last_due_at(self, name: str, default: float) -> float:
        """When `name` was last due (popped by `due`); `default` for a source never popped."""
        return self._last_due.get(name, default)

    @property
    def names(self) -> Iterable[str]:
        return self._intervals.keys()

    def __contains__(self, name: object) -> bool:
        return name in self._intervals

    def __len__(self) -> int:
        return len(self._intervals)


def next_delay_s(interval_s: float, failures: int, rng: random.Random) -> float:
    """The interval, doubled per consecutive failure (capped at a day), with ±10% jitter."""
    delay: float = min(interval_s * 2 ** min(failures, 16), max(MAX_BACKOFF_S, interval_s))
    return delay * rng.uniform(1 - JITTER, 1 + JITTER)


def adapt_interval(current_s: float, changed: bool, min_s: float, max_s: float) -> float:
    """The next interval, learned from whether the feed changed since the last poll."""
    factor = SHRINK_ON_CHANGE if changed else GROW_ON_QUIET
    return min(max(current_s * factor, min_s), max_s)


def cache_floor_s(max_age_s: float | None, min_s: float, max_s: float) -> float:
    """How long Cache-Control max-age asks us to wait, within the source's own bounds."""
    if max_age_s is None:
        return 0.0
    return min(max(max_age_s, min_s), max_s)
