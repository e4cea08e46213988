"""`newsingest audit` and `newsingest deadletters`, and the ledger's part of the wiring.

Audit reads the daemon's job ledger (ingest/ledger.py) after folding in the workers' waiting
marks; deadletters lists, shows, retries and purges the dead-letter store of the mode (the
SQLite table, or the Elasticsearch index beside the alias). A retry goes through the same
hand-off as the daemon's jobs, recorded in the ledger again under a new job id, and a letter
is removed only once its job was handed off. A composition-root module: it knows both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import uuid4

from pydantic import ValidationError

from ingest.handoff import Handoff, LocalHandoff
from ingest.jobs import ArticleJob
from ingest.ledger import AuditCounts, JobLedger, Overdue, marks_key
from ingest.logs import get_logger
from ingest.progress import Progress
from ingest.reconcile import LedgeredHandoff, Probe, Reconciler, RedisBacklog, RedisMarkInbox, queued_batches
from ingest.redis_connect import RedisTarget
from ingest.settings import Settings
from workers.documents import DeadLetter, document_id
from workers.ports import DeadLetterArchive, IndexBackend

log = get_logger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(commands: Any, _sources_commands: Any) -> None:
    audit = commands.add_parser("audit", help="accepted, indexed, dead-lettered, pending and missing jobs")
    audit.add_argument("--per-source", action="store_true", help="one row per source")
    audit.add_argument("--json", action="store_true", help="one JSON object")
    audit.set_defaults(command=_audit)

    letters = commands.add_parser("deadletters", help="jobs that failed for good: list, show, retry, purge")
    actions = letters.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every dead letter: id, time, stage, source, reason, URL")
    _add_filters(listing)
    listing.add_argument("--json", action="store_true", help="one JSON object per letter (without the page)")
    listing.set_defaults(command=_list)
    show = actions.add_parser("show", help="one dead letter whole")
    show.add_argument("id", help="a letter id (or its first characters) or a job id")
    show.add_argument("--html", action="store_true", help="include the fetched page")
    show.set_defaults(command=_show)
    retry = actions.add_parser("retry", help="hand the jobs off again (after a fix)")
    retry.add_argument("ids", nargs="*", help="letter ids (or their first characters)")
    retry.add_argument("--all", action="store_true", help="every dead letter")
    _add_filters(retry)
    retry.set_defaults(command=_retry)
    purge = actions.add_parser("purge", help="delete dead letters (a filter and --yes are required)")
    purge.add_argument("ids", nargs="*", help="letter ids (or their first characters)")
    purge.add_argument("--all", action="store_true", help="every dead letter")
    _add_filters(purge)
    purge.add_argument("--yes", action="store_true", help="really delete them")
    purge.set_defaults(command=_purge)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="only letters of this source")
    parser.add_argument("--reason-contains", help="only letters whose reason contains this (any case)")
    parser.add_argument("--stage", choices=("validate", "extract", "process", "index"))


# -- wiring (called by ingest/cli.py) --------------------------------------------------------------


@contextmanager
def distributed_handoff(settings: Settings, inner: Handoff) -> Iterator[Handoff]:
    """The Celery handoff behind the ledger, with a reconciler that probes Elasticsearch."""
    assert settings.redis_url and settings.elasticsearch_url
    from workers.index.connect import elastic_index
    from workers.index.elastic import ElasticDeadLetters

    ledger = JobLedger.in_data_dir(settings.data_dir)
    index = elastic_index(settings, "write")
    dead_letters = ElasticDeadLetters(index.client, settings.index_alias)
    inbox = RedisMarkInbox(RedisTarget.from_settings(settings), marks_key(settings.key_prefix))
    backlog = RedisBacklog.of(settings)

    async def give_up(jobs: Sequence[Overdue], reason: str) -> None:
        await asyncio.to_thread(dead_letters.record, _lost_letters(jobs, reason))

    reconciler = Reconciler(
        ledger, inner, settings.reliability, settings.batch_size,
        inbox=inbox, probe=_probe(index, None), give_up=give_up, backlog=backlog,
    )
    try:
        yield LedgeredHandoff(inner, ledger, reconciler)
    finally:
        inbox.close()
        backlog.close()
        index.close()
        ledger.close()


def standalone_handoff(
    settings: Settings, owner: Executor, index: IndexBackend, dead_letters: DeadLetterArchive, story: Any, health: Any,
    archive: Any = None,
) -> Handoff:
    """The hardened local pool behind the ledger; the storing thread marks jobs in the ledger itself."""
    from workers.article_limit import prepare_within, warm_up
    from workers.ledger_marks import store_marking

    reliability = settings.reliability
    ledger = JobLedger.in_data_dir(settings.data_dir)
    store = partial(
        store_marking, dedupe=story, index=index, dead_letters=dead_letters, marks=ledger, health=health,
        archive=archive,
    )
    people = settings.enrich.people_and_orgs
    local = LocalHandoff(
        partial(prepare_within, limit_s=reliability.article_time_limit_s, people_and_orgs=people),  # picklable
        store,
        settings.processing_workers,
        owner,
        initializer=partial(warm_up, people),
        preload=["workers.warm_process"],
        article_time_limit_s=reliability.article_time_limit_s,
        retry_budget=reliability.pool_retry_budget,
    )

    async def give_up(jobs: Sequence[Overdue], reason: str) -> None:
        await asyncio.get_running_loop().run_in_executor(owner, dead_letters.record, _lost_letters(jobs, reason))

    reconciler = Reconciler(
        ledger, local, reliability, settings.batch_size,
        probe=_probe(index, owner), give_up=give_up,
        # Jobs a previous daemon left pending died with its in-process pool: take them up at once.
        first_round_timeout_s=0.0,
    )
    return LedgeredHandoff(local, ledger, reconciler)


def _probe(index: IndexBackend, executor: Executor | None) -> Probe:
    """Is the job's article in the index already, from this fetch or a later one? Asked by the id the job's
    URL gives (a page claiming another canonical URL is not found, and is re-enqueued: harmless)."""
    from workers.dedupe import canonical_url

    def lookup(message: dict[str, Any]) -> bool | None:
        job = ArticleJob.model_validate(message)
        doc_id = document_id(canonical_url(job.final_url, None, job.source.url)[0])
        try:
            article = index.get(doc_id)
        except Exception as exc:  # an unreachable index answers "not known": the job waits for it
            log.warning("reconcile_probe_failed", error_type=type(exc).__name__, error=str(exc))
            return None
        return article is not None and article.fetched_at >= job.fetched_at

    async def probe(message: dict[str, Any]) -> bool | None:
        try:
            if executor is None:
                return await asyncio.to_thread(lookup, message)
            return await asyncio.get_running_loop().run_in_executor(executor, lookup, message)
        except Exception as exc:  # a job that cannot be looked up is re-enqueued
            log.warning("reconcile_probe_failed", error_type=type(exc).__name__, error=str(exc))
            return False

    return probe


def _lost_letters(jobs: Sequence[Overdue], reason: str) -> list[DeadLetter]:
    now = datetime.now(UTC)
    return [
        DeadLetter(
            job_id=job.job_id, url=job.url, source=job.source, stage="process", error_type="LostInTransit",
            reason=f"lost in transit {job.sends} times (handed off, never done or dead-lettered)",
            failed_at=now, job=job.message or None,
        )
        for job in jobs
    ]


# -- audit -----------------------------------------------------------------------------------------


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    ledger = JobLedger.in_data_dir(settings.data_dir)
    try:
        if settings.redis_url:
            inbox = RedisMarkInbox(RedisTarget.from_settings(settings), marks_key(settings.key_prefix))
            try:
                while marks := inbox.take():
                    ledger.mark(marks)
            finally:
                inbox.close()
        per_source = ledger.audit(settings.reliability.reconcile_timeout_s)
        oldest = ledger.oldest_pending_at()
    finally:
        ledger.close()
    queued = queued_batches(settings)
    per_source = {name: counts.behind_backlog(queued) for name, counts in per_source.items()}
    total = sum(per_source.values(), AuditCounts())
    if args.json:
        document: dict[str, Any] = {"mode": settings.mode, **asdict(total)}
        document["oldest_pending_at"] = _iso(oldest)
        if args.per_source:
            document["sources"] = {name: asdict(counts) for name, counts in per_source.items()}
        print(json.dumps(document))
    else:
        rows = [("all", total)] + (list(per_source.items()) if args.per_source else [])
        print(f"{'source':<24} {'accepted':>9} {'indexed':>9} {'dead':>7} {'pending':>8} {'missing':>8}")
        for name, c in rows:
            print(f"{name:<24} {c.accepted:>9} {c.done:>9} {c.dead:>7} {c.pending:>8} {c.missing:>8}")
        if oldest is not None:
            print(f"oldest pending job handed off at {_iso(oldest)}")
        if queued:
            print(f"{queued} batches wait in the queue: jobs are judged missing only once it has drained")
    if total.missing:
        print(
            f"newsingest: {total.missing} jobs missing (handed off over "
            f"{settings.reliability.reconcile_timeout_s:g}s ago, neither indexed nor dead-lettered); "
            "the running daemon's reconciler re-enqueues them",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


# -- dead letters ----------------------------------------------------------------------------------


@contextmanager
def _archive(settings: Settings) -> Iterator[DeadLetterArchive]:
    if settings.elasticsearch_url:
        from workers.index.connect import elastic_index
        from workers.index.elastic import ElasticDeadLetters

        index = elastic_index(settings, "write")
        try:
            yield ElasticDeadLetters(index.client, settings.index_alias)
        finally:
            index.close()
        return
    from workers.index.sqlite import SqliteDeadLetters, open_database

    db = open_database(settings.sqlite_path)
    try:
        yield SqliteDeadLetters(db)
    finally:
        db.close()


def _selected(archive: DeadLetterArchive, args: argparse.Namespace) -> list[tuple[str, DeadLetter]]:
    letters = archive.all()
    ids: list[str] = getattr(args, "ids", None) or ([args.id] if getattr(args, "id", None) else [])
    if ids:
        letters = [(i, l) for i, l in letters if any(i.startswith(x) or l.job_id == x for x in ids)]
    if args.__dict__.get("source"):
        letters = [(i, l) for i, l in letters if l.source == args.source]
    if args.__dict__.get("reason_contains"):
        needle = args.reason_contains.lower()
        letters = [(i, l) for i, l in letters if needle in l.reason.lower()]
    if args.__dict__.get("stage"):
        letters = [(i, l) for i, l in letters if l.stage == args.stage]
    return letters


def _has_selection(args: argparse.Namespace) -> bool:
    return bool(args.ids or args.all or args.source or args.reason_contains or args.stage)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    with _archive(settings) as archive:
        letters = _selected(archive, args)
    for letter_id, letter in letters:
        if args.json:
            print(json.dumps({"id": letter_id, **letter.model_dump(mode="json", exclude={"job"})}))
        else:
            when = letter.failed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            reason = letter.reason if len(letter.reason) <= 100 else letter.reason[:99] + "…"
            print(f"{letter_id[:12]}  {when}  {letter.stage:<8} {letter.source or '-':<20} {reason}  {letter.url or '-'}")
    if not args.json:
        print(f"{len(letters)} dead letters", file=sys.stderr)
    return EXIT_OK


def _show(settings: Settings, args: argparse.Namespace) -> int:
    with _archive(settings) as archive:
        letters = _selected(archive, args)
    if len(letters) != 1:
        what = "no dead letter" if not letters else f"{len(letters)} dead letters"
        print(f"newsingest: {what} matches {args.id!r} (see `newsingest deadletters list`)", file=sys.stderr)
        return EXIT_FAILED
    letter_id, letter = letters[0]
    document = {"id": letter_id, **letter.model_dump(mode="json")}
    job = document.get("job")
    if isinstance(job, dict) and not args.html and isinstance(job.get("html"), str):
        document["job"] = {**job, "html": f"<{len(job['html'])} characters: --html shows them>"}
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return EXIT_OK


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    if not _has_selection(args):
        print("newsingest: purge needs ids, --all or a filter (--source, --reason-contains, --stage)", file=sys.stderr)
        return EXIT_USAGE
    with _archive(settings) as archive:
        letters = _selected(archive, args)
        if not args.yes:
            print(f"{len(letters)} dead letters would be deleted: add --yes to delete them", file=sys.stderr)
            return EXIT_USAGE
        removed = archive.remove([letter_id for letter_id, _ in letters])
    print(f"{removed} dead letters deleted")
    return EXIT_OK


def _retry(settings: Settings, args: argparse.Namespace) -> int:
    if not _has_selection(args):
        print("newsingest: retry needs ids, --all or a filter (--source, --reason-contains, --stage)", file=sys.stderr)
        return EXIT_USAGE
    with _archive(settings) as archive:
        letters = _selected(archive, args)
        retryable: list[tuple[str, ArticleJob]] = []
        for letter_id, letter in letters:
            try:
                # A new job id: the ledger holds the old one as dead, and its new outcome must count.
                job = ArticleJob.model_validate(letter.job or {}).model_copy(update={"job_id": uuid4().hex})
            except ValidationError:
                print(f"{letter_id[:12]}: not retryable: the letter holds no valid job ({letter.reason})", file=sys.stderr)
                continue
            retryable.append((letter_id, job))
        if not retryable:
            print("newsingest: no retryable dead letters match", file=sys.stderr)
            return EXIT_FAILED if letters else EXIT_OK
        ok = asyncio.run(_hand_off_again(settings, archive, retryable))
    return EXIT_OK if ok else EXIT_FAILED


async def _hand_off_again(
    settings: Settings, archive: DeadLetterArchive, retryable: list[tuple[str, ArticleJob]]
) -> bool:
    from ingest.cli import _wiring  # the daemon's own wiring: same hand-off, same ledger

    progress = Progress(len(retryable), unit="job", desc="retry", event="deadletters_retry_progress")
    with _wiring(settings) as (state, handoff):
        try:
            for start in range(0, len(retryable), settings.batch_size):
                batch = retryable[start : start + settings.batch_size]
                await handoff.submit([job for _, job in batch])
                # Handed off (and in the ledger): the letter has done its job.
                await asyncio.to_thread(archive.remove, [letter_id for letter_id, _ in batch])
                progress.advance(len(batch))
            report = await handoff.drain(settings.once_timeout_s)
        finally:
            progress.close()
            await handoff.close()
            await state.close()
    print(f"{len(retryable)} jobs handed off again; `newsingest audit` and `deadletters list` show how they end")
    return not report.timed_out
