"""Backups end to end, in both modes, through the real CLI: ingest, back up, wipe everything, restore,
and the search finds every document while a new poll adds nothing twice.

Distributed: a real Celery worker, Redis keys under a prefix of the test's own, and an Elasticsearch
snapshot in an `fs` repository under the server's path.repo (scripts/services.sh sets it).
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from elasticsearch import Elasticsearch

from tests.installation import Installation, base_env, drop_alias
from tests.origin import Origin, running_origin

pytestmark = pytest.mark.integration

SEED_DOCUMENTS = 6  # the seed feed's unique articles


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with running_origin() as server:
        yield server


def _snapshot_root(client: Elasticsearch) -> Path:
    nodes = client.nodes.info(metric="settings", filter_path="nodes.*.settings.path.repo")["nodes"]
    roots = [setting["settings"]["path"]["repo"] for setting in nodes.values()]
    root = roots[0][0] if isinstance(roots[0], list) else roots[0]
    return Path(root)


@pytest.fixture(params=["standalone", "distributed"])
def installation(
    request: pytest.FixtureRequest, origin: Origin, tmp_path: Path
) -> Iterator[Installation]:
    sources = origin.write_sources(tmp_path / "sources.yaml")
    env = base_env(tmp_path) | {"NEWSINGEST_SOURCES": str(sources),
                                "NEWSINGEST_BACKUP__DIRECTORY": str(tmp_path / "backups")}
    setup = Installation(env, tmp_path, sources)
    client: Elasticsearch | None = None
    if request.param == "distributed":
        alias = request.getfixturevalue("es_alias")
        setup.distribute(request.getfixturevalue("redis_url"), request.getfixturevalue("elasticsearch_url"),
                         alias, request.getfixturevalue("redis_prefix"))
        client = request.getfixturevalue("es_client")
        env["NEWSINGEST_BACKUP__ES_LOCATION"] = str(_snapshot_root(client) / f"test-{uuid.uuid4().hex[:8]}")
        env["NEWSINGEST_BACKUP__ES_REPOSITORY"] = f"{alias}-backups"
        setup.start("worker", "--concurrency", "2", log_name="worker.log")
    yield setup
    setup.stop_all()
    if client is not None:
        repository = env["NEWSINGEST_BACKUP__ES_REPOSITORY"]
        lenient = client.options(ignore_status=404)
        snapshots = lenient.snapshot.get(repository=repository, snapshot="*").body.get("snapshots", [])
        for snapshot in snapshots:
            client.snapshot.delete(repository=repository, snapshot=snapshot["snapshot"])
        lenient.snapshot.delete_repository(name=repository)


def _wipe(setup: Installation, es_client: Any, redis_client: redis.Redis | None) -> None:
    """Lose everything: the data directory, and in distributed mode the index and every Redis key."""
    shutil.rmtree(Path(setup.env["NEWSINGEST_DATA_DIR"]))
    if setup.distributed:
        drop_alias(es_client, setup.env["NEWSINGEST_INDEX_ALIAS"])
        assert redis_client is not None
        keys = list(redis_client.scan_iter(match=setup.env["NEWSINGEST_KEY_PREFIX"] + "*"))
        if keys:
            redis_client.delete(*keys)


def _run_once(setup: Installation) -> list[dict[str, Any]]:
    result = setup.cli("run", "--once", timeout_s=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]


def test_restore_onto_an_empty_machine_brings_everything_back(
    installation: Installation, request: pytest.FixtureRequest
) -> None:
    setup = installation
    _run_once(setup)
    assert setup.count() == SEED_DOCUMENTS

    made = setup.cli("backup", "--name", "Nightly-1")
    assert made.returncode == 0, made.stderr
    folder = Path(made.stdout.strip())
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert folder.name == "nightly-1" and manifest["documents"] == SEED_DOCUMENTS
    assert "ledger.sqlite3" in manifest["files"] and "raw-archive-index.sqlite3" in manifest["files"]

    es_client = request.getfixturevalue("es_client") if setup.distributed else None
    redis_client = request.getfixturevalue("redis_client") if setup.distributed else None
    _wipe(setup, es_client, redis_client)

    restored = setup.cli("restore", str(folder))
    assert restored.returncode == 0, restored.stderr
    assert f"{SEED_DOCUMENTS:,} documents" in restored.stdout
    assert setup.count() == SEED_DOCUMENTS
    archived = setup.cli("archive", "--json")  # the archive's index came back too (its bodies are files)
    assert archived.returncode == 0 and json.loads(archived.stdout)["documents"] == SEED_DOCUMENTS, archived.stderr
    found = setup.cli("search", "Erdogan", "--json", "--all-copies")
    assert found.returncode == 0 and len(found.stdout.splitlines()) == 2, found.stderr

    events = _run_once(setup)  # the restored feed state knows every entry: nothing is fetched again
    polls = [e for e in events if e.get("event") == "poll_finished" and e.get("source") == "worldwire"]
    assert polls and polls[0]["articles_fetched"] == 0
    assert setup.count() == SEED_DOCUMENTS


def test_restore_refuses_to_overwrite_unless_forced(installation: Installation) -> None:
    setup = installation
    _run_once(setup)
    folder = Path(setup.cli("backup").stdout.strip())

    refused = setup.cli("restore", str(folder))
    assert refused.returncode == 1
    assert refused.stderr.startswith("newsingest restore: ") and "--force" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    forced = setup.cli("restore", str(folder), "--force")
    assert forced.returncode == 0, forced.stderr
    assert setup.count() == SEED_DOCUMENTS


def test_a_changed_backup_file_is_refused_by_name(installation: Installation) -> None:
    setup = installation
    _run_once(setup)
    folder = Path(setup.cli("backup").stdout.strip())
    with (folder / "newsingest.sqlite3" if not setup.distributed else folder / "redis.jsonl").open("ab") as file:
        file.write(b"tampered")
    answer = setup.cli("restore", str(folder), "--force")
    assert answer.returncode == 1 and "changed since the backup" in answer.stderr
