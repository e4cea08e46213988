"""`newsingest index status|migrate`: look at the index of the configured mode, and move it to a new mapping.

Part of the composition root. Only `migrate` writes, and only through workers.index.migrate.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ingest.cli_search import EXIT_FAILED, EXIT_OK, _reporting
from ingest.progress import Progress
from ingest.settings import Settings
from workers.index.mapping import MAPPING_VERSION


def register(commands: Any, _sources_commands: Any) -> None:
    index = commands.add_parser("index", help="the search index: status and mapping migrations")
    actions = index.add_subparsers(required=True, metavar="ACTION")
    status = actions.add_parser("status", help="indices, alias, document counts and mapping versions")
    status.set_defaults(command=_status)
    migrate = actions.add_parser(
        "migrate", help="copy the documents into an index with the current mapping and swap the alias"
    )
    migrate.add_argument("--delete-old", action="store_true", help="delete the old index once the copy is done")
    migrate.add_argument(
        "--batch-size",
        type=_batch_size,
        default=None,
        metavar="N",
        help="documents per page read and bulk request written (default 500; smaller for very large documents)",
    )
    migrate.set_defaults(command=_migrate)


def _batch_size(text: str) -> int:
    # A search page may not be larger than the index's max_result_window (10,000 by default).
    try:
        size = int(text)
    except ValueError:
        size = 0
    if not 1 <= size <= 10_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a batch size: a whole number from 1 to 10000")
    return size


@_reporting
def _status(settings: Settings, _args: argparse.Namespace) -> int:
    if not settings.elasticsearch_url:
        return _sqlite_status(settings)
    from workers.index.connect import elastic_index

    index = elastic_index(settings, "read")
    try:
        status = index.status()
    finally:
        index.close()
    print(f"alias {status.alias} -> {status.alias_index or '(missing: nothing ingested yet)'}")
    print(f"mapping version of this newsingest: {status.code_mapping_version}")
    for name, version, documents, in_alias in status.indices:
        marker = "*" if in_alias else " "
        print(f" {marker} {name:<32} mapping v{version if version is not None else '?'}  {documents:>10} documents")
    behind = status.alias_mapping_version
    if behind is not None and behind < MAPPING_VERSION:
        print(f"the alias is on mapping version {behind}: run `newsingest index migrate`")
    return EXIT_OK


def _sqlite_status(settings: Settings) -> int:
    from workers.index.sqlite import SCHEMA_VERSION, SqliteIndex, open_database

    path = settings.sqlite_path
    if not path.exists():
        print(f"standalone index {path}: missing (nothing ingested yet)")
        return EXIT_OK
    conn = open_database(path)
    try:
        documents = SqliteIndex(conn).count()
        (letters,) = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    finally:
        conn.close()
    print(f"standalone index {path}: schema version {SCHEMA_VERSION}, {documents} documents, {letters} dead letters")
    return EXIT_OK


@_reporting
def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.elasticsearch_url:
        print("standalone mode: the SQLite schema is brought up to date at start-up; nothing to migrate")
        return EXIT_OK
    from workers.index.connect import elastic_client
    from workers.index.migrate import PAGE_SIZE, MigrationError, migrate

    def progress(copy_pass: str, total: int) -> Progress:
        # copy: every document of the old index; replay: read again, copying what was written meanwhile.
        desc = "copying" if copy_pass == "copy" else "replaying"
        return Progress(total, unit="document", desc=desc, event=f"migrate_{copy_pass}_progress")

    client = elastic_client(settings, "write", request_timeout_s=120)
    try:
        report = migrate(
            client,
            settings.index_alias,
            delete_old=args.delete_old,
            page_size=args.batch_size or PAGE_SIZE,
            progress=progress,
        )
    except MigrationError as exc:
        print(f"newsingest: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        client.close()
    if report is None:
        print(f"{settings.index_alias}: already on mapping version {MAPPING_VERSION}, nothing to migrate")
    else:
        print(report.summary)
    return EXIT_OK
