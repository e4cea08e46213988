"""The daemon's Prometheus series, each defined once here; call sites record with one line.

Labels are bounded: a source's name (from the sources file), never a URL. The series live in
prometheus-client's default registry, which `/metrics` on the daemon serves (ingest/ops_http.py);
in standalone mode the processing series (workers/metrics.py) land in the same registry, because
the store step runs in the daemon's process. Never does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prometheus_client import Counter, Gauge, Histogram

from ingest.errors import BadStatus, IngestError
from ingest.jobs import ArticleJob
from ingest.state import FeedRecord, FeedState

_LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
_LAG_BUCKETS_S = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

POLLS = Counter("newsingest_polls", "Polls of a source, by outcome (ok or failed)", ["source", "outcome"])
FETCH_RESPONSES = Counter(
    "newsingest_fetch_responses",
    "Responses by HTTP status (feed: the source's feed or listing; page: an article page); 'error' when none came",
    ["source", "kind", "status"],
)
FETCHED_BYTES = Counter("newsingest_fetched_bytes", "Article page bytes received (decoded text)", ["source"])
# By kind only: a histogram per source is a dozen series each, ~100 MB of daemon memory and a
# scrape of megabytes at 10,000 sources (bench/fetch_throughput.py). Per-source counters stay.
FETCH_SECONDS = Histogram(
    "newsingest_fetch_duration_seconds",
    "Time to poll a feed or fetch one article page, politeness waits excluded",
    ["kind"],
    buckets=_LATENCY_BUCKETS_S,
)
ENTRIES_FOUND = Counter("newsingest_entries_found", "New feed entries found (not seen before)", ["source"])
HANDED_OFF = Counter("newsingest_articles_handed_off", "Article jobs handed to the workers", ["source"])
BATCHES_HANDED_OFF = Counter("newsingest_batches_handed_off", "Batches of article jobs handed to the workers")
QUEUE_DEPTH = Gauge("newsingest_queue_depth", "Batches waiting for a worker (Redis queue, or the local pool)")
BACKPRESSURE_PAUSED = Gauge("newsingest_backpressure_paused", "1 while new polls wait for the queue to drain")
STATE_FLUSH_FAILURES = Counter("newsingest_state_flush_failures", "Failed writes of feed state (kept for a retry)")
SCHEDULE_LAG = Histogram(
    "newsingest_schedule_lag_seconds",
    "How late a poll started after its source was due (host pacing and backpressure included)",
    buckets=_LAG_BUCKETS_S,
)
LEASES_HELD = Gauge("newsingest_source_leases_held", "Sources this daemon holds the lease of (distributed mode)")


def record_poll(source: str, ok: bool, status: int | None, entries_new: int, duration_s: float) -> None:
    POLLS.labels(source, "ok" if ok else "failed").inc()
    FETCH_RESPONSES.labels(source, "feed", str(status) if status is not None else "error").inc()
    FETCH_SECONDS.labels("feed").observe(duration_s)
    if entries_new:
        ENTRIES_FOUND.labels(source).inc(entries_new)


def record_page(source: str, outcome: ArticleJob | IngestError, duration_s: float) -> None:
    if isinstance(outcome, ArticleJob):
        status = str(outcome.status)
        FETCHED_BYTES.labels(source).inc(len(outcome.html.encode("utf-8", "replace")))
    else:
        status = str(outcome.status) if isinstance(outcome, BadStatus) else "error"
    FETCH_RESPONSES.labels(source, "page", status).inc()
    FETCH_SECONDS.labels("page").observe(duration_s)


def record_handoff(source: str, jobs: int) -> None:
    HANDED_OFF.labels(source).inc(jobs)
    BATCHES_HANDED_OFF.inc()


class FlushCountingState:
    """A FeedState that counts its failed writes (the write-behind flusher retries them)."""

    def __init__(self, store: FeedState) -> None:
        self._store = store

    async def load(self, source: str) -> FeedRecord:
        return await self._store.load(source)

    async def load_many(self, sources: Sequence[str]) -> dict[str, FeedRecord]:
        return await self._store.load_many(sources)

    async def save(self, source: str, record: FeedRecord) -> None:
        with STATE_FLUSH_FAILURES.count_exceptions():
            await self._store.save(source, record)

    async def save_many(self, records: dict[str, FeedRecord]) -> None:
        with STATE_FLUSH_FAILURES.count_exceptions():
            await self._store.save_many(records)

    async def unseen(self, source: str, keys: Sequence[str]) -> list[str]:
        return await self._store.unseen(source, keys)

    async def mark_seen(self, source: str, keys: Sequence[str]) -> None:
        with STATE_FLUSH_FAILURES.count_exceptions():
            await self._store.mark_seen(source, keys)

    async def mark_seen_many(self, batch: Mapping[str, Sequence[str]]) -> None:
        with STATE_FLUSH_FAILURES.count_exceptions():
            await self._store.mark_seen_many(batch)

    async def page_failed(self, source: str, keys: Sequence[str]) -> dict[str, int]:
        return await self._store.page_failed(source, keys)

    async def close(self) -> None:
        await self._store.close()
