"""Schedule: due times from an injected clock, jitter within ±10%, failure backoff and recovery."""

from __future__ import annotations

import random

from ingest.scheduler import MAX_BACKOFF_S, Schedule, adapt_interval, cache_floor_s


def test_every_source_is_due_at_start() -> None:
    schedule = Schedule({"a": 60, "b": 600}, now=1000.0)
    assert sorted(schedule.due(1000.0)) == ["a", "b"]
    assert schedule.due(1000.0) == []


def test_next_poll_is_within_ten_percent_of_the_interval() -> None:
    schedule = Schedule({"a": 600}, now=0.0, rng=random.Random(7))
    now = 0.0
    schedule.due(now)
    for _ in range(200):
        due = schedule.reschedule("a", now=now)
        assert 540.0 <= due - now <= 660.0
        assert schedule.due(due) == ["a"]
        now = due


def test_time_spent_waiting_for_a_busy_host_is_not_added_to_the_next_gap() -> None:
    # Each poll starts up to 4 s after it is due (its host is busy) and takes 2 s: over many
    # polls, gaps between poll starts stay within ±10% of the interval instead of creeping up.
    rng = random.Random(11)
    schedule = Schedule({"a": 60}, now=0.0, rng=rng)
    starts = []
    due = 0.0
    for _ in range(300):
        assert schedule.due(due) == ["a"]
        start = due + rng.uniform(0, 4)
        starts.append(start)
        due = schedule.reschedule("a", now=start + 2)
    gaps = [b - a for a, b in zip(starts[1:], starts[2:])]  # the first gap is the wide-jitter spread
    assert all(54 <= gap <= 66 for gap in gaps), (min(gaps), max(gaps))
    assert abs(sum(gaps) / len(gaps) - 60) < 1  # no drift either way


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


def test_a_removed_source_is_never_due_again() -> None:
    schedule = Schedule({"a": 60, "b": 60}, now=0.0)
    schedule.remove("a")
    assert schedule.due(100.0) == ["b"]


def test_an_added_source_is_due_when_asked() -> None:
    schedule = Schedule({}, now=0.0)
    schedule.add("new", 60, due_at=5.0)
    assert schedule.due(4.0) == [] and schedule.due(5.0) == ["new"]


def test_a_moved_source_is_due_once_at_its_new_time() -> None:
    schedule = Schedule({"a": 60}, now=10.0)
    schedule.add("a", 60, due_at=50.0)
    assert schedule.due(20.0) == [] and schedule.due(50.0) == ["a"] and schedule.due(100.0) == []


def test_retry_after_or_max_age_is_a_floor_on_the_next_poll() -> None:
    schedule = Schedule({"a": 60}, now=0.0, rng=random.Random(2))
    schedule.due(0.0)
    assert schedule.reschedule("a", 0.0, not_before_s=3600) == 3600


def test_interval_shrinks_when_the_feed_changes_and_grows_when_quiet_within_bounds() -> None:
    assert adapt_interval(600, changed=True, min_s=300, max_s=2400) < 600
    assert adapt_interval(600, changed=False, min_s=300, max_s=2400) > 600
    assert adapt_interval(310, changed=True, min_s=300, max_s=2400) == 300
    assert adapt_interval(2300, changed=False, min_s=300, max_s=2400) == 2400


def test_cache_max_age_is_held_within_the_source_bounds() -> None:
    assert cache_floor_s(None, 300, 2400) == 0.0
    assert cache_floor_s(10, 300, 2400) == 300
    assert cache_floor_s(86400, 300, 2400) == 2400


def test_ten_thousand_sources_each_polled_within_ten_percent_of_its_interval() -> None:
    # Injected clock: every source polled the moment it is due, for three intervals.
    schedule = Schedule({f"s{i}": 300 for i in range(10_000)}, now=0.0, rng=random.Random(4))
    last: dict[str, float] = {}
    now = 0.0
    while now < 900:
        for name in schedule.due(now):
            if name in last:
                assert 270 <= now - last[name] <= 331, name
            last[name] = now
            schedule.reschedule(name, now)
        now += schedule.seconds_until_next(now) or 1.0
    assert len(last) == 10_000
