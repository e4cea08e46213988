"""`newsingest status`: is the deployment healthy? One line per check; exit 1 naming what failed (a probe).

Checks, by mode. Distributed: Redis answers, Elasticsearch's cluster is not red, at least one
Celery worker answers a ping, the queue depth, dead letters, which daemons hold source leases.
Standalone: a daemon holds the data directory's lock, the SQLite index opens (read-only), dead
letters. Both: sources whose last poll failed, the newest document write, and the job ledger's
pending and missing jobs (ingest/ledger.py). Only services, workers and the daemon decide health; failing
sources and dead letters are reported, never fatal (a probe that fails on one bad feed is useless).
Never writes anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ingest.errors import SourcesFileError
from ingest.feed_records import load_records
from ingest.ledger import LEDGER_FILE, AuditCounts, JobLedger
from ingest.lifecycle import lock_holder, lock_path
from ingest.reconcile import queued_batches
from ingest.redact import redact, redact_text, redact_url
from ingest.redis_connect import RedisTarget
from ingest.settings import Settings
from ingest.sources import load_sources

EXIT_OK, EXIT_UNHEALTHY = 0, 1
_CRITICAL = frozenset({"redis", "elasticsearch", "workers", "daemon", "index"})  # what makes a probe fail
_TIMEOUT_S = 3.0


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    critical: bool = True  # False: reported, never makes the deployment unhealthy
    value: Any = None


def register(commands: Any, sources_commands: Any) -> None:
    status = commands.add_parser("status", help="services, workers, queue, dead letters, failing sources; exit 1 when unhealthy")
    status.add_argument("--json", action="store_true", help="one JSON object: mode, healthy, checks")
    status.add_argument("--sources", type=Path, help="sources file (default: NEWSINGEST_SOURCES)")
    status.set_defaults(command=_status)


def _status(settings: Settings, args: argparse.Namespace) -> int:
    checks = collect(settings, args.sources or settings.sources)
    failed = [c.name for c in checks if c.critical and not c.ok]
    if args.json:
        # Checks quote URLs and library errors: redacted like every other output.
        print(json.dumps({"mode": settings.mode, "healthy": not failed, "failed": failed,
                          "checks": [redact(asdict(c)) for c in checks]}))
    else:
        print(f"mode          {settings.mode}")
        for check in checks:
            mark = "ok  " if check.ok else ("FAIL" if check.critical else "warn")
            print(f"{mark} {check.name:<16} {redact_text(check.detail)}")
    if failed:
        print(f"newsingest: unhealthy: {', '.join(failed)}", file=sys.stderr)
        return EXIT_UNHEALTHY
    return EXIT_OK


def collect(settings: Settings, sources_path: Path) -> list[CheckResult]:
    probes: list[tuple[str, Callable[[Settings], CheckResult]]]
    if settings.mode == "distributed":
        probes = [("redis", _redis), ("elasticsearch", _elasticsearch), ("workers", _workers), ("queue", _queue),
                  ("dead_letters", _elastic_dead_letters), ("daemons", _leases), ("last_index_write", _elastic_last_write),
                  ("es_identity", _elastic_identity)]
        if settings.elasticsearch.reader is not None:  # the writer is another user: check it too
            probes.append(("es_writer", _elastic_writer_identity))
    else:
        probes = [("daemon", _daemon_lock), ("index", _sqlite_index), ("dead_letters", _sqlite_dead_letters),
                  ("last_index_write", _sqlite_last_write)]
    results = [_guarded(name, probe, settings) for name, probe in probes]
    results.append(_failing_sources(settings, sources_path))
    results.append(ledger_pending(settings))
    return results


def pipeline_checks(settings: Settings) -> list[CheckResult]:
    """What the web console's overview shows of the pipeline: backlog, lag (oldest pending job), dead
    letters, the newest index write; quick checks only (no worker ping)."""
    probes: list[tuple[str, Callable[[Settings], CheckResult]]]
    if settings.mode == "distributed":
        probes = [("queue", _queue), ("dead_letters", _elastic_dead_letters), ("last_index_write", _elastic_last_write)]
    else:
        probes = [("daemon", _daemon_lock), ("dead_letters", _sqlite_dead_letters), ("last_index_write", _sqlite_last_write)]
    return [*(_guarded(name, probe, settings) for name, probe in probes), _guarded("ledger", ledger_pending, settings)]


def _guarded(name: str, probe: Callable[[Settings], CheckResult], settings: Settings) -> CheckResult:
    try:
        return probe(settings)
    except Exception as exc:  # a check that cannot run is a failed check, named with its cause
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}", critical=name in _CRITICAL)


# -- the ledger (issue 8's other half): a hook until ingest/ledger*.py exists --------------------------


def ledger_pending(settings: Settings) -> CheckResult:
    """Jobs accepted but not yet indexed, and the oldest pending, from the job ledger (ingest/ledger.py).

    Missing jobs (handed off longer ago than the reconcile timeout and not ended) fail the check: the
    reconciler should have re-sent them. Read-only: a data directory without a ledger is left so.
    """
    path = settings.data_dir / LEDGER_FILE
    if not path.exists():
        return CheckResult("ledger", True, f"no ledger yet at {path}", critical=False)
    ledger = JobLedger(path)
    try:
        counts = sum(ledger.audit(settings.reliability.reconcile_timeout_s).values(), AuditCounts())
        oldest = ledger.oldest_pending_at()
    finally:
        ledger.close()
    counts = counts.behind_backlog(queued_batches(settings))
    age = f", oldest sent {_ago(oldest)}" if oldest else ""
    detail = f"{counts.pending + counts.missing} jobs accepted, not yet indexed{age}; {counts.missing} missing"
    value = {**asdict(counts), "oldest_pending_at": oldest}
    return CheckResult("ledger", counts.missing == 0, detail, critical=False, value=value)


# -- distributed -----------------------------------------------------------------------------------


def _redis_client(settings: Settings) -> Any:
    from ingest.redis_connect import redis_client

    return redis_client(RedisTarget.from_settings(settings), socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S)


def _es_client(settings: Settings) -> Any:
    from workers.index.connect import elastic_client

    return elastic_client(settings, "read", request_timeout_s=_TIMEOUT_S + 2)


def _redis(settings: Settings) -> CheckResult:
    client = _redis_client(settings)
    try:
        client.ping()
        return CheckResult("redis", True, f"answers at {redact_url(str(settings.redis_url))}")
    finally:
        client.close()


def _elasticsearch(settings: Settings) -> CheckResult:
    client = _es_client(settings)
    try:
        health = client.cluster.health(timeout=f"{int(_TIMEOUT_S)}s")
        status = health["status"]
        return CheckResult("elasticsearch", status != "red", f"cluster {status} at {redact_text(str(settings.elasticsearch_url))}", value=status)
    finally:
        client.close()


def _elastic_identity(settings: Settings) -> CheckResult:
    """Who status (a read command) is to the cluster, warning when that user may do more than read."""
    return _identity_check("es_identity", settings, "read")


def _elastic_writer_identity(settings: Settings) -> CheckResult:
    return _identity_check("es_writer", settings, "write")


def _identity_check(name: str, settings: Settings, purpose: Literal["read", "write"]) -> CheckResult:
    from elasticsearch import ApiError, TransportError

    from workers.index.connect import elastic_client, refusal, who_am_i

    client = elastic_client(settings, purpose, request_timeout_s=_TIMEOUT_S + 2)
    try:
        identity = who_am_i(client, purpose, settings.index_alias)
    except (ApiError, TransportError) as exc:
        denied = refusal(settings, purpose, exc)
        return CheckResult(name, False, str(denied or exc), critical=False)
    finally:
        client.close()
    value = {"security": identity.security, "username": identity.username, "roles": list(identity.roles),
             "purpose": purpose, "more_than_needed": list(identity.excess)}
    if identity.excess:
        detail = f"{identity.describe()} for {purpose}: holds more than it needs ({', '.join(identity.excess)})"
        return CheckResult(name, False, detail, critical=False, value=value)
    detail = f"{identity.describe()} for {purpose}" if identity.security else identity.describe()
    return CheckResult(name, True, detail, critical=False, value=value)


def _workers(settings: Settings) -> CheckResult:
    from workers.app import make_app  # the same broker options (key prefix) as the workers

    app = make_app(settings)
    try:
        replies = app.control.inspect(timeout=1.0).ping() or {}
    finally:
        app.close()
    names = sorted(replies)
    detail = f"{len(names)} alive: {', '.join(names)}" if names else "no Celery worker answered a ping within 1 s"
    return CheckResult("workers", bool(names), detail, value=names)


def _queue(settings: Settings) -> CheckResult:
    client = _redis_client(settings)
    try:
        depth = int(client.llen(settings.key_prefix + settings.celery.queue))
    finally:
        client.close()
    high = settings.queue_high_water
    paused = " (past the high-water mark: fetching paused)" if depth >= high else ""
    return CheckResult("queue", True, f"{depth} batches waiting{paused}", critical=False, value=depth)


def _elastic_dead_letters(settings: Settings) -> CheckResult:
    client = _es_client(settings)
    try:
        found = client.options(ignore_status=404).count(index=f"{settings.index_alias}-deadletters")
        count = int(found["count"]) if found.meta.status == 200 else 0
    finally:
        client.close()
    return CheckResult("dead_letters", count == 0, f"{count} jobs failed for good", critical=False, value=count)


def _leases(settings: Settings) -> CheckResult:
    client = _redis_client(settings)
    try:
        keys = list(client.scan_iter(match=f"{settings.key_prefix}lease:*", count=1000))
        holders = [v.decode() for v in client.mget(keys) if v] if keys else []
    finally:
        client.close()
    daemons = sorted(set(holders))
    if not daemons:
        return CheckResult("daemons", False, "no daemon holds a source lease (none running?)", critical=False)
    return CheckResult("daemons", True, f"{len(daemons)} polling {len(holders)} sources: {', '.join(daemons)}", False, daemons)


def _elastic_last_write(settings: Settings) -> CheckResult:
    client = _es_client(settings)
    try:
        found = client.options(ignore_status=404).search(
            index=settings.index_alias, size=1, sort=[{"updated_at": "desc"}], source=["updated_at"]
        )
        hits = found["hits"]["hits"] if found.meta.status == 200 else []
    finally:
        client.close()
    newest = hits[0]["_source"]["updated_at"] if hits else None
    return _last_write(newest)


# -- standalone ------------------------------------------------------------------------------------


def _daemon_lock(settings: Settings) -> CheckResult:
    pid = lock_holder(settings.data_dir)
    if pid is None:
        return CheckResult("daemon", False, f"not running (no process holds {lock_path(settings.data_dir)})")
    return CheckResult("daemon", True, f"running, pid {pid}" if pid > 0 else "running", value=pid)


def _read_only(settings: Settings) -> sqlite3.Connection:
    path = settings.sqlite_path
    if not path.exists():
        raise FileNotFoundError(f"no index yet at {path} (run the daemon once)")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=_TIMEOUT_S)


def _sqlite_index(settings: Settings) -> CheckResult:
    with _read_only(settings) as db:
        count = int(db.execute("SELECT count(*) FROM articles").fetchone()[0])
    return CheckResult("index", True, f"{count} documents in {settings.sqlite_path}", value=count)


def _sqlite_dead_letters(settings: Settings) -> CheckResult:
    with _read_only(settings) as db:
        count = int(db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])
    return CheckResult("dead_letters", count == 0, f"{count} jobs failed for good", critical=False, value=count)


def _sqlite_last_write(settings: Settings) -> CheckResult:
    with _read_only(settings) as db:
        newest = db.execute("SELECT max(json_extract(document, '$.updated_at')) FROM articles").fetchone()[0]
    return _last_write(newest)


# -- both ------------------------------------------------------------------------------------------


def _last_write(newest: str | None) -> CheckResult:
    if newest is None:
        return CheckResult("last_index_write", True, "no document written yet", critical=False)
    return CheckResult("last_index_write", True, f"newest document change at {newest}", critical=False, value=newest)


def _failing_sources(settings: Settings, path: Path) -> CheckResult:
    try:
        names = [s.name for s in load_sources(path).enabled]
    except SourcesFileError as exc:
        return CheckResult("sources", False, f"the sources file has problems: {exc.path}", critical=False)
    if settings.mode == "standalone" and not settings.sqlite_path.exists():
        return CheckResult("sources", True, f"{len(names)} enabled, none polled yet", critical=False)
    try:
        records = asyncio.run(load_records(settings, names))
    except Exception as exc:  # the state store is a service check's business; say why and go on
        return CheckResult("sources", False, f"feed state unreadable: {type(exc).__name__}: {exc}", critical=False)
    failing = {n: r for n, r in records.items() if r.failures > 0}
    if not failing:
        return CheckResult("sources", True, f"{len(names)} enabled, none failing", critical=False)
    listed = "; ".join(f"{n} ({r.failures}x: {r.last_error_type or r.last_status})" for n, r in sorted(failing.items()))
    return CheckResult("sources", False, f"{len(failing)} of {len(names)} failing: {listed}", False, sorted(failing))


def _ago(moment: float) -> str:
    return f"{max(time.time() - moment, 0):.0f}s ago"


