"""Turns what a person typed (CLI options, HTTP parameters) into a SearchQuery. Pure: no I/O.

Every refusal is an InvalidQuery whose message is one line saying what to type instead.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from collections.abc import Mapping
from typing import Any

from workers.errors import InvalidQuery
from workers.ports import SearchQuery, SortOrder

MAX_LIMIT = 1_000
_RELATIVE = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNIT_S = {"m": 60, "min": 60, "h": 3_600, "d": 86_400, "w": 604_800}
# Tolerance for "in the future": clocks of the machines involved may differ a little.
_CLOCK_SKEW = timedelta(minutes=5)
FILTERS = ("source", "domain", "language", "tag", "entity", "story")


def parse_moment(text: str, now: datetime, option: str = "--since") -> datetime:
    """`24h`, `7d`, `2w`, `90m` (that long before now), `2026-11-25` or an ISO 8601 time -> aware UTC."""
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        try:
            return now - timedelta(seconds=amount * _UNIT_S[unit])
        except OverflowError:  # "9999999999d" reaches before the year 1
            raise InvalidQuery(f"{option} {text!r} reaches too far back (try 24h, 7d, 2w or 2026-11-25)") from None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            moment = datetime.combine(date.fromisoformat(text.strip()), time(), tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidQuery(
            f"{option} {text!r} is not a date or a duration (try 24h, 7d, 2w or 2026-11-25)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_query(
    text: str = "",
    *,
    now: datetime | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 10,
    offset: int = 0,
    all_copies: bool = False,
    sort: str = "relevance",
    filters: Mapping[str, str | None] | None = None,
) -> SearchQuery:
    """A validated SearchQuery; InvalidQuery for unknown filters, bad dates, a future or backwards range."""
    now = now or datetime.now(UTC)
    filters = filters or {}
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise InvalidQuery(f"unknown filter {unknown[0]!r} (filters: {', '.join(FILTERS)}, since, until)")
    if sort not in ("relevance", "newest"):
        raise InvalidQuery(f"sort must be relevance or newest, not {sort!r}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if not 0 <= offset <= MAX_LIMIT:
        raise InvalidQuery(f"offset must be between 0 and {MAX_LIMIT}, not {offset}")
    start = parse_moment(since, now, "--since") if since else None
    end = parse_moment(until, now, "--until") if until else None
    if start is not None and start > now + _CLOCK_SKEW:
        raise InvalidQuery(f"--since {since} is in the future: nothing was published after it yet")
    if start is not None and end is not None and end <= start:
        raise InvalidQuery(f"--until {until} is not after --since {since}: swap them")
    values: dict[str, Any] = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in filters.items()}
    order: SortOrder = "newest" if sort == "newest" else "relevance"
    return SearchQuery(
        text=text, limit=limit, offset=offset, collapse=not all_copies, since=start, until=end, sort=order, **values
    )
