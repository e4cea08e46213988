"""Retention periods: `retention.keep` in the settings and a source's `keep:` in sources.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.errors import SourcesFileError
from ingest.keep import FOREVER, describe_keep, parse_keep_s
from ingest.settings import Settings
from ingest.sources import load_sources


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("365d", 365 * 86_400), ("12w", 12 * 7 * 86_400), ("48h", 48 * 3600), (" 7 d ", 7 * 86_400), ("0", FOREVER),
     (0, FOREVER), ("0d", FOREVER)],
)
def test_periods_parse_to_seconds(text: object, seconds: int) -> None:
    assert parse_keep_s(text) == seconds


@pytest.mark.parametrize("text", ["365", "5 minutes", "1y", "-3d", "", "d", True, "30m"])
def test_anything_else_is_refused_with_the_forms_that_work(text: object) -> None:
    with pytest.raises(ValueError, match="not a retention period.*try 365d, 12w or 48h"):
        parse_keep_s(text)


def test_a_bare_number_is_told_it_needs_a_unit() -> None:
    with pytest.raises(ValueError, match="needs a unit"):
        parse_keep_s("365")


@pytest.mark.parametrize(("seconds", "text"), [(0, "forever"), (365 * 86_400, "365d"), (14 * 86_400, "2w"), (7200, "2h")])
def test_periods_are_described_as_written(seconds: int, text: str) -> None:
    assert describe_keep(seconds) == text


def test_the_global_keep_is_a_setting_and_keeps_for_ever_by_default() -> None:
    assert Settings().retention.keep == FOREVER
    assert Settings(retention={"keep": "12w"}).retention.keep == 12 * 7 * 86_400


def test_a_bad_global_keep_names_the_setting() -> None:
    with pytest.raises(ValidationError, match=r"retention\.keep[\s\S]*'a year' is not a retention period"):
        Settings(retention={"keep": "a year"})


def _sources(tmp_path: Path, keep_line: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - name: wire\n"
        "    url: https://wire.example/feed.xml\n"
        f"{keep_line}"
        "  - name: paper\n"
        "    url: https://paper.example/feed.xml\n",
        encoding="utf-8",
    )
    return path


def test_a_source_keeps_its_own_period_and_others_use_the_global_one(tmp_path: Path) -> None:
    sources = load_sources(_sources(tmp_path, "    keep: 30d\n")).sources
    assert {s.name: s.keep for s in sources} == {"wire": 30 * 86_400, "paper": None}


def test_a_source_may_keep_for_ever(tmp_path: Path) -> None:
    sources = load_sources(_sources(tmp_path, "    keep: 0\n")).sources
    assert sources[0].keep == FOREVER


def test_a_bad_source_keep_is_reported_with_its_line_and_field(tmp_path: Path) -> None:
    path = _sources(tmp_path, "    keep: 5 minutes\n")
    with pytest.raises(SourcesFileError) as caught:
        load_sources(path)
    assert f"{path}:4 sources[0].keep: '5 minutes' is not a retention period" in str(caught.value)
