"""`newsingest index migrate` off a terminal: documents read of the total, per pass, as log lines on stderr.

The real CLI as a process (stderr is a pipe, not a TTY) over a real Elasticsearch alias left on an
older mapping version, holding a few dozen documents copied in small batches.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from tests.installation import Installation
from workers.documents import Article
from workers.index.elastic import ElasticIndex
from workers.index.mapping import MAPPING_VERSION

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = 40
BATCH = 5
MakeArticle = Callable[..., Article]


@pytest.fixture
def outdated(
    tmp_path: Path,
    make_article: MakeArticle,
    es_client: Elasticsearch,
    es_alias: str,
    elasticsearch_url: str,
    redis_url: str,
    redis_prefix: str,
) -> Installation:
    """A distributed installation whose alias is on an index an older newsingest made (mapping v0)."""
    es_client.indices.create(
        index=f"{es_alias}-v0",
        mappings={"dynamic": False, "_meta": {"mapping_version": 0}, "properties": {"title": {"type": "text"}}},
        aliases={es_alias: {"is_write_index": True}},
    )
    for article in [make_article() for _ in range(DOCUMENTS)]:
        es_client.index(index=es_alias, id=article.id, document=article.to_source())
    es_client.indices.refresh(index=es_alias)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(
        NEWSINGEST_DATA_DIR=str(tmp_path / "data"),
        NEWSINGEST_REDIS_URL=redis_url,
        NEWSINGEST_ELASTICSEARCH_URL=elasticsearch_url,
        NEWSINGEST_INDEX_ALIAS=es_alias,
        NEWSINGEST_KEY_PREFIX=redis_prefix,
        PYTHONPATH=str(ROOT),
    )
    return Installation(env, tmp_path, tmp_path / "sources.yaml")


def _migrate(installation: Installation) -> subprocess.CompletedProcess[str]:
    result = installation.cli("index", "migrate", "--batch-size", str(BATCH))
    assert result.returncode == 0, result.stderr
    return result


def _progress(stderr: str, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == event]


def test_migrate_logs_documents_copied_of_the_total_batch_by_batch(outdated: Installation) -> None:
    lines = _progress(_migrate(outdated).stderr, "migrate_copy_progress")
    assert [line["done"] for line in lines] == list(range(BATCH, DOCUMENTS + 1, BATCH))
    assert {line["total"] for line in lines} == {DOCUMENTS}


def test_migrate_logs_the_replay_pass_growing_to_the_total(outdated: Installation) -> None:
    lines = _progress(_migrate(outdated).stderr, "migrate_replay_progress")
    assert [line["done"] for line in lines] == list(range(BATCH, DOCUMENTS + 1, BATCH))
    assert {line["total"] for line in lines} == {DOCUMENTS}


def test_migrate_with_progress_still_moves_every_document(
    outdated: Installation, es_client: Elasticsearch, es_alias: str
) -> None:
    result = _migrate(outdated)
    index = ElasticIndex(es_client, es_alias)
    index.refresh()
    assert index.status().alias_mapping_version == MAPPING_VERSION
    assert index.count() == DOCUMENTS
    assert f"copied {DOCUMENTS}," in result.stdout and "progress" not in result.stdout


def test_migrate_refuses_a_batch_size_of_zero(outdated: Installation) -> None:
    result = outdated.cli("index", "migrate", "--batch-size", "0")
    assert result.returncode == 2
    assert "is not a batch size" in result.stderr
