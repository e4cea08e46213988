"""`newsingest export` off a terminal: progress as log lines on stderr, the export alone on stdout.

The real CLI as a process (stderr is a pipe, not a TTY) over a real index of each mode: a SQLite
file and an Elasticsearch alias, each holding a few dozen documents.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from ingest.search_output import write_export
from tests.installation import Installation
from workers.documents import Article
from workers.index.elastic import ElasticIndex
from workers.index.sqlite import SqliteIndex, open_database
from workers.ports import IndexBackend, SearchQuery

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = 40
MakeArticle = Callable[..., Article]


def _installation(tmp_path: Path, **env: str) -> Installation:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    clean.update(NEWSINGEST_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT), **env)
    return Installation(clean, tmp_path, tmp_path / "sources.yaml")


@pytest.fixture
def standalone(tmp_path: Path, make_article: MakeArticle) -> Iterator[tuple[Installation, IndexBackend]]:
    installation = _installation(tmp_path)
    path = tmp_path / "data" / "newsingest.sqlite3"
    path.parent.mkdir(parents=True)
    conn = open_database(path)
    index = SqliteIndex(conn)
    index.ensure_ready()
    index.bulk_index([make_article() for _ in range(DOCUMENTS)])
    yield installation, index
    conn.close()


@pytest.fixture
def distributed(
    tmp_path: Path,
    make_article: MakeArticle,
    es_client: Elasticsearch,
    es_alias: str,
    elasticsearch_url: str,
    redis_url: str,
    redis_prefix: str,
) -> Iterator[tuple[Installation, IndexBackend]]:
    installation = _installation(
        tmp_path,
        NEWSINGEST_REDIS_URL=redis_url,
        NEWSINGEST_ELASTICSEARCH_URL=elasticsearch_url,
        NEWSINGEST_INDEX_ALIAS=es_alias,
        NEWSINGEST_KEY_PREFIX=redis_prefix,
    )
    index = ElasticIndex(es_client, es_alias)
    index.ensure_ready()
    index.bulk_index([make_article() for _ in range(DOCUMENTS)])
    index.refresh()
    yield installation, index
    index.close()


@pytest.fixture(params=["standalone", "distributed"])
def indexed(request: pytest.FixtureRequest) -> tuple[Installation, IndexBackend]:
    """An installation of either mode whose index holds DOCUMENTS articles, and that index."""
    made: tuple[Installation, IndexBackend] = request.getfixturevalue(request.param)
    return made


def _progress(stderr: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == "export_progress"]


def test_export_logs_documents_written_of_the_match_count_on_stderr(
    indexed: tuple[Installation, IndexBackend],
) -> None:
    installation, _ = indexed
    result = installation.cli("export")
    assert result.returncode == 0, result.stderr
    lines = _progress(result.stderr)
    done = [line["done"] for line in lines]
    assert len(lines) > 2, result.stderr  # periodic, not one line at the end
    assert done == sorted(set(done)) and done[-1] == DOCUMENTS
    assert {line["total"] for line in lines} == {DOCUMENTS}
    assert {line["unit"] for line in lines} == {"document"}


def test_export_progress_counts_only_the_documents_matching_the_filters(
    standalone: tuple[Installation, IndexBackend], make_article: MakeArticle
) -> None:
    installation, index = standalone
    index.bulk_index([make_article(source="elsewhere") for _ in range(5)])
    result = installation.cli("export", "--source", "elsewhere")
    assert result.returncode == 0, result.stderr
    assert [line["total"] for line in _progress(result.stderr)][-1] == 5
    assert len(result.stdout.splitlines()) == 5


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_stdout_is_exactly_the_export_without_progress(
    indexed: tuple[Installation, IndexBackend], fmt: str
) -> None:
    installation, index = indexed
    expected = io.StringIO(newline="")  # as written, CSV's \r\n included
    write_export(index.export(SearchQuery()), expected, fmt)
    # Bytes, not text: no newline translation between what the command wrote and what is compared.
    result = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "export", "--format", fmt],
        env=installation.env, cwd=installation.workdir, capture_output=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert _progress(result.stderr.decode()), "progress was on (stderr has its lines)"
    assert result.stdout == expected.getvalue().encode("utf-8")
    text = result.stdout.decode("utf-8")
    if fmt == "jsonl":
        assert len([json.loads(line) for line in text.splitlines()]) == DOCUMENTS
    else:
        assert len(list(csv.DictReader(io.StringIO(text, newline="")))) == DOCUMENTS
