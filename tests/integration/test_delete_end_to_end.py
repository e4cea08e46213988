"""`newsingest delete` and retention end to end, in both modes, through the real CLI against a loopback
origin: a takedown stays gone when the feed brings the article again, its story gets a new lead, and the
daemon's periodic retention job removes what is past its keep."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.installation import Installation, base_env, wait_for
from tests.origin import Origin, running_origin
from workers.documents import Article, document_id

pytestmark = pytest.mark.integration

SEED_DOCUMENTS = 6  # the seed feed's unique articles
_SERVICES = ("redis_url", "elasticsearch_url", "es_alias", "redis_prefix")  # Installation.distribute's order


@pytest.fixture(params=["standalone", "distributed"])
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Installation, Origin]]:
    """An installation polling a loopback origin of its own (one source: its seed feed)."""
    with running_origin() as origin:
        sources = origin.write_sources(tmp_path / "sources.yaml")
        setup = Installation(base_env(tmp_path) | {"NEWSINGEST_SOURCES": str(sources)}, tmp_path, sources)
        if request.param == "distributed":
            setup.distribute(*(request.getfixturevalue(name) for name in _SERVICES))
            setup.start_worker()
        try:
            yield setup, origin
        finally:
            setup.stop_all()


def _run_once(setup: Installation) -> str:
    result = setup.cli("run", "--once", timeout_s=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def test_a_deleted_article_stays_gone_and_its_copy_leads_the_story(installation: tuple[Installation, Origin]) -> None:
    setup, origin = installation
    _run_once(setup)
    documents = setup.documents(("url", "title", "cluster_id", "duplicate_of", "version"))
    assert len(documents) == SEED_DOCUMENTS
    lead_id, lead = next((i, d) for i, d in documents.items() if "Erdogan" in (d["title"] or "") and not d["duplicate_of"])
    copy_id = next(i for i, d in documents.items() if d["duplicate_of"] == lead_id)

    dry = setup.cli("delete", "--url", lead["url"], "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1 documents" in dry.stdout and lead["url"] in dry.stdout
    assert setup.count() == SEED_DOCUMENTS

    done = setup.cli("delete", "--url", lead["url"])
    assert done.returncode == 0, done.stderr
    assert "deleted 1 documents" in done.stdout and "story leads promoted:       1" in done.stdout
    after = setup.documents(("cluster_id", "duplicate_of", "version"))
    assert lead_id not in after and len(after) == SEED_DOCUMENTS - 1
    assert after[copy_id] == {"cluster_id": copy_id, "duplicate_of": None, "version": documents[copy_id]["version"]}

    # A second source on the same feed has no feed state yet: its poll fetches every article again.
    origin.write_sources(setup.sources_file)
    with setup.sources_file.open("a", encoding="utf-8") as sources:
        sources.write(f"  - name: worldwire-again\n    url: {origin.base}/feed.xml\n    allow_hosts: [\"{origin.host}\"]\n")
    stderr = _run_once(setup)
    assert lead_id not in setup.documents() and setup.count() == SEED_DOCUMENTS - 1
    logs = stderr + setup.log("worker.log")
    assert "article_tombstoned" in logs

    hinted = setup.cli("delete", "--source", "worldwire", "--dry-run")
    assert hinted.returncode == 0 and "source worldwire is still in" in hinted.stderr, hinted.stderr


def test_the_daemon_deletes_what_is_past_its_keep(
    installation: tuple[Installation, Origin], request: pytest.FixtureRequest, make_article: Any
) -> None:
    setup, _ = installation
    _run_once(setup)  # the index exists, with today's articles
    old = [_aged(make_article, "worldwire", days=40), _aged(make_article, "archive-source", days=400)]
    _index(setup, request, old)
    assert setup.count() == SEED_DOCUMENTS + 2

    preview = setup.cli("retention", "--dry-run", NEWSINGEST_RETENTION__KEEP="30d")
    assert preview.returncode == 0, preview.stderr
    assert "would delete 2 documents" in preview.stdout and setup.count() == SEED_DOCUMENTS + 2

    setup.start("run", log_name="daemon.log", NEWSINGEST_RETENTION__KEEP="30d", NEWSINGEST_RETENTION__INTERVAL_S="1")
    wait_for(lambda: setup.count() == SEED_DOCUMENTS, 120, "the retention job to delete the two old articles")
    assert not {a.id for a in old} & set(setup.documents())
    wait_for(lambda: "retention_finished" in setup.log("daemon.log"), 30, "the retention job's summary line")
    finished = [json.loads(line) for line in setup.log("daemon.log").splitlines()
                if line.startswith("{") and "retention_finished" in line]
    assert any(event["documents"] == 2 for event in finished), finished


def _aged(make_article: Any, source: str, days: int) -> Article:
    seen = datetime.now(UTC) - timedelta(days=days)
    url = f"https://old.example/{source}/{days}"
    return make_article(id=document_id(url), url=url, canonical_url=url, cluster_id=document_id(url), source=source,
                        first_seen_at=seen, fetched_at=seen, updated_at=seen)


def _index(setup: Installation, request: pytest.FixtureRequest, articles: list[Article]) -> None:
    if setup.distributed:
        from workers.index.elastic import ElasticIndex

        index: Any = ElasticIndex(request.getfixturevalue("es_client"), setup.env["NEWSINGEST_INDEX_ALIAS"])
        index.bulk_index(articles)
        index.refresh()
        return
    from workers.index.sqlite import SqliteIndex, open_database

    db = open_database(Path(setup.env["NEWSINGEST_DATA_DIR"]) / "newsingest.sqlite3")
    try:
        SqliteIndex(db).bulk_index(articles)
    finally:
        db.close()
