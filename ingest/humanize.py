"""Times, shares and layout drifts in words, for people: `sources status` and the web console say them alike."""

from __future__ import annotations

from workers.drift import Drift


def duration(seconds: float | None) -> str:
    """The two largest units: 90061 -> "1d1h"; None -> "-"."""
    if seconds is None:
        return "-"
    total = int(max(seconds, 0))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts[:2]) or "0s"


def ago(moment: float | None, now: float) -> str:
    return "never" if moment is None else f"{duration(now - moment)} ago"


def until(moment: float | None, now: float) -> str:
    if moment is None:
        return "at start"
    return f"in {duration(moment - now)}" if moment > now else "due now"


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def drift_text(drift: Drift, now: float) -> str:
    """"median words 640 → 45 (since 2h ago)"."""
    label = drift.metric.replace("_share", "").replace("_", " ")
    show = number if drift.metric == "median_words" else share
    return f"{label} {show(drift.before)} → {show(drift.after)} (since {ago(drift.since, now)})"
