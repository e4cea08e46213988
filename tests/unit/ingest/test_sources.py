"""load_sources(): every problem at once, each with its file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ingest.cli import main
from ingest.errors import SourcesFileError
from ingest.sources import load_sources, parse_duration_s

BAD_SOURCES = textwrap.dedent(
    """\
    sources:
      - name: fine
        url: https://news.example/rss.xml
      - name: typo
        url: https://news.example/a.xml
        poll_intervall: 10m
      - name: no-url
        kind: rss
      - name: wrong-type
        url: https://news.example/b.xml
        enabled: maybe
    """
)


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(BAD_SOURCES, encoding="utf-8")
    return path


def test_every_problem_is_reported_with_its_line(bad_file: Path) -> None:
    with pytest.raises(SourcesFileError) as caught:
        load_sources(bad_file)
    assert caught.value.problems == [
        f"{bad_file}:6 sources[1].poll_intervall: unknown field (check the spelling)",
        f"{bad_file}:7 sources[2].url: is required",
        f"{bad_file}:11 sources[3].enabled: 'maybe': Input should be a valid boolean, unable to interpret input",
    ]


def test_sources_check_prints_all_problems_and_fails(bad_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "check", str(bad_file)]) != 0
    err = capsys.readouterr().err
    for line in (":6 sources[1].poll_intervall", ":7 sources[2].url", ":11 sources[3].enabled"):
        assert line in err


def test_daemon_refuses_to_start_with_the_same_problems(
    bad_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSINGEST_DATA_DIR", str(tmp_path / "data"))
    assert main(["sources", "check", str(bad_file)]) != 0
    check_err = capsys.readouterr().err
    assert main(["run", "--once", "--sources", str(bad_file)]) != 0
    run_err = capsys.readouterr().err
    assert "refusing to start" in run_err
    assert check_err.strip() in run_err
    assert not (tmp_path / "data").exists()


def test_bundled_sources_file_is_valid() -> None:
    sources = load_sources(Path(__file__).resolve().parents[3] / "config" / "sources.yaml")
    assert [s.name for s in sources.enabled] == ["worldwire-demo"]
    assert sources.enabled[0].is_local


def test_example_sources_file_is_valid() -> None:
    load_sources(Path(__file__).resolve().parents[3] / "config" / "sources.example.yaml")


def test_relative_file_url_resolves_against_the_sources_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "sources.yaml"
    path.write_text("sources:\n  - name: local\n    url: file:../archive/feed.xml\n", encoding="utf-8")
    source = load_sources(path).sources[0]
    assert source.url == (tmp_path / "archive" / "feed.xml").as_uri()
    assert source.local_root == tmp_path / "archive"


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - name: a\n    url: https://x.example/1\n  - name: a\n    url: https://x.example/2\n",
        encoding="utf-8",
    )
    with pytest.raises(SourcesFileError, match="used twice"):
        load_sources(path)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - name: a\n    url: [unclosed\n", encoding="utf-8")
    with pytest.raises(SourcesFileError, match=r"sources.yaml:\d+ not valid YAML"):
        load_sources(path)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), (600, 600)])
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "", "m", True])
def test_not_durations(text: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_s(text)
