"""A time limit per article, inside the process that prepares it, and a warm-up for new processes.

A page that holds extraction past the limit raises ArticleTimeout (a PermanentError), so it is
dead-lettered with the reason while the rest of its batch goes on. The limit is a real-time
interval timer (SIGALRM) and so works only in a process's main thread: a prefork Celery child
and a pool process of the standalone handoff both prepare there. Python checks the signal
between bytecodes; a C call that never returns is left to the outer limits (Celery's hard time
limit, the standalone handoff killing its pool). Never touches shared state.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType

from ingest.jobs import ArticleJob, SourceSnapshot
from ingest.logs import get_logger
from workers.batch import prepare_safely
from workers.errors import PermanentError
from workers.pipeline import Draft

log = get_logger(__name__)


class ArticleTimeout(PermanentError):
    """Preparing one page took longer than the per-article limit (`extraction exceeded 30s: <url>`)."""


@contextmanager
def time_limit(limit_s: float, url: str | None) -> Iterator[None]:
    """Raise ArticleTimeout in this (main) thread once limit_s of real time has passed."""
    if limit_s <= 0 or threading.current_thread() is not threading.main_thread():
        yield  # no signals off the main thread: the outer limits still apply
        return

    def expired(_signum: int, _frame: FrameType | None) -> None:
        raise ArticleTimeout(f"extraction exceeded the {limit_s:g}s per-article time limit", url)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def prepare_within(job: ArticleJob, limit_s: float, people_and_orgs: bool = False) -> Draft | Exception:
    """prepare_safely under the per-article limit: a page over it comes back as ArticleTimeout."""
    try:
        with time_limit(limit_s, job.final_url):
            outcome = prepare_safely(job, people_and_orgs)
    except ArticleTimeout as exc:  # fired outside prepare_safely's own handler
        outcome = exc
    if isinstance(outcome, ArticleTimeout):
        log.warning("article_timed_out", url=job.url, limit_s=limit_s)
    return outcome


_WARM_UP_PAGE = (
    "<html><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1>"
    + "<p>The town council met on Tuesday to discuss the new tram line and the budget for next year.</p>"
    + "<p>Residents of the harbour district asked for a second ferry stop before the summer season.</p>"
    + "<p>The mayor said the works would begin in spring, once the regional grant had been approved.</p>"
    + "<p>Shop owners on the market square fear months of detours and fewer customers during the works.</p>"
    + "<p>A public meeting on the timetable will be held at the library on the first Monday of March.</p>"
    + "</article></body></html>"
)


def warm_up(people_and_orgs: bool = False) -> None:
    """Prepare one built-in page, so a new process loads its models before the limit applies to it
    (the first article of a process otherwise pays about a second of lazy loading)."""
    job = ArticleJob(
        url="https://warm-up.example/story",
        final_url="https://warm-up.example/story",
        fetched_at=datetime.now(UTC),
        status=200,
        html=_WARM_UP_PAGE,
        source=SourceSnapshot(name="warm-up", kind="rss", url="https://warm-up.example/feed"),
    )
    outcome = prepare_safely(job, people_and_orgs)
    if isinstance(outcome, Exception):  # the page is ours: a failure here means a stage is broken
        log.warning("warm_up_failed", error_type=type(outcome).__name__, error=str(outcome))
