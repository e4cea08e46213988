"""Schedule: due times from an injected clock, jitter within ±10%, failure backoff and recovery."""

from __future__ import annotations

import random

from ingest.scheduler import MAX_BACKOFF_S, Schedule


def test_every_source_is_due_at_start() -> None:
    schedule = Schedule({"a": 60, "b": 600}, now=1000.0)
    assert sorted(schedule.due(1000.0)) == ["a", "b"]
    assert schedule.due(1000.0) == []


def test_next_poll_is_within_ten_percent_of_the_interval() -> None:
    schedule = Schedule({"a": 600}, now=0.0, rng=random.Random(7))
    schedule.due(0.0)
    for _ in range(200):
        due = schedule.reschedule("a", now=0.0)
        assert 540.0 <= due <= 660.0
        schedule.due(due)


def test_sources_added_together_spread_out() -> None:
    schedule = Schedule({f"s{i}": 600 for i in range(100)}, now=0.0, rng=random.Random(1))
    names = schedule.due(0.0)
    dues = {round(schedule.reschedule(name, 0.0)) for name in names}
    assert len(dues) > 50


def test_failures_back_off_and_success_resets() -> None:
    schedule = Schedule({"a": 60}, now=0.0, rng=random.Random(3))
    schedule.due(0.0)
    first = schedule.reschedule("a", 0.0, failures=1)
    schedule.due(first)
    fifth = schedule.reschedule("a", 0.0, failures=5)
    schedule.due(fifth)
    assert 60 * 2 * 0.9 <= first <= 60 * 2 * 1.1
    assert 60 * 32 * 0.9 <= fifth <= 60 * 32 * 1.1
    assert schedule.reschedule("a", 0.0, failures=0) <= 66


def test_backoff_is_capped() -> None:
    schedule = Schedule({"a": 600}, now=0.0)
    schedule.due(0.0)
    assert schedule.reschedule("a", 0.0, failures=40) <= MAX_BACKOFF_S * 1.1


def test_seconds_until_next() -> None:
    schedule = Schedule({"a": 60}, now=0.0, rng=random.Random(5))
    schedule.due(0.0)
    due = schedule.reschedule("a", 0.0)
    assert schedule.seconds_until_next(10.0) == due - 10.0
    assert schedule.seconds_until_next(due + 5) == 0.0
