"""newsingest: parse arguments, build Settings, wire the parts for the configured mode, report.

The composition root: the only ingest module that imports workers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ingest import (
    cli_archive,
    cli_backup,
    cli_delete,
    cli_index,
    cli_ledger,
    cli_preview,
    cli_search,
    cli_sources,
    cli_status,
    operate,
    redact,
    redis_connect,
    serve,
)
from ingest.client import HttpClient
from ingest.corrections import RecheckQueue
from ingest.daemon import Daemon, RunReport, install_stop_signals
from ingest.errors import DaemonAlreadyRunning, SourcesFileError
from ingest.handoff import CeleryHandoff, Handoff
from ingest.http_guard import UnsafeBind
from ingest.lifecycle import DataDirLock, hold_reload_signal, stop_during_startup
from ingest.logs import configure_logging, get_logger
from ingest.metrics import FlushCountingState
from ingest.progress import Progress
from ingest.redis_connect import RedisTarget
from ingest.secrets import SecretError, secret_file_warnings
from ingest.settings import Settings, load_settings
from ingest.sources import SourcesFile, load_sources
from ingest.state import FeedState, RedisFeedState, SeenLimits, SqliteFeedState
from workers import cli_extract
from workers.errors import IndexAccessDenied, IndexUnavailable

log = get_logger("newsingest")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level)
    sys.excepthook = redact.redacting_excepthook  # an uncaught error's traceback may quote a URL
    try:
        settings = load_settings()
        redact.register_settings(settings)  # every command comes through here: learn the secrets once
        for warning in secret_file_warnings(settings):
            get_logger(__name__).warning("secret_readable_by_others", problem=warning)
        if settings.redis_url:
            RedisTarget.from_settings(settings)  # TLS without a CA, an unreadable password file: say so now
    except (ValidationError, ValueError, FileNotFoundError) as exc:
        print(f"newsingest: invalid settings: {redact.redact_text(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    command: Callable[[Settings, argparse.Namespace], int] = args.command
    try:
        return command(settings, args)
    except IndexAccessDenied as exc:  # a rejected password, a missing privilege, an untrusted certificate
        print(f"newsingest: refusing to go on: {redact.redact_text(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except SecretError as exc:  # an unreadable password file, a user without a password
        print(f"newsingest: invalid settings: {redact.redact_text(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except IndexUnavailable as exc:
        print(f"newsingest: the index is unavailable: {redact.redact_text(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except redis_connect.RedisAccessError as exc:
        print(f"newsingest: refusing to start: {redact.redact_text(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except UnsafeBind as exc:  # an HTTP endpoint would be open beyond loopback without tokens
        print(f"newsingest: refusing to start: {redact.redact_text(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsingest", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="the daemon: poll sources, fetch and process articles")
    run.add_argument("--sources", type=Path, help="sources file (default: NEWSINGEST_SOURCES)")
    run.add_argument("--once", action="store_true", help="poll every source once, wait for processing, exit")
    run.set_defaults(command=_run)

    worker = commands.add_parser("worker", help="a Celery worker with the project's settings")
    worker.add_argument("--concurrency", type=int, help="worker processes (default: NEWSINGEST_CELERY__CONCURRENCY)")
    worker.set_defaults(command=_worker)

    sources = commands.add_parser("sources", help="the sources file")
    sources_commands = sources.add_subparsers(required=True, metavar="ACTION")
    check = sources_commands.add_parser("check", help="validate a sources file, listing every problem")
    check.add_argument("path", nargs="?", type=Path)
    check.set_defaults(command=_sources_check)

    # Further commands live in modules of their own; each adds its subparsers here.
    for register in _COMMAND_MODULES:
        register(commands, sources_commands)
    return parser


# Each: register(commands, sources_commands) adding subparsers whose `command` default is
# a function (settings, args) -> exit code.
_COMMAND_MODULES: tuple[Callable[[Any, Any], None], ...] = (
    cli_sources.register,
    cli_preview.register,
    cli_search.register,
    cli_index.register,
    serve.register,
    cli_extract.register,
    cli_status.register,
    cli_ledger.register,
    cli_archive.register,
    cli_backup.register,
    cli_delete.register,
)


def _sources_check(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.path or settings.sources
    try:
        loaded = load_sources(path)
    except SourcesFileError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    enabled = len(loaded.enabled)
    print(f"{path}: {len(loaded.sources)} sources, {enabled} enabled, no problems")
    for source in loaded.sources:
        state = "enabled " if source.enabled else "disabled"
        print(f"  {state} {source.name:<24} {source.kind:<8} every {source.poll_interval_s}s  {source.url}")
    return EXIT_OK


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if not args.once:
        hold_reload_signal()  # a reload during start-up must not kill the daemon
        stop_during_startup()
    path: Path = args.sources or settings.sources
    try:
        sources = load_sources(path)
    except SourcesFileError as exc:
        print(f"newsingest: refusing to start:\n{redact.redact_text(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    log.info(
        "starting",
        mode=settings.mode,
        sources=str(path),
        sources_enabled=len(sources.enabled),
        index=settings.elasticsearch_url or str(settings.sqlite_path),
        once=args.once,
    )
    try:
        with DataDirLock(settings.data_dir):  # one daemon per data directory
            report = asyncio.run(_run_async(settings, sources, once=args.once, sources_path=path))
    except DaemonAlreadyRunning as exc:
        print(f"newsingest: refusing to start: {redact.redact_text(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    if report is None:
        return EXIT_OK
    return _summarize(report)


async def _run_async(
    settings: Settings, sources: SourcesFile, *, once: bool, sources_path: Path | None = None
) -> RunReport | None:
    # The daemon (`run`) keeps no per-batch results: the ledger accounts for its jobs.
    retention = None if once else cli_delete.DaemonRetention(settings, sources_path or settings.sources)
    with _wiring(settings, track_results=once, retention=retention) as (state, handoff):
        async with HttpClient(settings.http) as client:
            leases = operate.source_leases(settings)
            counted = FlushCountingState(state)  # failed state writes show in /metrics
            rechecks = (
                RecheckQueue.in_data_dir(settings.data_dir, settings.corrections.recheck_after_s)
                if settings.corrections.enabled and not once
                else None
            )
            daemon = Daemon(
                settings, sources.enabled, client, counted, handoff,
                sources_path=sources_path, leases=leases, rechecks=rechecks,
                housekeeping=retention.jobs if retention is not None else (),
            )
            try:
                if once:
                    progress = Progress(len(sources.enabled), unit="source", desc="polling", event="run_once_progress")
                    try:
                        return await daemon.run_once(on_source_done=progress.advance)
                    finally:
                        progress.close()
                stop = asyncio.Event()
                install_stop_signals(stop)
                async with operate.operated(settings, daemon, state, stop):
                    await daemon.run_forever(stop)
                    await handoff.drain(settings.shutdown_grace_s)
                return None
            finally:
                await handoff.close()
                await state.close()
                if rechecks is not None:
                    rechecks.close()
                if leases is not None:
                    await leases.close()


@contextmanager
def _wiring(
    settings: Settings, *, track_results: bool = True, retention: cli_delete.DaemonRetention | None = None
) -> Iterator[tuple[FeedState, Handoff]]:
    """The feed state and handoff of the configured mode (both service URLs, or neither); `retention`,
    when given, gets the mode's stores for the daemon's retention job."""
    if settings.mode == "distributed":
        assert settings.redis_url and settings.elasticsearch_url
        from workers.app import make_app
        from workers.index.connect import check_access, elastic_index

        redis_target = RedisTarget.from_settings(settings)
        redis_connect.check_access(redis_target)  # a refused password is an error now, not a wait
        check_access(settings, "write")  # a rejected password or certificate too
        elastic = elastic_index(settings, "write")
        elastic.wait_until_ready()  # template, index and alias exist before the first job; waits out an outage
        elastic.close()
        handoff: Handoff = CeleryHandoff(
            make_app(settings),
            settings.celery.queue,
            settings.key_prefix + settings.celery.queue,
            redis_target,
            settings.queue_high_water,
            settings.queue_low_water,
            track_results=track_results,
        )
        if retention is not None:
            retention.attach_distributed()
        with cli_ledger.distributed_handoff(settings, handoff) as ledgered:  # jobs in the ledger first
            yield RedisFeedState(redis_target, settings.key_prefix, SeenLimits.from_settings(settings.polling)), ledgered
        return
    from workers.health_state import SqliteExtractionHealth
    from workers.index.sqlite import SqliteDeadLetters, SqliteIndex, open_database
    from workers.raw_archive import open_archive
    from workers.state_sqlite import SqliteStoryState

    # One thread owns the SQLite file: dedupe look-ups, index writes and feed state run there.
    owner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-owner")
    try:
        db = owner.submit(open_database, settings.sqlite_path).result()
        index = SqliteIndex(db)
        owner.submit(index.ensure_ready).result()
        state = owner.submit(SqliteStoryState, db, settings.dedupe).result()
        health = owner.submit(SqliteExtractionHealth, db, settings.health).result()
        archive = open_archive(settings)
        if retention is not None:
            retention.attach_standalone(owner, index, state, archive)
        # The hardened pool behind the job ledger (ingest/cli_ledger.py).
        handoff = cli_ledger.standalone_handoff(
            settings, owner, index, SqliteDeadLetters(db), state, health, archive
        )
        yield SqliteFeedState(settings.sqlite_path, owner, SeenLimits.from_settings(settings.polling)), handoff
        owner.submit(db.close).result()
        if archive is not None:
            archive.close()
    finally:
        owner.shutdown(wait=True)


def _summarize(report: RunReport) -> int:
    failed = [r for r in report.sources if not r.ok]
    drain = report.drain
    log.info(
        "run_finished",
        sources=len(report.sources),
        sources_failed=len(failed),
        articles_fetched=report.articles_fetched,
        batches=drain.batches if drain else 0,
        batches_failed=drain.failed if drain else 0,
        batches_unfinished=drain.timed_out if drain else 0,
    )
    if drain and (drain.failed or drain.timed_out):
        return EXIT_FAILED
    return EXIT_OK


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    if settings.mode != "distributed":
        print(
            "newsingest: `worker` needs distributed mode: set NEWSINGEST_REDIS_URL and "
            "NEWSINGEST_ELASTICSEARCH_URL (standalone mode processes in-process)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    from workers import metrics_server
    from workers.app import make_app

    redis_connect.check_access(RedisTarget.from_settings(settings))  # Celery would retry a refusal for ever
    from workers.index.connect import check_access

    check_access(settings, "write")  # and the tasks would retry a rejected password as an outage
    metrics_server.prepare(settings, sys.argv[1:])  # may re-execute this command (multiprocess metrics)
    app = make_app(settings)
    concurrency = args.concurrency or settings.celery.concurrency
    log.info("worker_starting", queue=settings.celery.queue, concurrency=concurrency)
    app.worker_main(
        ["worker", "--queues", settings.celery.queue, "--concurrency", str(concurrency),
         "--loglevel", args.log_level, "--without-gossip", "--without-mingle"]
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
