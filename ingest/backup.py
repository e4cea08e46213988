"""`newsingest backup` and `restore`: what a new machine needs to carry on where this one stopped.

A backup is one folder: `manifest.json` (written last: a folder without it is incomplete), copies of the
SQLite files of the data directory (index and feed state when standalone, the job ledger in both modes)
and the raw archive's index (not its bodies: they stay where they are, for file backups to take),
made with SQLite's online backup API, so a running daemon need not stop; when distributed, the
Redis keys under the key prefix (feed state, seen entries, dedupe and story state: DUMP/RESTORE, with
their expiry) and an Elasticsearch snapshot of the alias's indices, the dead letters and the
tombstones of deleted articles in an `fs` repository (the server keeps those files; the manifest
names them). Restore refuses to overwrite
anything that holds data unless forced, and checks what it restored against the manifest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.errors import IngestError
from ingest.lifecycle import lock_holder
from ingest.redis_connect import RedisTarget, redis_client
from ingest.settings import Settings
from workers.raw_archive import INDEX_FILE as RAW_ARCHIVE_INDEX

MANIFEST = "manifest.json"
FORMAT = 1
REDIS_FILE = "redis.jsonl"
SQLITE_PATTERN = "*.sqlite3"
RAW_ARCHIVE_FILE = "raw-archive-index.sqlite3"  # in a backup; the archive itself names it RAW_ARCHIVE_INDEX
_REDIS_BATCH = 500

Progress = Callable[[str], None]


class BackupError(IngestError):
    """A backup or restore that cannot go on, with what to do about it."""


def default_name(now: datetime | None = None) -> str:
    """`newsingest-20261205t120000z`: sorts by time, and is a valid Elasticsearch snapshot name."""
    return "newsingest-" + (now or datetime.now(UTC)).strftime("%Y%m%dt%H%M%Sz")


# -- backup ---------------------------------------------------------------------------------------


def backup(settings: Settings, name: str, progress: Progress) -> Path:
    """Write a backup called `name` into settings.backup.directory; returns its folder."""
    folder = settings.backup.directory / name
    if folder.exists():
        raise BackupError(f"{folder} already exists: choose another --name")
    folder.mkdir(parents=True)
    manifest: dict[str, Any] = {"format": FORMAT, "name": name, "mode": settings.mode,
                                "created_at": datetime.now(UTC).isoformat(), "files": {}}
    for source in sorted(settings.data_dir.glob(SQLITE_PATTERN)):
        _copy_sqlite(source, folder / source.name)
        manifest["files"][source.name] = _describe(folder / source.name)
        progress(f"copied {source.name} ({manifest['files'][source.name]['bytes']:,} bytes)")
    archive_index = settings.archive_path / RAW_ARCHIVE_INDEX
    if archive_index.exists():
        _copy_sqlite(archive_index, folder / RAW_ARCHIVE_FILE)
        manifest["files"][RAW_ARCHIVE_FILE] = _describe(folder / RAW_ARCHIVE_FILE)
        manifest["raw_archive"] = {"file": RAW_ARCHIVE_FILE, "path": str(settings.archive_path)}
        progress(f"copied the raw archive's index; its bodies stay in {settings.archive_path / 'blobs'} "
                 "(back that folder up with your file backups)")
    if settings.mode == "distributed":
        manifest["redis"] = {"file": REDIS_FILE, "prefix": settings.key_prefix,
                             "keys": _dump_redis(settings, folder / REDIS_FILE)}
        manifest["files"][REDIS_FILE] = _describe(folder / REDIS_FILE)
        progress(f"saved {manifest['redis']['keys']:,} Redis keys under {settings.key_prefix!r}")
        manifest["elasticsearch"] = _snapshot(settings, name)
        manifest["documents"] = manifest["elasticsearch"]["documents"]
        progress(f"snapshot {name} of {', '.join(manifest['elasticsearch']['indices'])} "
                 f"in repository {settings.backup.es_repository}")
    else:
        manifest["documents"] = _sqlite_documents(folder / settings.sqlite_path.name)
    partial = folder / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    partial.replace(folder / MANIFEST)
    return folder


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live database (the online backup API: writers may go on meanwhile)."""
    with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file (the copy came in WAL mode)


def _describe(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _sqlite_documents(path: Path) -> int:
    if not path.exists():
        return 0
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM articles").fetchone()[0])


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


def _dump_redis(settings: Settings, path: Path) -> int:
    client = redis_client(RedisTarget.from_settings(settings), socket_timeout=30)
    count = 0
    try:
        with path.open("w", encoding="utf-8") as out:
            for keys in _batches(client.scan_iter(match=_glob_escape(settings.key_prefix) + "*", count=1000)):
                pipe = client.pipeline(transaction=False)
                for key in keys:
                    pipe.dump(key)
                    pipe.pttl(key)
                answers = pipe.execute()
                for key, dumped, ttl in zip(keys, answers[::2], answers[1::2], strict=True):
                    if dumped is None:
                        continue  # expired since the scan
                    record = {"key": _b64(key), "ttl_ms": max(int(ttl), 0), "value": _b64(dumped)}
                    out.write(json.dumps(record) + "\n")
                    count += 1
    finally:
        client.close()
    return count


def _batches(keys: Iterator[bytes]) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for key in keys:
        batch.append(key)
        if len(batch) == _REDIS_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _elastic(settings: Settings) -> Any:
    from workers.index.connect import elastic_client

    if not settings.backup.es_location:
        raise BackupError(
            "NEWSINGEST_BACKUP__ES_LOCATION is not set: name a folder under the Elasticsearch server's "
            "path.repo for its snapshots"
        )
    client = elastic_client(settings, "write", request_timeout_s=600)
    client.snapshot.create_repository(
        name=settings.backup.es_repository,
        repository={"type": "fs", "settings": {"location": settings.backup.es_location}},
    )
    return client


def _snapshot(settings: Settings, name: str) -> dict[str, Any]:
    from workers.index.mapping import dead_letter_index_name, tombstone_index_name

    client = _elastic(settings)
    try:
        alias = settings.index_alias
        if not client.indices.exists_alias(name=alias):
            raise BackupError(f"there is no index behind the alias {alias!r}: nothing to back up")
        indices = sorted(client.indices.get_alias(name=alias).body)
        # Dead letters and tombstones (`newsingest delete`: without them a restore would bring deleted
        # articles back on the next poll) live beside the alias.
        for beside in (dead_letter_index_name(alias), tombstone_index_name(alias)):
            if client.indices.exists(index=beside):
                indices.append(beside)
        client.indices.refresh(index=",".join(indices))
        documents = int(client.count(index=alias)["count"])
        answer = client.snapshot.create(
            repository=settings.backup.es_repository, snapshot=name, indices=",".join(indices),
            include_global_state=False, wait_for_completion=True,
        )["snapshot"]
        if answer.get("state") != "SUCCESS" or answer.get("shards", {}).get("failed"):
            raise BackupError(f"the snapshot {name} did not complete: {answer.get('state')}, {answer.get('failures')}")
        return {"repository": settings.backup.es_repository, "location": settings.backup.es_location,
                "snapshot": name, "indices": indices, "alias": alias, "documents": documents}
    finally:
        client.close()


# -- restore --------------------------------------------------------------------------------------


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a complete backup: it has no {MANIFEST}") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path}: cannot be read ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: format {manifest.get('format')!r}, this newsingest reads format {FORMAT}")
    for name, expected in manifest["files"].items():
        if not (folder / name).exists() or _describe(folder / name)["sha256"] != expected["sha256"]:
            raise BackupError(f"{folder / name}: missing or changed since the backup (its checksum differs)")
    return manifest


def restore(settings: Settings, folder: Path, *, force: bool, progress: Progress) -> dict[str, Any]:
    """Bring a backup back into the configured installation; returns the manifest."""
    manifest = read_manifest(folder)
    if manifest["mode"] != settings.mode:
        raise BackupError(f"{folder} is a {manifest['mode']} backup; this installation is {settings.mode}")
    if lock_holder(settings.data_dir) is not None:
        raise BackupError(f"a daemon is running on {settings.data_dir}: stop it before restoring")
    if settings.mode == "distributed":
        _restore_redis(settings, folder / manifest["redis"]["file"], force=force)
        progress(f"restored {manifest['redis']['keys']:,} Redis keys")
        _restore_snapshot(settings, manifest["elasticsearch"], force=force)
        progress(f"restored snapshot {manifest['elasticsearch']['snapshot']}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for name in manifest["files"]:
        if name == RAW_ARCHIVE_FILE:
            settings.archive_path.mkdir(parents=True, exist_ok=True)
            _restore_sqlite(folder / name, settings.archive_path / RAW_ARCHIVE_INDEX, force=force)
            progress(f"restored the raw archive's index into {settings.archive_path}")
        elif name.endswith(".sqlite3"):
            _restore_sqlite(folder / name, settings.data_dir / name, force=force)
            progress(f"restored {name}")
    found = _documents_now(settings)
    if found != manifest["documents"]:
        raise BackupError(f"restored {found} documents, the backup holds {manifest['documents']}")
    return manifest


def _restore_sqlite(source: Path, target: Path, *, force: bool) -> None:
    if target.exists() and not force:
        raise BackupError(f"{target} already exists: restore into an empty data directory, or pass --force")
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"{target}: the restored database fails SQLite's check")


def _restore_redis(settings: Settings, path: Path, *, force: bool) -> None:
    client = redis_client(RedisTarget.from_settings(settings), socket_timeout=30)
    try:
        if not force and next(iter(client.scan_iter(match=_glob_escape(settings.key_prefix) + "*", count=1000)), None):
            raise BackupError(f"Redis already holds keys under {settings.key_prefix!r}: restore onto an empty "
                              "prefix, or pass --force")
        with path.open(encoding="utf-8") as lines:
            pipe = client.pipeline(transaction=False)
            for number, line in enumerate(lines, 1):
                record = json.loads(line)
                pipe.restore(base64.b64decode(record["key"]), record["ttl_ms"], base64.b64decode(record["value"]),
                             replace=True)
                if number % _REDIS_BATCH == 0:
                    pipe.execute()
            pipe.execute()
    finally:
        client.close()


def _restore_snapshot(settings: Settings, snapshot: dict[str, Any], *, force: bool) -> None:
    from workers.index.connect import elastic_index

    client = _elastic(settings)
    try:
        indices = list(snapshot["indices"])
        existing = [name for name in indices if client.indices.exists(index=name)]
        if existing and not force:
            raise BackupError(f"Elasticsearch already has {', '.join(existing)}: restore onto an empty cluster, "
                              "or pass --force to replace them")
        if existing:
            client.indices.delete(index=",".join(existing))
        client.snapshot.restore(
            repository=snapshot["repository"], snapshot=snapshot["snapshot"], indices=",".join(indices),
            include_aliases=True, include_global_state=False, wait_for_completion=True,
        )
        client.cluster.health(index=",".join(indices), wait_for_status="yellow", timeout="60s")
    finally:
        client.close()
    index = elastic_index(settings, "write")
    try:
        index.ensure_ready()  # the index template: snapshots of indices leave it out
    finally:
        index.close()


def _documents_now(settings: Settings) -> int:
    if settings.mode == "distributed":
        from workers.index.connect import elastic_client

        client = elastic_client(settings, "read")
        try:
            client.indices.refresh(index=settings.index_alias)
            return int(client.count(index=settings.index_alias)["count"])
        finally:
            client.close()
    return _sqlite_documents(settings.sqlite_path)
