"""Drift rules: a sharp change in a source's figures is raised once and cleared on recovery; the ordinary
variety of a stable site, or a source too new to have a history, raises nothing."""

from __future__ import annotations

import random

from ingest.settings import HealthSettings
from workers.drift import DRIFT_RULES, DriftChange, assess_each, split_windows
from workers.health import PageHealth, window_figures

SETTINGS = HealthSettings()  # 20 recent pages against up to 200, at least 40


def _page(words: int = 600, *, no_text: bool = False, fallback: bool = False, lines: int = 12, dropped: int = 1,
          baseline: bool = True) -> PageHealth:
    if no_text:
        return PageHealth("site", True, baseline=baseline)
    return PageHealth("site", False, words, fallback, lines, dropped, baseline)


def _varied_pages(rng: random.Random, count: int) -> list[PageHealth]:
    """A stable but varied site: log-normal lengths, 1 page in 10 without text (videos), 1 in 20 from the feed."""
    return [
        _page(no_text=True) if rng.random() < 0.10
        else _page(int(rng.lognormvariate(6.2, 0.6)), fallback=rng.random() < 0.05, lines=rng.randint(6, 40),
                   dropped=rng.randint(0, 4))
        for _ in range(count)
    ]


def _replay(pages: list[PageHealth], settings: HealthSettings = SETTINGS) -> list[DriftChange]:
    """Every change the pages cause, recorded one after another on a source with no history."""
    return assess_each("site", [], pages, {}, settings, 0.0)[1]


def test_rules_cover_the_four_figures() -> None:
    assert {rule.metric for rule in DRIFT_RULES} == {"no_text_share", "median_words", "fallback_share", "boilerplate_share"}


def test_stable_varied_site_raises_nothing_over_two_thousand_pages() -> None:
    for seed in range(5):
        assert _replay(_varied_pages(random.Random(seed), 2000)) == []


def test_median_words_collapsing_is_raised_with_before_and_after() -> None:
    changes = _replay([_page(640)] * 60 + [_page(45)] * 20)

    (change,) = changes
    assert change.raised and change.drift.metric == "median_words"
    assert (change.drift.before, change.drift.after) == (640, 45)


def test_empty_bodies_raise_the_no_text_share() -> None:
    changes = _replay([_page()] * 60 + [_page(no_text=True)] * 20)

    assert [c.drift.metric for c in changes] == ["no_text_share"]


def test_fallback_path_taking_over_is_raised() -> None:
    changes = _replay([_page()] * 60 + [_page(fallback=True)] * 20)

    assert [c.drift.metric for c in changes] == ["fallback_share"]


def test_boilerplate_share_jumping_is_raised() -> None:
    changes = _replay([_page(lines=12, dropped=1)] * 60 + [_page(lines=30, dropped=18)] * 20)

    assert [c.drift.metric for c in changes] == ["boilerplate_share"]


def test_a_new_source_without_history_raises_nothing() -> None:
    assert _replay([_page(640)] * 20 + [_page(45)] * 20) == []


def test_a_drift_is_raised_once_however_long_it_lasts() -> None:
    changes = _replay([_page(640)] * 60 + [_page(45)] * 500)

    assert len(changes) == 1


def test_recovery_clears_the_drift_against_the_kept_figure() -> None:
    changes = _replay([_page(640)] * 60 + [_page(45)] * 300 + [_page(600)] * 20)

    assert [(c.raised, c.drift.before) for c in changes] == [(True, 640), (False, 640)]
    assert changes[-1].drift.after == 600


def test_partial_recovery_keeps_the_drift_open() -> None:
    changes = _replay([_page(640)] * 60 + [_page(45)] * 20 + [_page(400)] * 40)

    assert [c.raised for c in changes] == [True]  # 400 is above half of 640 but not back within three quarters


def test_pages_recorded_during_a_drift_never_become_the_history() -> None:
    broken = [_page(45, baseline=False)] * 100
    windows = split_windows([_page(640)] * 60 + broken + [_page(600)] * 20, SETTINGS)

    assert windows.history.median_words == 640


def test_pages_recorded_once_a_drift_is_open_are_flagged_as_not_baseline() -> None:
    flagged, _ = assess_each("site", [], [_page(640)] * 60 + [_page(45)] * 30, {}, SETTINGS, 0.0)

    assert flagged[0].baseline and not flagged[-1].baseline


def test_recovered_site_after_a_long_breakage_raises_nothing_new() -> None:
    changes = _replay([_page(640, lines=12, dropped=3)] * 60 + [_page(45, lines=3, dropped=0)] * 200
                      + [_page(640, lines=12, dropped=3)] * 60)

    assert [c.raised for c in changes] == [True, False]


def test_text_figures_need_text_on_half_the_window() -> None:
    figures = window_figures([_page(no_text=True)] * 11 + [_page(300)] * 9)

    assert figures.no_text_share == 0.55
    assert figures.median_words is None and figures.fallback_share is None
