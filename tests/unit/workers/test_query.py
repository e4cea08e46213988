"""build_query / parse_moment: what a person types becomes a SearchQuery or a one-line refusal. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workers.errors import InvalidQuery
from workers.index.query import build_query, parse_moment

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T08:30:00+01:00", datetime(2026, 11, 20, 7, 30, tzinfo=UTC)),
    ],
)
def test_relative_and_absolute_moments_are_understood(text: str, expected: datetime) -> None:
    assert parse_moment(text, NOW) == expected


def test_a_date_without_zone_is_utc() -> None:
    assert parse_moment("2026-11-20T08:30", NOW).tzinfo is not None


def test_gibberish_date_is_refused_with_examples() -> None:
    with pytest.raises(InvalidQuery, match="try 24h, 7d"):
        parse_moment("last tuesday", NOW)


def test_since_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidQuery, match="in the future"):
        build_query(since="2030-01-01", now=NOW)


def test_a_backwards_range_is_refused() -> None:
    with pytest.raises(InvalidQuery, match="not after"):
        build_query(since="2026-11-20", until="2026-11-10", now=NOW)


def test_an_unknown_filter_is_refused_by_name() -> None:
    with pytest.raises(InvalidQuery, match="'colour'"):
        build_query(filters={"colour": "red"}, now=NOW)


@pytest.mark.parametrize("limit", [0, -1, 100_000])
def test_a_limit_out_of_range_is_refused(limit: int) -> None:
    with pytest.raises(InvalidQuery, match="limit"):
        build_query(limit=limit, now=NOW)


def test_all_copies_turns_collapse_off() -> None:
    assert build_query("x", all_copies=True, now=NOW).collapse is False


def test_blank_filters_are_no_filters() -> None:
    assert build_query(filters={"source": "  "}, now=NOW).source is None


def test_every_error_message_is_one_line() -> None:
    with pytest.raises(InvalidQuery) as raised:
        build_query(since="soon", now=NOW)
    assert "\n" not in str(raised.value)
