"""The layout-change fixture sites as article jobs, and a way to run them through the real pipeline in batches.

Shared by the SQLite (tests/unit) and Redis (tests/integration) tests of extraction health.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.jobs import ArticleJob, SourceSnapshot
from ingest.settings import HealthSettings
from workers.batch import prepare_safely, store_prepared
from workers.ports import DeadLetterStore, ExtractionHealthStore, IndexBackend, StoryState

SITES = Path(__file__).resolve().parent / "fixtures" / "sites"
CHANGING = SITES / "template-change"  # articles 1-12 in template A, 13-24 in template B
STABLE = SITES / "template-stable"  # the same 24 stories, all in template A
CHANGING_SOURCE, CHANGING_DOMAIN = "marrowlake-courier", "marrowlake-courier.example"
STABLE_SOURCE, STABLE_DOMAIN = "lakeshore-weekly", "lakeshore-weekly.example"
TEMPLATE_B_SELECTOR = "div.story-widget"
# Windows small enough for 24 articles: 8 recent pages judged against at least 8 before them; with so few
# pages, a recent figure need only be a 1-in-1,000 chance (the default asks 1 in a million of 20 pages).
SMALL_WINDOWS = HealthSettings(recent_pages=8, history_pages=200, min_history_pages=8, drift_max_chance=1e-3)
FETCHED = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def site_jobs(
    folder: Path, source: str, domain: str, *, first: int = 1, last: int = 24, body_selector: str | None = None
) -> list[ArticleJob]:
    """Jobs for articles first..last of a fixture site, as ingest would send them (feed order, oldest first)."""
    pages = sorted((folder / "articles").glob("*.html"))[first - 1 : last]
    snapshot = SourceSnapshot(
        name=source, kind="rss", url=f"https://{domain}/feed.xml", language="en", body_selector=body_selector
    )
    return [
        ArticleJob(
            url=f"https://{domain}/news/{page.stem[3:]}",
            final_url=f"https://{domain}/news/{page.stem[3:]}",
            fetched_at=FETCHED + timedelta(minutes=n),
            status=200,
            headers={"content_type": "text/html; charset=utf-8"},
            html=page.read_text(encoding="utf-8"),
            source=snapshot,
        )
        for n, page in enumerate(pages)
    ]


def run_through_pipeline(
    jobs: Sequence[ArticleJob],
    dedupe: StoryState,
    index: IndexBackend,
    dead_letters: DeadLetterStore,
    health: ExtractionHealthStore,
    batch_size: int = 4,
) -> None:
    """prepare and store the jobs in batches of `batch_size`, in order, as a worker would."""
    for start in range(0, len(jobs), batch_size):
        batch = jobs[start : start + batch_size]
        prepared = [(job, prepare_safely(job)) for job in batch]
        store_prepared(prepared, dedupe, index, dead_letters, now=FETCHED + timedelta(hours=start), health=health)
