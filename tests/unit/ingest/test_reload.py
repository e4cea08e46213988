"""SourcesWatcher: edits applied, bad edits refused with their problems, SIGHUP answered even for a refused file."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from ingest.reload import SourcesWatcher
from ingest.sources import SourcesFile, load_sources

GOOD = "sources:\n  - name: a\n    url: https://a.example/feed.xml\n"
TYPO = "sources:\n  - name: a\n    url: https://a.example/feed.xml\n    pol_interval: 1h\n"


def _watcher(path: Path) -> tuple[SourcesWatcher, list[SourcesFile]]:
    applied: list[SourcesFile] = []
    return SourcesWatcher(path, applied.append, check_s=60), applied


async def test_a_refused_file_is_reported_once_by_the_timer(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD)
    watcher, applied = _watcher(path)
    path.write_text(TYPO)
    with capture_logs() as logs:
        assert not await watcher.check()
        assert not await watcher.check()
    rejected = [e for e in logs if e["event"] == "sources_reload_rejected"]
    assert len(rejected) == 1 and applied == []
    assert rejected[0]["problems"] == [f"{path}:4 sources[0].pol_interval: unknown field (check the spelling)"]
    assert (rejected[0]["error_type"], rejected[0]["trigger"]) == ("SourcesFileError", "edit")


async def test_sighup_reports_a_refused_file_again(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD)
    watcher, applied = _watcher(path)
    path.write_text(TYPO)
    await watcher.check()  # the timer saw it first
    with capture_logs() as logs:
        assert not await watcher.check("SIGHUP")
    assert [(e["event"], e["trigger"]) for e in logs] == [("sources_reload_rejected", "SIGHUP")]
    assert applied == []


async def test_sighup_on_the_file_already_running_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD)
    watcher, applied = _watcher(path)
    with capture_logs() as logs:
        assert not await watcher.check("SIGHUP")
    assert logs == [] and applied == []


async def test_a_corrected_file_is_applied_after_a_refused_one(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD)
    watcher, applied = _watcher(path)
    path.write_text(TYPO)
    await watcher.check()
    path.write_text(GOOD + "  - name: b\n    url: https://b.example/feed.xml\n")
    assert await watcher.check()
    assert [s.name for s in applied[0].sources] == ["a", "b"]
    path.write_text(GOOD + "  - name: b\n    url: https://b.example/feed.xml\n")  # unchanged content
    assert not await watcher.check("SIGHUP")


async def test_an_edit_made_while_the_daemon_started_is_applied_at_the_first_check(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD)
    running = load_sources(path).enabled  # read at start-up, before the index answered
    path.write_text(GOOD + "  - name: b\n    url: https://b.example/feed.xml\n")
    applied: list[SourcesFile] = []
    watcher = SourcesWatcher(path, applied.append, check_s=60, running=running)
    assert await watcher.check()
    assert [s.name for s in applied[0].sources] == ["a", "b"]


async def test_the_file_the_daemon_started_from_is_not_applied_again(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD)
    applied: list[SourcesFile] = []
    watcher = SourcesWatcher(path, applied.append, check_s=60, running=load_sources(path).enabled)
    assert not await watcher.check()
    assert not await watcher.check("SIGHUP")
    assert applied == []
