"""`newsingest archive` (what the raw archive holds and takes) and `newsingest reprocess` (ingest/reprocess.py).

A composition-root module: it opens the mode's index, story state and dead letters itself, and runs the
pipeline's CPU stages in a local process pool, as the standalone daemon does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from typing import Any

from ingest.cli_search import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from ingest.errors import SourcesFileError
from ingest.lifecycle import lock_holder
from ingest.logs import get_logger
from ingest.progress import Progress
from ingest.reprocess import (
    CHECKPOINT_FILE, Criteria, ReprocessError, Tally, batches, parse_where, pooled, reprocess_batch, start,
)
from ingest.settings import Settings
from ingest.sources import load_sources
from workers.errors import InvalidQuery, TransientError
from workers.index.query import parse_moment
from workers.ports import DeadLetterStore, IndexBackend, StoryState
from workers.raw_archive import INDEX_FILE, RawArchive, Selection

log = get_logger(__name__)


def register(commands: Any, _sources_commands: Any) -> None:
    usage = commands.add_parser("archive", help="the raw archive: pages, bodies and bytes stored")
    usage.add_argument("--json", action="store_true", help="one JSON object")
    usage.set_defaults(command=_usage)
    again = commands.add_parser("reprocess", help="run today's extraction again over archived pages")
    again.add_argument("--source", help="only documents of this source")
    again.add_argument("--since", help="only pages fetched since: 24h, 7d, 2w or a date (2026-11-25)")
    again.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE",
                       help="only documents whose field has this value (a list field: contains it); repeatable")
    again.add_argument("--batch", type=int, default=50, help="documents per bulk write (default 50)")
    again.add_argument("--restart", action="store_true", help="forget an unfinished run and start this one")
    again.set_defaults(command=_reprocess)


def _usage(settings: Settings, args: argparse.Namespace) -> int:
    try:
        with _archive(settings) as archive:
            figures = asdict(archive.usage())
    except ReprocessError as exc:
        print(f"newsingest archive: {exc}", file=sys.stderr)
        return EXIT_FAILED
    figures["path"] = str(settings.archive_path)
    per_document = figures["stored_bytes"] / figures["documents"] if figures["documents"] else 0
    if args.json:
        print(json.dumps({**figures, "stored_bytes_per_document": round(per_document)}))
        return EXIT_OK
    ratio = figures["raw_bytes"] / figures["stored_bytes"] if figures["stored_bytes"] else 0
    print(f"raw archive at {figures['path']}")
    print(f"  documents   {figures['documents']:>12,}")
    print(f"  pages       {figures['pages']:>12,}  (a document whose page changed has several)")
    print(f"  bodies      {figures['bodies']:>12,}  (identical pages stored once)")
    print(f"  raw         {_size(figures['raw_bytes']):>12}")
    print(f"  stored      {_size(figures['stored_bytes']):>12}  ({ratio:.1f}x smaller; "
          f"{_size(round(per_document))} per document)")
    print(f"  index file  {_size(figures['index_bytes']):>12}")
    return EXIT_OK


def _reprocess(settings: Settings, args: argparse.Namespace) -> int:
    try:
        criteria = Criteria(
            source=args.source,
            since=parse_moment(args.since, datetime.now(UTC), "--since") if args.since else None,
            where=parse_where(args.where),
        )
        if args.batch < 1:
            raise ReprocessError("--batch must be at least 1")
        if settings.mode == "standalone" and (pid := lock_holder(settings.data_dir)) is not None:
            raise ReprocessError(
                f"the daemon (pid {pid}) is writing to {settings.sqlite_path}: stop it first; "
                "a standalone index has one writer"
            )
        checkpoint_path = settings.data_dir / CHECKPOINT_FILE
        checkpoint = start(checkpoint_path, criteria, args.restart)
        sources = {source.name: source.snapshot() for source in load_sources(settings.sources).sources}
    except SourcesFileError as exc:
        print(f"newsingest reprocess: reprocessing uses the sources' current settings, but {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ReprocessError, InvalidQuery) as exc:
        print(f"newsingest reprocess: {exc}", file=sys.stderr)
        return EXIT_USAGE
    tally = checkpoint.tally
    began = time.monotonic()
    try:
        with _archive(settings) as archive, _store(settings) as (index, story, dead_letters), _pool(settings) as prepare:
            total = archive.count(Selection(criteria.source, criteria.since), after=checkpoint.after)
            if checkpoint.after:
                print(f"resuming a reprocess started {checkpoint.started_at}: {tally.done:,} done, "
                      f"{total:,} to go", file=sys.stderr)
            progress = Progress(total, unit="doc", desc="reprocess", event="reprocess_progress")
            for ids in batches(archive, criteria, checkpoint.after, args.batch):
                reprocess_batch(ids, archive=archive, criteria=criteria, sources=sources, prepare=prepare,
                                index=index, story=story, dead_letters=dead_letters, tally=tally)
                checkpoint.after = ids[-1]
                checkpoint.save(checkpoint_path)
                progress.advance(len(ids))
            progress.close()
    except KeyboardInterrupt:
        print(f"\ninterrupted after {tally.done:,} documents: run the same command again to go on",
              file=sys.stderr)
        return EXIT_FAILED
    except (TransientError, ReprocessError) as exc:
        print(f"newsingest reprocess: stopped after {tally.done:,} documents: {exc}; run the same command "
              "again to go on", file=sys.stderr)
        return EXIT_FAILED
    checkpoint_path.unlink(missing_ok=True)
    elapsed = time.monotonic() - began
    _report(tally, elapsed)
    return EXIT_OK


def _report(tally: Tally, elapsed_s: float) -> None:
    log.info("reprocess_finished", **asdict(tally), seconds=round(elapsed_s, 1))
    rate = tally.done / elapsed_s if elapsed_s > 0 else 0.0
    print(f"reprocessed {tally.done:,} documents in {elapsed_s:.1f} s ({rate:.0f}/s): {tally.changed:,} changed "
          f"(new version), {tally.unchanged:,} unchanged, {tally.failed:,} no longer taken as articles "
          f"(see `newsingest deadletters list --stage extract`), {tally.skipped:,} skipped, "
          f"{tally.moved:,} now under another URL")


@contextmanager
def _archive(settings: Settings) -> Iterator[RawArchive]:
    """The archive as it is, even when turned off now: what it holds stays readable."""
    if not (settings.archive_path / INDEX_FILE).exists():
        reason = "nothing has been archived yet" if settings.archive.enabled else "the archive is turned off"
        raise ReprocessError(f"no raw archive at {settings.archive_path}: {reason} (setting archive.enabled)")
    archive = RawArchive(settings.archive_path, settings.archive.compression_level)
    try:
        yield archive
    finally:
        archive.close()


@contextmanager
def _store(settings: Settings) -> Iterator[tuple[IndexBackend, StoryState, DeadLetterStore]]:
    """The mode's index, story state and dead letters, for writing."""
    if settings.mode == "distributed":
        from ingest.redis_connect import RedisTarget, redis_client
        from workers.dedupe_state import RedisStoryState
        from workers.index.connect import elastic_index
        from workers.index.elastic import ElasticDeadLetters

        elastic = elastic_index(settings, "write")
        shared = redis_client(RedisTarget.from_settings(settings))
        try:
            elastic.check_readable()
            yield elastic, RedisStoryState(shared, settings.key_prefix, settings.dedupe), \
                ElasticDeadLetters(elastic.client, settings.index_alias)
        finally:
            shared.close()
            elastic.close()
        return
    from workers.index.sqlite import SqliteDeadLetters, SqliteIndex, open_database
    from workers.state_sqlite import SqliteStoryState

    if not settings.sqlite_path.exists():
        raise ReprocessError(f"no index at {settings.sqlite_path}: nothing to reprocess")
    db = open_database(settings.sqlite_path)
    try:
        yield SqliteIndex(db), SqliteStoryState(db, settings.dedupe), SqliteDeadLetters(db)
    finally:
        db.close()


@contextmanager
def _pool(settings: Settings) -> Iterator[Any]:
    """The CPU stages in a process pool the size of the machine, under the per-article time limit."""
    from workers.article_limit import prepare_within, warm_up

    people = settings.enrich.people_and_orgs
    with ProcessPoolExecutor(settings.processing_workers, initializer=partial(warm_up, people)) as pool:
        yield pooled(pool, partial(prepare_within, limit_s=settings.reliability.article_time_limit_s,
                                   people_and_orgs=people))


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"
