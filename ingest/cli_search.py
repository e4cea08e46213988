"""`newsingest search`, `stats` and `export`: read the index of the configured mode, same options in both.

Part of the composition root (it knows both sides). Never writes to the index. Every failure a person
can fix is one line on stderr, never a stack trace.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from ingest.logs import get_logger
from ingest.progress import Progress
from ingest.search_output import stats_document, write_export, write_hits_json, write_hits_table, write_stats
from ingest.settings import Settings
from workers.errors import IndexAccessDenied, IndexMissing, IndexOutdated, IndexUnavailable, InvalidQuery
from workers.index.query import FILTERS, MAX_LIMIT, build_query
from workers.ports import IndexBackend, SearchQuery

log = get_logger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
Command = Callable[[Settings, argparse.Namespace], int]


def register(commands: Any, _sources_commands: Any) -> None:
    search = commands.add_parser("search", help="full-text search of the ingested articles")
    search.add_argument("query", help="words that must all appear (title, text or summary); '' for all")
    _add_filters(search)
    search.add_argument("--sort", choices=("relevance", "newest"), default="relevance")
    search.add_argument("--all-copies", action="store_true", help="every copy, not one hit per story")
    search.add_argument("--limit", type=int, default=10, help=f"hits to show (1-{MAX_LIMIT})")
    search.add_argument("--offset", type=int, default=0, help=f"hits to skip first, for the next page (0-{MAX_LIMIT})")
    search.add_argument("--json", action="store_true", help="one JSON object per hit and line")
    search.set_defaults(command=_search)

    stats = commands.add_parser("stats", help="articles per day, source, language; top entities and keywords")
    stats.add_argument("--query", default="", help="only articles with these words")
    _add_filters(stats)
    stats.add_argument("--top", type=int, default=10, help="rows per ranking")
    stats.add_argument("--json", action="store_true", help="one JSON object")
    stats.set_defaults(command=_stats)

    export = commands.add_parser("export", help="stream matching articles as JSON lines or CSV")
    export.add_argument("--query", default="", help="only articles with these words")
    _add_filters(export)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.set_defaults(command=_export)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="only this source (name from sources.yaml)")
    parser.add_argument("--domain", help="only articles from this domain (without www.)")
    parser.add_argument("--lang", "--language", dest="language", help="only this language (ISO 639-1)")
    parser.add_argument("--tag", help="only sources with this tag")
    parser.add_argument("--entity", help="only articles naming this person, place or organisation")
    parser.add_argument("--story", help="only the copies of this story (its cluster_id)")
    parser.add_argument("--since", help="published since: 24h, 7d, 2w or a date (2026-11-25)")
    parser.add_argument("--until", help="published before: 24h, 7d, 2w or a date")


def query_from_args(args: argparse.Namespace, text: str, **extra: Any) -> SearchQuery:
    return build_query(
        text,
        since=args.since,
        until=args.until,
        filters={name: getattr(args, name) for name in FILTERS},
        **extra,
    )


def _reporting(command: Command) -> Command:
    """One line on stderr, and an exit code, for what a person can act on."""

    @wraps(command)
    def run(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return command(settings, args)
        except InvalidQuery as exc:
            print(f"newsingest: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except (IndexMissing, IndexOutdated) as exc:
            print(f"newsingest: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except IndexAccessDenied as exc:  # the identity or certificate, not the cluster: say which
            print(f"newsingest: refused: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except IndexUnavailable as exc:
            print(f"newsingest: the index is unavailable: {exc}", file=sys.stderr)
            return EXIT_FAILED

    return run


@contextmanager
def open_index(settings: Settings) -> Iterator[IndexBackend]:
    """The index of the configured mode, for reading: IndexMissing/IndexOutdated if it cannot be read."""
    if settings.elasticsearch_url:
        from workers.index.connect import elastic_index

        elastic = elastic_index(settings, "read")
        try:
            elastic.check_readable()
            yield elastic
        finally:
            elastic.close()
        return
    from workers.index.sqlite import SqliteIndex, open_database

    if not settings.sqlite_path.exists():
        raise IndexMissing(f"no index yet at {settings.sqlite_path}: ingest something first (`newsingest run --once`)")
    conn = open_database(settings.sqlite_path)
    try:
        yield SqliteIndex(conn)
    finally:
        conn.close()


def colour_wanted(stream: Any) -> bool:
    # https://no-color.org: a set NO_COLOR turns colours off; off a terminal there are none anyway.
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


@_reporting
def _search(settings: Settings, args: argparse.Namespace) -> int:
    query = query_from_args(
        args, args.query, limit=args.limit, offset=args.offset, all_copies=args.all_copies, sort=args.sort
    )
    with open_index(settings) as index:
        hits = index.search(query)
    if args.json:
        write_hits_json(hits, sys.stdout)
    elif hits:
        write_hits_table(hits, sys.stdout, colour=colour_wanted(sys.stdout))
    if not hits and not args.json:
        print(f"no results for {args.query!r}", file=sys.stderr)
    return EXIT_OK


@_reporting
def _stats(settings: Settings, args: argparse.Namespace) -> int:
    query = query_from_args(args, args.query)
    with open_index(settings) as index:
        stats = index.stats(query, top=args.top)
    if args.json:
        import json

        print(json.dumps(stats_document(stats), ensure_ascii=False))
    else:
        write_stats(stats, sys.stdout, colour=colour_wanted(sys.stdout))
    return EXIT_OK


@_reporting
def _export(settings: Settings, args: argparse.Namespace) -> int:
    query = query_from_args(args, args.query)
    with open_index(settings) as index:
        # The match count (stats counts what export reads: same filters, same words); top=1 keeps it cheap.
        total = index.stats(query, top=1).documents
        # On stderr (a bar on a terminal, else log lines), so stdout stays the export alone.
        progress = Progress(total, unit="document", desc="exporting", event="export_progress")
        try:
            written = write_export(index.export(query), sys.stdout, args.format, on_written=progress.advance)
        finally:
            progress.close()
    log.info("export_finished", documents=written, format=args.format)
    return EXIT_OK
