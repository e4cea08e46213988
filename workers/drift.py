"""Layout drift: a source's recent pages against its own history, by a table of rules. Pure: no I/O, no logs.

The recent window is the source's last `recent_pages` pages; its history, the baseline pages before them (up
to `history_pages`). A rule compares one figure of the two windows (workers.health.WindowFigures); when it
moves past `raise_at` the drift is raised, with the history's figure kept as `before`. From then on the
drift is judged against that kept figure, not against a history that fills up with broken pages, and it
clears only when the recent window is back within `clear_at` of it (hysteresis: a figure hovering at the
threshold raises one warning, not one per batch).

Why these thresholds (for the default windows, 20 recent pages against up to 200):
* a window is judged after every page, so plain thresholds meet luck thousands of times: +25 points of
  no-text pages fired about once per 2,000 pages on a simulated stable site with 10% of them, and halving
  the median about once per 1,000 on a site of briefs and features (log-normal lengths, sigma 0.8). So each
  page rule also has a luck guard (DriftRule.luck_counts): the recent count must be a 1-in-a-million
  chance (HealthSettings.drift_max_chance) at the history's rate, taken at the top of what the history
  allows. With 200 pages of history: 7 of 20 pages without text when the history had none, 13 of 20 when
  it had 10%; the median halved with 13 of 20 pages below the history's 10th percentile. A template change
  sends these counts to 15-20 of 20. Simulated, 200,000 pages of a noisy stable site (20% no text, 15%
  fallback, lengths sigma 0.6 and 1.0) then raised nothing.
* the thresholds say how big a change is worth a person's time: +25 points of pages without text, +30
  points of fallback extraction, the median word count halved.
* boilerplate (the share of extracted lines dropped as furniture) is pooled over every line of the window,
  so it barely moves on a stable site; +20 points means menus or link lists reached the text. It has no
  luck guard: lines of one page are not independent draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ingest.settings import HealthSettings
from workers.health import PageHealth, WindowFigures, window_figures

Metric = Literal["no_text_share", "median_words", "fallback_share", "boilerplate_share"]


@dataclass(frozen=True)
class DriftRule:
    """One row of the table. `points`: after - before (shares, 0..1); `ratio`: after / before.

    `luck_counts` names the recent pages the luck guard counts (no_text, fallback, or short: fewer words
    than the history's 10th percentile). With it, a rule also needs that count to be less likely than
    HealthSettings.drift_max_chance at the history's rate (a binomial tail, the rate taken at the upper end
    of what the history allows: 12 in 200 may well be a 10% site), so a small window's luck is no drift.
    """

    metric: Metric
    direction: Literal["up", "down"]
    measure: Literal["points", "ratio"]
    raise_at: float
    clear_at: float
    luck_counts: Literal["no_text", "fallback", "short"] | None = None

    def moved(self, before: float, after: float) -> bool:
        return self._past(before, after, self.raise_at)

    def recovered(self, before: float, after: float) -> bool:
        return not self._past(before, after, self.clear_at)

    def _past(self, before: float, after: float, threshold: float) -> bool:
        if self.measure == "points":
            change = after - before
            return change >= threshold if self.direction == "up" else -change >= threshold
        if before <= 0:
            return False
        ratio = after / before
        return ratio <= threshold if self.direction == "down" else ratio >= threshold


DRIFT_RULES: tuple[DriftRule, ...] = (
    DriftRule("no_text_share", "up", "points", raise_at=0.25, clear_at=0.10, luck_counts="no_text"),
    DriftRule("median_words", "down", "ratio", raise_at=0.50, clear_at=0.75, luck_counts="short"),
    DriftRule("fallback_share", "up", "points", raise_at=0.30, clear_at=0.10, luck_counts="fallback"),
    DriftRule("boilerplate_share", "up", "points", raise_at=0.20, clear_at=0.08),
)
RULES_BY_METRIC: dict[str, DriftRule] = {rule.metric: rule for rule in DRIFT_RULES}


@dataclass(frozen=True)
class Drift:
    """A figure of a source that moved: `before` is its history's, `after` the recent window's."""

    source: str
    metric: Metric
    before: float
    after: float
    since: float  # when it was raised (Unix time)


@dataclass(frozen=True)
class DriftChange:
    drift: Drift
    raised: bool  # False: the source recovered and the drift cleared (`after` is the recovered figure)


@dataclass(frozen=True)
class Windows:
    recent: WindowFigures
    history: WindowFigures


def split_windows(pages: Sequence[PageHealth], settings: HealthSettings) -> Windows:
    """The figures of the recent window (the last pages) and of the baseline history before it."""
    history, recent = _window_pages(pages, settings)
    return Windows(recent=window_figures(recent), history=window_figures(history))


def assess(
    source: str,
    pages: Sequence[PageHealth],
    open_drifts: Mapping[str, Drift],
    settings: HealthSettings,
    now: float,
    rules: Sequence[DriftRule] = DRIFT_RULES,
) -> list[DriftChange]:
    """The drifts `pages` (oldest first) newly raise, and the open ones they clear. Nothing is judged until
    the recent window is full; nothing is raised until the history holds `min_history_pages` pages."""
    history_pages, recent_pages = _window_pages(pages, settings)
    if len(recent_pages) < settings.recent_pages:
        return []
    recent, history = window_figures(recent_pages), window_figures(history_pages)
    history_ready = history.pages >= min(settings.min_history_pages, settings.history_pages)
    changes = []
    for rule in rules:
        after = getattr(recent, rule.metric)
        if after is None:
            continue  # too little text to judge this figure now: an open drift stays open
        opened = open_drifts.get(rule.metric)
        if opened is not None:
            if rule.recovered(opened.before, after):
                changes.append(DriftChange(Drift(source, rule.metric, opened.before, after, opened.since), raised=False))
            continue
        before = getattr(history, rule.metric)
        if not history_ready or before is None or not rule.moved(before, after):
            continue
        if rule.luck_counts and _chance(rule.luck_counts, history_pages, recent_pages, history) > settings.drift_max_chance:
            continue
        changes.append(DriftChange(Drift(source, rule.metric, before, after, now), raised=True))
    return changes


def assess_each(
    source: str,
    stored: Sequence[PageHealth],
    new: Sequence[PageHealth],
    open_drifts: Mapping[str, Drift],
    settings: HealthSettings,
    now: float,
) -> tuple[list[PageHealth], list[DriftChange]]:
    """Add `new` pages to the `stored` ones one by one, judging after each (as if they came one at a time, so
    the first broken pages of a batch never count as history for the rest). Returns the new pages with their
    baseline flag (False once a drift is open) and the changes, in order."""
    keep = settings.recent_pages + settings.history_pages
    pages, opened = list(stored[-keep:]), dict(open_drifts)
    flagged: list[PageHealth] = []
    changes: list[DriftChange] = []
    for page in new:
        page = replace(page, baseline=not opened)
        flagged.append(page)
        pages.append(page)
        del pages[:-keep]
        for change in assess(source, pages, opened, settings, now):
            changes.append(change)
            if change.raised:
                opened[change.drift.metric] = change.drift
            else:
                opened.pop(change.drift.metric, None)
    return flagged, changes


def _window_pages(pages: Sequence[PageHealth], settings: HealthSettings) -> tuple[list[PageHealth], list[PageHealth]]:
    cut = max(len(pages) - settings.recent_pages, 0)
    history = [page for page in pages[:cut] if page.baseline][-settings.history_pages :]
    return history, list(pages[cut:])


def _chance(
    counts: str, history_pages: Sequence[PageHealth], recent_pages: Sequence[PageHealth], history: WindowFigures
) -> float:
    """How likely the recent window's count of `counts` pages is at the history's rate."""
    if counts == "no_text":
        return _chance_of_at_least(
            sum(p.no_text for p in recent_pages), len(recent_pages), _upper_rate(history.no_text_share or 0.0, history.pages)
        )
    texts = [p for p in recent_pages if not p.no_text]
    if counts == "fallback":
        count, rate = sum(p.fallback for p in texts), history.fallback_share or 0.0
    else:  # short: below the history's 10th percentile, where one page in ten of the history lies
        low = history.low_words or 0.0
        count, rate = sum(p.words < low for p in texts), 0.1
    return _chance_of_at_least(count, len(texts), _upper_rate(rate, history.text_pages))


def current_drifts(pages: Sequence[PageHealth], open_drifts: Mapping[str, Drift], settings: HealthSettings) -> list[Drift]:
    """The open drifts, with `after` updated to the recent window's figure where it can be judged."""
    recent = split_windows(pages, settings).recent
    shown = []
    for metric, drift in open_drifts.items():
        after = getattr(recent, metric, None)
        shown.append(Drift(drift.source, drift.metric, drift.before, after if after is not None else drift.after, drift.since))
    order = list(RULES_BY_METRIC)
    return sorted(shown, key=lambda d: order.index(d.metric) if d.metric in order else len(order))


def _chance_of_at_least(count: int, pages: int, rate: float) -> float:
    """P(X >= count) for X ~ Binomial(pages, rate): how often `count` such pages in `pages` come by luck."""
    return sum(math.comb(pages, k) * rate**k * (1 - rate) ** (pages - k) for k in range(count, pages + 1))


def _upper_rate(share: float, pages: int, z: float = 1.96) -> float:
    """The upper end of the 95% Wilson interval of a share seen over `pages` pages."""
    z2 = z * z
    centre = (share + z2 / (2 * pages)) / (1 + z2 / pages)
    margin = z / (1 + z2 / pages) * math.sqrt(share * (1 - share) / pages + z2 / (4 * pages * pages))
    return min(centre + margin, 1.0)


def _counts(rule: DriftRule, windows: Windows) -> tuple[int, int]:
    """How many pages each window's share of `rule` is taken over: all pages, or those that gave text."""
    if rule.metric == "no_text_share":
        return windows.recent.pages, windows.history.pages
    return windows.recent.text_pages, windows.history.text_pages
