"""`newsingest backup` and `newsingest restore` (ingest/backup.py): progress on stderr, the folder or the
summary on stdout, every failure one line naming what to do."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ingest.backup import BackupError, backup, default_name, restore
from ingest.cli_search import EXIT_FAILED, EXIT_OK
from ingest.logs import get_logger
from ingest.settings import Settings

log = get_logger(__name__)


def register(commands: Any, _sources_commands: Any) -> None:
    make = commands.add_parser("backup", help="copy the index, state and ledger into a backup folder")
    make.add_argument("--name", help="the backup's name (default: newsingest-<UTC time>)")
    make.add_argument("--to", type=Path, help="folder of backups (default: NEWSINGEST_BACKUP__DIRECTORY)")
    make.set_defaults(command=_backup)
    back = commands.add_parser("restore", help="bring a backup back into this installation")
    back.add_argument("folder", type=Path, help="the backup's folder (it holds manifest.json)")
    back.add_argument("--force", action="store_true", help="replace an index, state or data that already exist")
    back.set_defaults(command=_restore)


def _progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    if args.to is not None:
        settings = settings.model_copy(update={"backup": settings.backup.model_copy(update={"directory": args.to})})
    name = (args.name or default_name()).lower()
    try:
        folder = backup(settings, name, _progress)
    except _failures() as exc:
        print(f"newsingest backup: {_reason(exc)}", file=sys.stderr)
        return EXIT_FAILED
    log.info("backup_written", folder=str(folder), mode=settings.mode)
    print(folder)
    return EXIT_OK


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    try:
        manifest = restore(settings, args.folder, force=args.force, progress=_progress)
    except _failures() as exc:
        print(f"newsingest restore: {_reason(exc)}", file=sys.stderr)
        return EXIT_FAILED
    log.info("backup_restored", folder=str(args.folder), documents=manifest["documents"])
    print(f"restored {manifest['name']} ({manifest['mode']}, made {manifest['created_at']}): "
          f"{manifest['documents']:,} documents")
    return EXIT_OK


def _failures() -> tuple[type[BaseException], ...]:
    # Imported when something failed: most commands never load the service clients.
    from elasticsearch import ApiError, TransportError
    from redis import RedisError

    return (BackupError, ApiError, TransportError, RedisError, OSError)


def _reason(exc: BaseException) -> str:
    from elasticsearch import ApiError

    if isinstance(exc, ApiError):
        return f"Elasticsearch refused: {exc.message} ({exc.meta.status}): {str(exc.body)[:300]}"
    return str(exc)
