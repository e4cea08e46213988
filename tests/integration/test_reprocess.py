"""The raw archive and `newsingest reprocess` end to end, in both modes, through the real CLI.

A site prints its own audio promotion inside two stories. Once ingested, the operator names that line in
the source's `noise_lines` and reprocesses the archive: the documents come out cleaned, under the same
ids, with `first_seen_at` kept and `version` bumped, and every sentence of the stories still there. A
second run changes nothing, and an interrupted run carries on from its checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.reprocess import CHECKPOINT_FILE, Checkpoint, Criteria, Tally
from tests.installation import Installation, base_env
from tests.origin import FIXTURES, Origin, running_site

pytestmark = pytest.mark.integration

SITE = FIXTURES / "sites" / "tidewater-post"
PROMO = "Tidewater Post Audio Edition"
STORY_SENTENCE = "The council has promised a full survey of the bridge in the spring"
FIELDS = ("id", "url", "text", "version", "first_seen_at")


@pytest.fixture(scope="module")
def site() -> Iterator[Origin]:
    with running_site(SITE) as origin:
        yield origin


def _write_sources(path: Path, site: Origin, noise_lines: tuple[str, ...] = ()) -> Path:
    lines = [
        "sources:",
        "  - name: tidewater",
        f"    url: {site.base}/feed.xml",
        f"    allow_hosts: [\"{site.host}\"]",
    ]
    if noise_lines:
        lines.append(f"    noise_lines: {json.dumps(list(noise_lines))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(params=["standalone", "distributed"])
def installation(request: pytest.FixtureRequest, site: Origin, tmp_path: Path) -> Iterator[Installation]:
    sources = _write_sources(tmp_path / "sources.yaml", site)
    setup = Installation(base_env(tmp_path) | {"NEWSINGEST_SOURCES": str(sources)}, tmp_path, sources)
    if request.param == "distributed":
        setup.distribute(request.getfixturevalue("redis_url"), request.getfixturevalue("elasticsearch_url"),
                         request.getfixturevalue("es_alias"), request.getfixturevalue("redis_prefix"))
        setup.start("worker", "--concurrency", "2", log_name="worker.log")
    yield setup
    setup.stop_all()


def _ingest(setup: Installation) -> dict[str, dict[str, Any]]:
    result = setup.cli("run", "--once", timeout_s=300)
    assert result.returncode == 0, result.stderr[-3000:]
    documents = setup.documents(FIELDS)
    assert len(documents) == 3, sorted(doc["url"] for doc in documents.values())
    return documents


def _reprocess(setup: Installation, *args: str) -> str:
    result = setup.cli("reprocess", *args, timeout_s=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_reprocess_cleans_archived_pages_with_todays_filter(installation: Installation, site: Origin) -> None:
    setup = installation
    before = _ingest(setup)
    promoted = {doc_id for doc_id, doc in before.items() if PROMO in doc["text"]}
    assert len(promoted) == 2  # the built-in filter does not know the site's own line

    usage = setup.cli("archive", "--json")
    assert usage.returncode == 0, usage.stderr
    figures = json.loads(usage.stdout)
    assert figures["documents"] == 3 and figures["bodies"] == 3
    assert 0 < figures["stored_bytes"] < figures["raw_bytes"]

    _write_sources(setup.sources_file, site, noise_lines=(PROMO,))
    summary = _reprocess(setup)
    assert "reprocessed 3 documents" in summary and "2 changed" in summary and "1 unchanged" in summary

    after = setup.documents(FIELDS)
    assert set(after) == set(before)  # same ids: updated in place
    for doc_id, doc in after.items():
        old = before[doc_id]
        assert PROMO not in doc["text"]
        assert doc["first_seen_at"] == old["first_seen_at"]
        assert doc["version"] == (old["version"] + 1 if doc_id in promoted else old["version"])
        # Every sentence of the story is still there: only the promotion line went.
        assert [line for line in old["text"].split("\n\n") if line != PROMO] == doc["text"].split("\n\n")
    assert any(STORY_SENTENCE in doc["text"] for doc in after.values())

    again = _reprocess(setup)
    assert "0 changed" in again and "3 unchanged" in again
    assert {doc_id: doc["version"] for doc_id, doc in setup.documents(FIELDS).items()} == \
        {doc_id: doc["version"] for doc_id, doc in after.items()}


def test_an_interrupted_reprocess_goes_on_from_its_checkpoint(installation: Installation, site: Origin) -> None:
    setup = installation
    before = _ingest(setup)
    _write_sources(setup.sources_file, site, noise_lines=(PROMO,))
    # What a run stopped after its first batch leaves behind (batches go in id order).
    first, *rest = sorted(before)
    checkpoint = Checkpoint(Criteria(source="tidewater").describe(), after=first, tally=Tally(done=1, unchanged=1))
    checkpoint.save(Path(setup.env["NEWSINGEST_DATA_DIR"]) / CHECKPOINT_FILE)

    refused = setup.cli("reprocess")  # other criteria than the unfinished run's
    assert refused.returncode == 2 and "--restart" in refused.stderr

    resumed = setup.cli("reprocess", "--source", "tidewater", timeout_s=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stderr and "2 to go" in resumed.stderr
    assert "reprocessed 3 documents" in resumed.stdout  # the whole run's tally, the first batch included
    after = setup.documents(FIELDS)
    # Done before the interruption: not again (it keeps the promotion line if it had one).
    assert (after[first]["text"], after[first]["version"]) == (before[first]["text"], before[first]["version"])
    assert all(PROMO not in after[doc_id]["text"] for doc_id in rest)
    assert not (Path(setup.env["NEWSINGEST_DATA_DIR"]) / CHECKPOINT_FILE).exists()


def test_where_selects_documents_by_their_fields(installation: Installation, site: Origin) -> None:
    setup = installation
    before = _ingest(setup)
    _write_sources(setup.sources_file, site, noise_lines=(PROMO,))
    target = next(doc for doc in before.values() if PROMO in doc["text"])
    summary = _reprocess(setup, "--where", f"url={target['url']}")
    assert "1 changed" in summary and "2 skipped" in summary
    after = setup.documents(FIELDS)
    assert [doc_id for doc_id, doc in after.items() if doc["version"] == 2] == [target["id"]]

    typo = setup.cli("reprocess", "--where", "langauge=en")
    assert typo.returncode == 2 and "no document field 'langauge'" in typo.stderr and "language" in typo.stderr
