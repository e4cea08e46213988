"""`newsingest index migrate`: move an alias to a new index built with the current mapping, losing no writes.

The server core has no _reindex, so documents are copied with a point in time + search_after and bulk
requests. Writers keep writing through the alias the whole time:

1. create `{alias}-v{MAPPING_VERSION}` (the template gives it the current mapping);
2. copy every document of the old index into it (pass 1; writers still write to the old index);
3. swap the alias to the new index in one atomic `_aliases` call (writers now write to the new one);
4. wait for in-flight bulk requests, then copy again (pass 2, the replay): documents written to the old
   index during pass 1 are copied, but a copy never overwrites a newer write (fetched_at, version).

Never deletes the old index unless asked; never runs painless, _reindex or _update_by_query.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from elasticsearch import ApiError, Elasticsearch

from ingest.logs import get_logger
from workers.errors import IndexUnavailable, TransientError
from workers.index.elastic import (
    ElasticIndex,
    RetryPolicy,
    _unavailable_on_errors,
    point_in_time_pages,
)
from workers.index.mapping import MAPPING_VERSION, article_mappings, index_name

log = get_logger(__name__)

PAGE_SIZE = 500
KEEP_ALIVE = "5m"
# In-flight bulk requests resolved the alias before the swap; give them this long to land.
SETTLE_S = 2.0
MAX_ROUNDS = 10
_SHARD_SETTINGS: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}


@dataclass
class CopyReport:
    copied: int = 0
    skipped: int = 0  # the target already held this revision or a newer one
    failed: list[tuple[str, str]] = field(default_factory=list)  # (doc id, reason)


@dataclass(frozen=True)
class MigrationReport:
    alias: str
    old_index: str | None
    new_index: str
    first_pass: CopyReport
    replay: CopyReport
    deleted_old: bool

    @property
    def summary(self) -> str:
        if self.old_index is None:
            return f"{self.alias}: created {self.new_index} (mapping version {MAPPING_VERSION})"
        return (
            f"{self.alias}: {self.old_index} -> {self.new_index}: copied {self.first_pass.copied}, "
            f"replayed {self.replay.copied} written during the copy; "
            + (f"deleted {self.old_index}" if self.deleted_old else f"{self.old_index} kept (delete it when happy)")
        )


class MigrationError(TransientError):
    """The copy failed for some documents; the alias was not moved."""


PageHook = Callable[[int, int], None]  # (pass number 1 or 2, page number from 1): a seam for tests


class CopyProgress(Protocol):
    """Told how many documents of a pass were read (copied or skipped); ingest.progress.Progress fits."""

    def advance(self, count: int = 1) -> None: ...

    def close(self) -> None: ...


# (pass: "copy" or "replay", documents in the old index when the pass begins) -> its progress
ProgressFactory = Callable[[str, int], CopyProgress]


def migrate(
    client: Elasticsearch,
    alias: str,
    *,
    page_size: int = PAGE_SIZE,
    settle_s: float = SETTLE_S,
    delete_old: bool = False,
    after_page: PageHook = lambda _pass, _page: None,
    progress: ProgressFactory | None = None,
) -> MigrationReport | None:
    """Move `alias` onto an index with the current mapping; None when it is already there.

    `progress`, when given, is made once per pass and told after each page how many documents were read.
    """
    index = ElasticIndex(client, alias)
    status = index.status()
    new_index = index_name(alias)
    if status.alias_index is None:
        index.ensure_ready()  # nothing to migrate: a fresh index with the current mapping
        return MigrationReport(alias, None, new_index, CopyReport(), CopyReport(), False)
    old_index = status.alias_index
    if old_index == new_index:
        return None
    log.info("migration_started", alias=alias, old_index=old_index, new_index=new_index)
    with _unavailable_on_errors("create index", new_index):
        index._put_template()
        try:
            client.indices.create(index=new_index, mappings=article_mappings(), settings=_SHARD_SETTINGS)
        except ApiError as exc:
            if exc.message != "resource_already_exists_exception":  # a previous run stopped half-way
                raise
        client.cluster.health(index=new_index, wait_for_status="yellow", timeout="30s")
    first = _copy(client, old_index, new_index, page_size, lambda page: after_page(1, page), _pass(progress, "copy"))
    if first.failed:
        doc_id, reason = first.failed[0]
        raise MigrationError(
            f"{len(first.failed)} documents of {old_index} do not fit the new mapping (first: {doc_id}: "
            f"{reason}); the alias {alias} still points to {old_index}"
        )
    with _unavailable_on_errors("swap alias", alias):
        client.indices.update_aliases(
            actions=[
                {"remove": {"index": old_index, "alias": alias}},
                {"add": {"index": new_index, "alias": alias, "is_write_index": True}},
            ]
        )
    log.info("migration_alias_swapped", alias=alias, old_index=old_index, new_index=new_index)
    time.sleep(settle_s)
    with _unavailable_on_errors("refresh", old_index):
        client.indices.refresh(index=old_index)
    replay = _copy(
        client, old_index, new_index, page_size, lambda page: after_page(2, page), _pass(progress, "replay")
    )
    with _unavailable_on_errors("refresh", new_index):
        client.indices.refresh(index=new_index)
    if delete_old and not replay.failed:
        with _unavailable_on_errors("delete index", old_index):
            client.indices.delete(index=old_index)
    report = MigrationReport(alias, old_index, new_index, first, replay, delete_old and not replay.failed)
    log.info("migration_finished", alias=alias, copied=first.copied, replayed=replay.copied, failed=len(replay.failed))
    return report


def _pass(progress: ProgressFactory | None, name: str) -> Callable[[int], CopyProgress] | None:
    if progress is None:
        return None
    return lambda total: progress(name, total)


def _copy(
    client: Elasticsearch,
    source: str,
    target: str,
    page_size: int,
    after_page: Callable[[int], None],
    progress: Callable[[int], CopyProgress] | None = None,
) -> CopyReport:
    report = CopyReport()
    tracker: CopyProgress | None = None
    if progress is not None:
        # Counted before the point in time opens: what writers add meanwhile grows the total as it is read.
        with _unavailable_on_errors("count", source):
            tracker = progress(int(client.count(index=source)["count"]))
    try:
        for number, page in enumerate(point_in_time_pages(client, source, page_size, keep_alive=KEEP_ALIVE), 1):
            _write_page(client, target, page, report)
            if tracker is not None:
                tracker.advance(len(page))
            after_page(number)
    finally:
        if tracker is not None:
            tracker.close()
    return report


def _revision(source: dict[str, Any]) -> tuple[datetime, int]:
    return datetime.fromisoformat(source["fetched_at"]), int(source.get("version") or 1)


def _write_page(client: Elasticsearch, target: str, hits: list[dict[str, Any]], report: CopyReport) -> None:
    """Copy a page into `target`, conditionally: create, or overwrite only an older revision."""
    pending = {hit["_id"]: hit["_source"] for hit in hits}
    retry = RetryPolicy()
    for attempt in range(MAX_ROUNDS):
        with _unavailable_on_errors("read target", target):
            found = client.mget(index=target, ids=list(pending), source_includes=["fetched_at", "version"])
        operations: list[dict[str, Any]] = []
        for doc in found["docs"]:
            source = pending[doc["_id"]]
            if not doc.get("found"):
                operations += [{"create": {"_id": doc["_id"]}}, source]
            elif _revision(source) > _revision(doc["_source"]):
                guard = {"if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]}
                operations += [{"index": {"_id": doc["_id"], **guard}}, source]
            else:
                report.skipped += 1
                del pending[doc["_id"]]
        if not operations:
            return
        with _unavailable_on_errors("copy page", target):
            response = client.bulk(index=target, operations=operations)
        again: dict[str, dict[str, Any]] = {}
        throttled = False
        for item in response["items"]:
            result = next(iter(item.values()))
            doc_id, status = result["_id"], int(result["status"])
            if status < 300:
                report.copied += 1
            elif status == 409 or status == 429 or status >= 500:
                # 409: a writer got there first; read again and let the newer revision win.
                again[doc_id] = pending[doc_id]
                throttled = throttled or status != 409
            else:
                error = result.get("error", {})
                report.failed.append((doc_id, f"{error.get('type')}: {error.get('reason')}"))
        pending = again
        if not pending:
            return
        if throttled:
            time.sleep(retry.delay_s(attempt))
    raise IndexUnavailable(f"{len(pending)} documents could not be copied into {target} after {MAX_ROUNDS} rounds")
