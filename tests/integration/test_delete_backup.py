"""Tombstones are part of a backup: restored onto an empty machine, a deleted article stays deleted when a
poll brings it again. Both modes; the installation, origin and wipe are tests/integration/test_backup.py's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.installation import Installation
from tests.integration.test_backup import _run_once, _wipe, installation, origin  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def test_a_restored_backup_keeps_deleted_articles_deleted(
    installation: Installation, request: pytest.FixtureRequest  # noqa: F811 (the imported fixture)
) -> None:
    setup = installation
    _run_once(setup)
    documents = setup.documents(("url", "duplicate_of"))
    doomed_id, doomed = next((i, d) for i, d in documents.items() if not d["duplicate_of"])
    deleted = setup.cli("delete", "--url", doomed["url"])
    assert deleted.returncode == 0, deleted.stderr
    made = setup.cli("backup", "--name", "after-takedown")
    assert made.returncode == 0, made.stderr

    es_client = request.getfixturevalue("es_client") if setup.distributed else None
    redis_client = request.getfixturevalue("redis_client") if setup.distributed else None
    _wipe(setup, es_client, redis_client)
    restored = setup.cli("restore", made.stdout.strip())
    assert restored.returncode == 0, restored.stderr

    # A second source on the same feed has no feed state: its poll fetches every article again.
    text = setup.sources_file.read_text(encoding="utf-8")
    first = text.split("\n", 1)[1].replace("name: worldwire", "name: worldwire-again")
    setup.sources_file.write_text(text + first, encoding="utf-8")
    _run_once(setup)
    assert doomed_id not in setup.documents() and setup.count() == len(documents) - 1
    assert Path(made.stdout.strip(), "manifest.json").exists()
