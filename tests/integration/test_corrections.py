"""Corrections: the running daemon fetches each article again at the configured ages; a publisher's edit
becomes a new version of the same document, an unchanged page stays as it was, and an article leaves the
re-check queue after its last age.

The origin is a real aiohttp server whose footbridge story is corrected after its first delivery, as a
newsroom would: a figure changes and a correction line is added. The correction is published only once the
test has seen the first version indexed: the re-check clock starts at hand-off, and a slow first batch (models
loading) must not let a re-check overtake it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ingest.corrections import RECHECKS_FILE
from tests.installation import Installation, base_env, wait_for
from tests.origin import FIXTURES, Origin

pytestmark = pytest.mark.integration

SITE = FIXTURES / "sites" / "tidewater-post"
EDITED = "news/footbridge-reopens.html"
BEFORE = "a little under forty thousand pounds"
AFTER = "a little under forty-two thousand pounds"
CORRECTION = "This article was corrected on 2 December 2026 to give the full cost of the repairs."
FIELDS = ("url", "text", "version", "first_seen_at", "updated_at")
HITS = web.AppKey("hits", dict[str, int])
NOT_MODIFIED = web.AppKey("not_modified", list[str])
# Served without validators: its re-checks are told unchanged by the text's hash, the others by a 304.
NO_ETAG = "news/lifeboat-gull-point.html"
PUBLISHED = web.AppKey("published", threading.Event)


def _corrected(page: str) -> str:
    return page.replace(BEFORE, AFTER).replace("</article>", f"<p><em>{CORRECTION}</em></p>\n</article>")


def _app() -> web.Application:
    """The fixture site; the edited story is served as first written until the correction is published."""
    app = web.Application()
    hits: dict[str, int] = {}
    not_modified: list[str] = []
    published = threading.Event()
    app[HITS] = hits
    app[NOT_MODIFIED] = not_modified
    app[PUBLISHED] = published

    async def serve(request: web.Request) -> web.Response:
        path = request.path.lstrip("/")
        file = SITE / path
        if ".." in path.split("/") or not file.is_file():
            raise web.HTTPNotFound()
        hits[path] = hits.get(path, 0) + 1
        body = file.read_text(encoding="utf-8")
        if path == EDITED and published.is_set():
            body = _corrected(body)
        kind = "application/rss+xml" if path.endswith(".xml") else "text/html"
        if not path.startswith("news/") or path == NO_ETAG:
            return web.Response(text=body, content_type=kind)
        etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            not_modified.append(path)
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=body, content_type=kind, headers={"ETag": etag})

    app.router.add_get("/{tail:.*}", serve)
    return app


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin(_app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def installation(origin: Origin, tmp_path: Path) -> Iterator[Installation]:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: tidewater\n    url: {origin.base}/feed.xml\n    allow_hosts: [\"{origin.host}\"]\n",
        encoding="utf-8",
    )
    env = base_env(tmp_path) | {
        "NEWSINGEST_SOURCES": str(sources),
        # Two re-checks, seconds apart instead of an hour and a day; far enough apart that the test
        # publishes the correction before the second one whatever the first batch costs.
        "NEWSINGEST_CORRECTIONS__RECHECK_AFTER_S": "[4, 16]",
        "NEWSINGEST_CORRECTIONS__CHECK_S": "0.5",
    }
    setup = Installation(env, tmp_path, sources)
    yield setup
    setup.stop_all()


def _pending(setup: Installation) -> int:
    path = Path(setup.env["NEWSINGEST_DATA_DIR"]) / RECHECKS_FILE
    if not path.exists():
        return -1
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM rechecks").fetchone()[0])


def test_an_edited_article_becomes_a_new_version_of_the_same_document(
    installation: Installation, origin: Origin
) -> None:
    setup = installation
    daemon = setup.start("run", log_name="daemon.log")
    wait_for(lambda: _count(setup) == 3 or daemon.poll() is not None, 120, "three articles indexed")
    assert daemon.poll() is None, setup.log("daemon.log")[-3000:]
    first = setup.documents(FIELDS)
    edited_id = next(doc_id for doc_id, doc in first.items() if doc["url"].endswith(EDITED))
    assert BEFORE in first[edited_id]["text"] and first[edited_id]["version"] == 1
    origin.app[PUBLISHED].set()

    def corrected() -> bool:
        return AFTER in setup.documents(FIELDS)[edited_id]["text"] or daemon.poll() is not None

    wait_for(corrected, 120, "the correction indexed")
    # The last age passes: every page was fetched three times, and the queue is empty.
    hits = origin.app[HITS]
    wait_for(lambda: _pending(setup) == 0 and all(hits.get(f"news/{p.name}", 0) >= 3 for p in (SITE / "news").iterdir())
             or daemon.poll() is not None, 120, "the last re-checks")
    assert daemon.poll() is None, setup.log("daemon.log")[-3000:]
    wait_for(lambda: _ended(setup), 60, "every job ended")

    after = setup.documents(FIELDS)
    assert set(after) == set(first)
    doc, before = after[edited_id], first[edited_id]
    assert AFTER in doc["text"] and CORRECTION in doc["text"] and BEFORE not in doc["text"]
    assert doc["version"] == 2  # the second re-check saw the same correction: no third version
    assert doc["first_seen_at"] == before["first_seen_at"] and doc["updated_at"] > before["updated_at"]
    for doc_id in set(first) - {edited_id}:  # fetched again, unchanged: the same revision
        assert after[doc_id] == first[doc_id]
    events = [json.loads(line) for line in setup.log("daemon.log").splitlines() if line.startswith("{")]
    rechecked = [e for e in events if e.get("event") == "articles_rechecked"]
    assert sum(e["fetched"] for e in rechecked) == 6 and all(e["failed"] == 0 for e in rechecked)
    # Only the correction reached the workers. Unchanged pages ended in the daemon: by a 304 where the
    # page has an ETag (twice the oyster story, once the footbridge story after its correction), by the
    # text's hash where it has none (twice the lifeboat story).
    assert sum(e["changed"] for e in rechecked) == 1 and sum(e["unchanged"] for e in rechecked) == 5
    assert sorted(origin.app[NOT_MODIFIED]) == [EDITED, "news/oyster-beds-closed.html", "news/oyster-beds-closed.html"]


def _count(setup: Installation) -> int:
    try:
        return setup.count()
    except sqlite3.OperationalError:  # the daemon has not made its index yet
        return 0


def _ended(setup: Installation) -> bool:
    code, figures = setup.audit()
    totals: dict[str, Any] = figures.get("total", figures)
    return code == 0 and not totals.get("pending") and not totals.get("missing")
