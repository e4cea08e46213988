"""Bar charts as geometry for server-rendered SVG (the templates draw them). Pure: no I/O, no HTML.

No front-end build and no charting library in the browser: a chart is a list of rectangles with the
numbers a screen reader and a tooltip need, computed here and drawn by `_charts.html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the day or the name the bar stands for
    value: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    peak: int  # the largest value (the scale's top)
    total: int
    summary: str  # one sentence that says what the chart shows, for its caption and screen readers

    @property
    def empty(self) -> bool:
        return self.total == 0


def days_ending(today: date, days: int) -> list[str]:
    """The `days` calendar days up to and including today, oldest first, as "2026-11-25"."""
    return [(today - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]


def daily_chart(
    per_day: Sequence[tuple[str, int]], today: date, days: int, *, width: int = 600, height: int = 120, what: str = "articles"
) -> Chart:
    """One vertical bar per day of the last `days` days (missing days are zero), today on the right."""
    counts = dict(per_day)
    labels = days_ending(today, days)
    values = [int(counts.get(day, 0)) for day in labels]
    peak = max(values, default=0)
    slot = width / len(labels)
    gap = min(2.0, slot * 0.2)
    bars = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar_height = 0.0 if peak == 0 else max(1.0, (height - 1) * value / peak) if value else 0.0
        bars.append(Bar(round(index * slot, 2), round(height - bar_height, 2), round(slot - gap, 2),
                        round(bar_height, 2), label, value))
    total = sum(values)
    if total == 0:
        summary = f"No {what} in the {days} days to {labels[-1]}."
    else:
        busiest = max(range(len(values)), key=lambda i: (values[i], i))
        summary = (
            f"{total:,} {what} in the {days} days from {labels[0]} to {labels[-1]}; "
            f"the most on {labels[busiest]} ({values[busiest]:,})."
        )
    return Chart(width, height, tuple(bars), peak, total, summary)


def ranking_chart(
    pairs: Sequence[tuple[str, int]], *, width: int = 300, bar_height: int = 18, gap: int = 6, what: str = "articles"
) -> Chart:
    """One horizontal bar per (name, count), in the given order, the longest as wide as the chart."""
    peak = max((value for _name, value in pairs), default=0)
    bars = tuple(
        Bar(0.0, float(index * (bar_height + gap)), round(0.0 if peak == 0 else max(1.0, width * value / peak), 2),
            float(bar_height), name, int(value))
        for index, (name, value) in enumerate(pairs)
    )
    height = max(len(bars) * (bar_height + gap) - gap, 0)
    total = sum(value for _name, value in pairs)
    if not pairs:
        summary = f"No {what}."
    else:
        top = ", ".join(f"{name} {value:,}" for name, value in pairs[:3])
        summary = f"{what.capitalize()} by count, the most first: {top}{', …' if len(pairs) > 3 else ''}."
    return Chart(width, height, bars, peak, total, summary)
