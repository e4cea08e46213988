"""`newsingest delete` and `newsingest retention`: remove documents for good, by hand or by age, and
the daemon's periodic retention job. A composition-root module: it knows both sides; workers.removal
and workers.retention do the work, the same in both modes."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.errors import SourcesFileError
from ingest.housekeeping import Periodic
from ingest.keep import describe_keep
from ingest.logs import get_logger
from ingest.settings import Settings
from ingest.sources import load_sources
from workers.dedupe import canonical_url, clean_url
from workers.documents import document_id
from workers.errors import IndexOutdated, IndexUnavailable
from workers.ports import DocumentSelection, RemovableIndex, StoryForgetting
from workers.removal import ArchiveForgetting, RemovalReport, RemovalStores, Runner, remove
from workers.retention import expire, retention_selections

log = get_logger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
_SAMPLE = 5


_WHICH = (
    ("--url", "the article at this URL (as given, cleaned or canonical)"),
    ("--source", "every article of this source"),
    ("--domain", "every article of this site (news.example.com)"),
)


def register(commands: Any, _sources_commands: Any) -> None:
    delete = commands.add_parser(
        "delete", help="remove documents for good (index, copies' links, archive, dedupe state) and tombstone them"
    )
    which = delete.add_mutually_exclusive_group(required=True)
    for flag, description in _WHICH:
        which.add_argument(flag, help=description)
    retention = commands.add_parser("retention", help="delete the articles older than their source's `keep`")
    retention.add_argument("--sources", type=Path, help="sources file (default: NEWSINGEST_SOURCES)")
    for parser, command in ((delete, _delete), (retention, _retention)):
        parser.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")
        parser.set_defaults(command=command)


def url_selection(url: str) -> DocumentSelection:
    """A URL as given, cleaned and made canonical (workers.dedupe), and the document id it gives."""
    given = url.strip()
    canonical, _ = canonical_url(given, None, None)
    urls = tuple(dict.fromkeys((given, clean_url(given), canonical)))
    return DocumentSelection(urls=urls, doc_ids=(document_id(canonical),))


def domain_selection(domain: str) -> DocumentSelection:
    text = domain.strip().lower()
    host = urlsplit(text).hostname if "://" in text else text.split("/")[0]
    return DocumentSelection(domain=(host or text).removeprefix("www."))


# -- the stores ------------------------------------------------------------------------------------


@contextmanager
def removal_stores(settings: Settings) -> Iterator[RemovalStores]:
    """The mode's index, dedupe state and raw archive, for removing; IndexMissing when there is no index."""
    with ExitStack() as opened:
        archive = _open_archive(settings)
        if archive is not None:
            opened.callback(archive.close)
        make = _distributed_stores if settings.mode == "distributed" else _standalone_stores
        index, story = make(settings, opened)
        yield RemovalStores(index, story, archive)


def _distributed_stores(settings: Settings, opened: ExitStack) -> tuple[RemovableIndex, StoryForgetting]:
    from ingest.redis_connect import RedisTarget, redis_client
    from workers.dedupe_state import RedisStoryState
    from workers.index.connect import elastic_index

    elastic = elastic_index(settings, "write")
    opened.callback(elastic.close)
    shared = redis_client(RedisTarget.from_settings(settings))
    opened.callback(shared.close)
    elastic.check_readable()  # a missing alias or an older mapping: say so before touching anything
    return elastic, RedisStoryState(shared, settings.key_prefix, settings.dedupe)


def _standalone_stores(settings: Settings, opened: ExitStack) -> tuple[RemovableIndex, StoryForgetting]:
    from workers.errors import IndexMissing
    from workers.index.sqlite import SqliteIndex, open_database
    from workers.state_sqlite import SqliteStoryState

    if not settings.sqlite_path.exists():
        raise IndexMissing(f"no index yet at {settings.sqlite_path}: nothing to delete")
    db = open_database(settings.sqlite_path)
    opened.callback(db.close)
    return SqliteIndex(db), SqliteStoryState(db, settings.dedupe)


def _open_archive(settings: Settings) -> Any:
    """The raw archive, also when turned off now but there on disk: a takedown covers what it holds."""
    from workers.raw_archive import INDEX_FILE, RawArchive, open_archive

    archive = open_archive(settings)
    if archive is None and (settings.archive_path / INDEX_FILE).exists():
        archive = RawArchive(settings.archive_path, settings.archive.compression_level)
    return archive


# -- delete ----------------------------------------------------------------------------------------


def _delete(settings: Settings, args: argparse.Namespace) -> int:
    if args.url is not None:
        selection, what = url_selection(args.url), f"url {args.url}"
    elif args.source is not None:
        selection, what = DocumentSelection(source=args.source), f"source {args.source}"
    else:
        selection = domain_selection(args.domain)
        what = f"domain {selection.domain}"
    try:
        with removal_stores(settings) as stores:
            report = remove(
                selection, stores, tombstone_reason=f"delete {what}", dry_run=args.dry_run,
                page_size=settings.retention.page_size,
            )
    except (IndexUnavailable, IndexOutdated) as exc:
        print(f"newsingest delete: {exc}", file=sys.stderr)
        return EXIT_FAILED
    _print_report(report, what, args.dry_run, tombstones=True)
    log.info("documents_deleted", selection=what, dry_run=args.dry_run, **_figures(report))
    if args.source is not None:
        _hint_configured(settings.sources, args.source)
    return EXIT_OK


def _hint_configured(path: Path, name: str) -> None:
    try:
        configured = {source.name: source for source in load_sources(path).sources}
    except SourcesFileError:
        return
    source = configured.get(name)
    if source is not None:
        state = "enabled" if source.enabled else "disabled"
        print(f"note: source {name} is still in {path} ({state}): it will bring NEW articles; "
              "remove it from the file to stop that (deleted articles stay deleted)", file=sys.stderr)


def _print_report(report: RemovalReport, what: str, dry_run: bool, *, tombstones: bool) -> None:
    if dry_run:
        print(f"would delete {report.matched} documents ({what}); dry run: nothing changed")
        for source, count in report.per_source.most_common():
            print(f"  {source}: {count}")
        for ref in report.sample[:_SAMPLE]:
            print(f"  - {ref.title or '(no title)'}  {ref.url}")
        if report.matched > _SAMPLE:
            print(f"  ... and {report.matched - _SAMPLE} more")
        return
    print(f"deleted {report.documents} documents ({what})")
    if tombstones:
        print(f"  tombstones recorded:        {report.tombstones}")
    print(f"  story leads promoted:       {report.promoted}")
    print(f"  copies moved to a new lead: {report.moved}")
    print(f"  dedupe records forgotten:   {report.state_forgotten}")
    print(f"  raw-archive pages removed:  {report.archive_pages}")


def _figures(report: RemovalReport) -> dict[str, Any]:
    return {
        "matched": report.matched, "documents": report.documents, "promoted": report.promoted,
        "moved": report.moved, "state_forgotten": report.state_forgotten,
        "archive_pages": report.archive_pages, "tombstones": report.tombstones,
        "wall_s": round(report.wall_s, 3), "cpu_s": round(report.cpu_s, 3),
    }


# -- retention -------------------------------------------------------------------------------------


def expired_now(settings: Settings, sources_path: Path) -> list[DocumentSelection]:
    """What is past its keep now. SourcesFileError when the file cannot be read: a source's own keep may be
    longer than the global one, so nothing is removed on a guess."""
    keeps = {source.name: source.keep for source in load_sources(sources_path).sources}
    return retention_selections(settings.retention.keep, keeps, datetime.now(UTC))


def _retention(settings: Settings, args: argparse.Namespace) -> int:
    try:
        selections = expired_now(settings, args.sources or settings.sources)
    except SourcesFileError as exc:
        print(f"newsingest retention: cannot read the sources file, so nothing was deleted:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    if not selections:
        print("nothing expires: retention.keep and every source's keep are 0 (keep for ever)")
        return EXIT_OK
    try:
        with removal_stores(settings) as stores:
            report = expire(selections, stores, dry_run=args.dry_run, page_size=settings.retention.page_size)
    except (IndexUnavailable, IndexOutdated) as exc:
        print(f"newsingest retention: {exc}", file=sys.stderr)
        return EXIT_FAILED
    what = f"first seen before their keep (global {describe_keep(settings.retention.keep)})"
    _print_report(report, what, args.dry_run, tombstones=False)
    log.info("retention_finished", dry_run=args.dry_run, **_figures(report))
    return EXIT_OK


class RetentionStopped(Exception):
    """The daemon is stopping: a retention round ends between two pages (each page is complete)."""


# A round's work in a thread: the selections, and a runner that runs one step where the stores live.
RoundWork = Callable[[list[DocumentSelection], Runner[object]], RemovalReport | None]


class DaemonRetention:
    """The daemon's retention job, made by the mode's wiring (ingest/cli.py `_wiring`) once its stores exist."""

    def __init__(self, settings: Settings, sources_path: Path) -> None:
        self._settings, self._sources_path = settings, sources_path
        self.jobs: list[Periodic] = []

    def attach_standalone(
        self, owner: Executor, index: RemovableIndex, story: StoryForgetting, archive: ArchiveForgetting | None
    ) -> None:
        """Every step on the thread that owns the SQLite file, one page at a time: batches of new articles
        are stored between two pages, and no write lock is held for long."""
        stores, page_size = RemovalStores(index, story, archive), self._settings.retention.page_size

        def work(selections: list[DocumentSelection], run: Runner[object]) -> RemovalReport:
            return expire(selections, stores, run=lambda step: run(lambda: owner.submit(step).result()),
                          page_size=page_size)

        self._attach(work)

    def attach_distributed(self) -> None:
        """Straight against Elasticsearch and Redis, as the CLI does; of several daemons sharing the Redis,
        one runs each round (a key under the prefix that expires with the interval)."""
        settings = self._settings

        def work(selections: list[DocumentSelection], run: Runner[object]) -> RemovalReport | None:
            if not _take_round(settings):
                return None
            with removal_stores(settings) as stores:
                return expire(selections, stores, run=run, page_size=settings.retention.page_size)

        self._attach(work)

    def _attach(self, work: RoundWork) -> None:
        settings, path = self._settings, self._sources_path

        async def one_round() -> None:
            selections = await asyncio.to_thread(expired_now, settings, path)  # a broken file skips the round
            if not selections:
                return
            stopping = threading.Event()

            def unless_stopping(step: Callable[[], object]) -> object:
                if stopping.is_set():  # the thread outlives a cancelled await: it ends at the next page
                    raise RetentionStopped()
                return step()

            try:
                report = await asyncio.to_thread(work, selections, unless_stopping)
            except asyncio.CancelledError:
                stopping.set()
                raise
            if report is not None:
                log.info("retention_finished", **_figures(report))

        self.jobs.append(Periodic("retention", settings.retention.interval_s, one_round))


def _take_round(settings: Settings) -> bool:
    from ingest.redis_connect import RedisTarget, redis_client

    client = redis_client(RedisTarget.from_settings(settings))
    try:
        ttl_s = max(1, int(settings.retention.interval_s * 0.9))
        taken = client.set(f"{settings.key_prefix}retention:round", f"{socket.gethostname()}:{os.getpid()}",
                           nx=True, ex=ttl_s)
    finally:
        client.close()
    return bool(taken)
