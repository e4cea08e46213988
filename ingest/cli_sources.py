"""`newsingest sources status` and `sources check --discover`: what each source did last (and how its
extraction is going: layout drift), and what feed discovery finds for `site` sources. Reads state; never
changes it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from ingest.client import HttpClient
from ingest.discovery import discover_feeds
from ingest.errors import FetchError, SourcesFileError
from ingest.feed_records import load_records
from ingest.humanize import ago, drift_text, duration, number, share, until
from ingest.poll import request_policy
from ingest.settings import Settings
from ingest.sources import Source, load_sources
from ingest.state import FeedRecord
from workers.errors import TransientError

if TYPE_CHECKING:
    from workers.health_state import SourceHealth

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

Command = Callable[[Settings, argparse.Namespace], int]


def register(commands: Any, sources_commands: Any) -> None:
    status = sources_commands.add_parser("status", help="per source: last success, last error, items, next poll")
    status.add_argument("path", nargs="?", type=Path, help="sources file (default: NEWSINGEST_SOURCES)")
    status.add_argument("--json", action="store_true", help="one JSON object per source and line")
    status.set_defaults(command=_status)
    # `sources check --discover`: the check as before, then what discovery finds for site sources.
    check = sources_commands.choices.get("check")
    if check is not None:
        check.add_argument("--discover", action="store_true", help="fetch site sources' home pages and list their feeds")
        check.set_defaults(command=then_for_kind(check.get_default("command"), "discover", "site", _discover_all))


def _status(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.path or settings.sources
    try:
        sources = load_sources(path)
    except SourcesFileError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    records = asyncio.run(load_records(settings, [s.name for s in sources.sources]))
    health = _extraction_health(settings, [s.name for s in sources.sources])
    now = time.time()
    for source in sources.sources:
        record = records.get(source.name, FeedRecord())
        extraction = health.get(source.name)
        if args.json:
            extra = {"extraction": asdict(extraction)} if extraction else {}
            print(json.dumps({"source": source.name, "enabled": source.enabled, **asdict(record), **extra}))
        else:
            print("\n".join([_status_text(source, record, now), *_health_lines(extraction, now)]))
    return EXIT_OK


def _extraction_health(settings: Settings, names: list[str]) -> dict[str, SourceHealth]:
    try:
        # Imported here: the drift rules pull in the whole pipeline, which most commands never need.
        from workers.health_report import source_health

        return source_health(settings, names)
    except TransientError as exc:
        print(f"newsingest: extraction health unavailable: {exc}", file=sys.stderr)
        return {}


def _health_lines(health: SourceHealth | None, now: float) -> list[str]:
    """Extraction figures of the recent window, and one line per layout drift: "drifting: median words 640 → 45"."""
    if health is None:
        return []
    recent = health.windows.recent
    lines = [
        f"    extraction, last {recent.pages} pages: no text {share(recent.no_text_share)}"
        f" · median words {number(recent.median_words)} · fallback {share(recent.fallback_share)}"
        f" · boilerplate dropped {share(recent.boilerplate_share)}"
    ]
    lines.extend(f"    drifting: {drift_text(drift, now)}" for drift in health.drifts)
    return lines


def _status_text(source: Source, record: FeedRecord, now: float) -> str:
    state = "enabled " if source.enabled else "disabled"
    lines = [f"{source.name}  ({state}, {source.kind})  {source.url}"]
    if record.last_poll_at is None:
        lines.append("    never polled")
    else:
        lines.append(
            f"    last success {ago(record.last_success_at, now)} · items found {record.items_found}"
            f" · new in all {record.items_new_total} · last status {record.last_status or '-'}"
        )
        lines.append(
            f"    next poll {until(record.next_poll_at, now)} · interval {duration(record.interval_s)}"
            f" · failures in a row {record.failures}"
        )
        if record.last_error:
            lines.append(f"    last error {ago(record.last_error_at, now)}: {record.last_error_type}: {record.last_error}")
    if record.discovered:
        lines.append(f"    feeds discovered {ago(record.discovered_at, now)} (polling {record.feed_url}):")
        lines.extend(f"      {feed}" for feed in record.discovered)
    return "\n".join(lines)


def then_for_kind(
    check: Command, flag: str, kind: str, action: Callable[[Settings, list[Source]], Coroutine[Any, Any, int]]
) -> Command:
    """`sources check`, then, when `--<flag>` was given and the file is valid, `action` on the
    sources of one kind (network work that plain `check` never does)."""

    def run(settings: Settings, args: argparse.Namespace) -> int:
        code = check(settings, args)
        if code != EXIT_OK or not getattr(args, flag):
            return code
        sources = load_sources(args.path or settings.sources)
        return asyncio.run(action(settings, [s for s in sources.sources if s.kind == kind]))

    return run


async def _discover_all(settings: Settings, sites: list[Source]) -> int:
    if not sites:
        print("no site sources: nothing to discover")
        return EXIT_OK
    code = EXIT_OK
    async with HttpClient(settings.http) as client:
        for source in sites:
            try:
                found = await discover_feeds(client.get, source.url, request_policy(source))
            except FetchError as exc:
                print(f"{source.name}: home page unreadable: {exc}")
                code = EXIT_FAILED
                continue
            if not found:
                print(f"{source.name}: no feed found (no <link rel=alternate> feed, none at the well-known paths)")
                code = EXIT_FAILED
            for feed in found:
                print(f"{source.name}: {feed.url}  ({feed.kind}, found by {feed.found_by})")
    return code
