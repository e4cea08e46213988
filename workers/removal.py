"""Remove documents for good: what `newsingest delete` and retention share.

For each page of matching documents: record tombstones (delete only), forget their dedupe state
(exact-text claims pass to a remaining copy with the same text, near-duplicate records go), promote a
new lead for every story whose lead goes (the earliest remaining copy by first_seen_at), forget their
raw-archive pages, and delete them from the index, last: a removal that fails part way finds the same
documents again when run again, and every step is idempotent. Never decides which documents go
(DocumentSelection says) and never reads settings.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from ingest.logs import get_logger
from workers.ports import (
    ClusterChange,
    DocumentRef,
    DocumentSelection,
    RemovableIndex,
    StoryForgetting,
    StoryRemoval,
    Tombstone,
)

log = get_logger(__name__)

T = TypeVar("T")
# Runs one step where the stores may be used: at once (the CLI), or on the thread that owns the SQLite
# file (the standalone daemon), so ingestion goes on between two pages of a long removal.
Runner = Callable[[Callable[[], T]], T]
PAGE_SIZE = 500
SAMPLE_SIZE = 5


class ArchiveForgetting(Protocol):
    def forget(self, doc_ids: Sequence[str]) -> int:
        """Remove these documents' archived pages (workers.raw_archive.RawArchive); returns how many."""


@dataclass(frozen=True)
class RemovalStores:
    index: RemovableIndex
    story: StoryForgetting
    archive: ArchiveForgetting | None = None


@dataclass
class RemovalReport:
    """What a removal did (or, dry, would do)."""

    matched: int = 0  # documents the selection found
    documents: int = 0  # deleted from the index
    promoted: int = 0  # copies promoted to lead a story whose lead went
    moved: int = 0  # other copies moved to a promoted lead (or to their lead, when their original went)
    state_forgotten: int = 0  # dedupe claims and near-duplicate records dropped or passed on
    archive_pages: int = 0
    tombstones: int = 0
    per_source: Counter[str] = field(default_factory=Counter)
    sample: list[DocumentRef] = field(default_factory=list)  # the first few matched, for the operator
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def add(self, other: RemovalReport) -> None:
        for name in ("matched", "documents", "promoted", "moved", "state_forgotten", "archive_pages", "tombstones"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.per_source.update(other.per_source)
        self.sample += other.sample[: SAMPLE_SIZE - len(self.sample)]
        self.cpu_s += other.cpu_s
        self.wall_s += other.wall_s


@dataclass(frozen=True)
class RemovalPlan:
    changes: tuple[ClusterChange, ...]
    story: StoryRemoval
    promoted: int


def run_here(step: Callable[[], T]) -> T:
    return step()


def remove(
    selection: DocumentSelection,
    stores: RemovalStores,
    *,
    tombstone_reason: str | None = None,
    dry_run: bool = False,
    run: Runner[object] = run_here,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> RemovalReport:
    """Remove every document the selection matches; with `tombstone_reason`, each is tombstoned first so a
    later fetch never brings it back. Dry, only counts (and samples) what would go."""
    report = RemovalReport()
    if selection.empty:
        return report
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    moment = now or datetime.now(UTC)
    pages: Iterator[list[DocumentRef]] = stores.index.select_pages(selection, page_size)
    while True:
        page = run(lambda: next(pages, None))
        if page is None:
            break
        assert isinstance(page, list)
        report.matched += len(page)
        report.per_source.update(ref.source for ref in page)
        report.sample += page[: SAMPLE_SIZE - len(report.sample)]
        if not dry_run:
            run(lambda: _remove_page(page, selection, stores, report, tombstone_reason, moment))
    report.wall_s = time.perf_counter() - started_wall
    report.cpu_s = time.process_time() - started_cpu
    return report


def _remove_page(
    page: list[DocumentRef],
    selection: DocumentSelection,
    stores: RemovalStores,
    report: RemovalReport,
    tombstone_reason: str | None,
    now: datetime,
) -> None:
    index = stores.index
    # As they are now: an earlier page may have promoted one of them, or something deleted it.
    doomed = index.references([ref.id for ref in page])
    if not doomed:
        return
    ids = [ref.id for ref in doomed]
    members = index.story_members({ref.cluster_id for ref in doomed})
    plan = plan_removal(doomed, members, selection.matches)
    if tombstone_reason is not None:
        index.add_tombstones([Tombstone(ref.id, ref.url, now, tombstone_reason) for ref in doomed])
        report.tombstones += len(doomed)
    report.state_forgotten += stores.story.forget(plan.story)
    if plan.changes:
        index.set_clusters(plan.changes)
        report.promoted += plan.promoted
        report.moved += len(plan.changes) - plan.promoted
    if stores.archive is not None:
        report.archive_pages += stores.archive.forget(ids)
    report.documents += index.delete(ids)
    index.refresh()  # the next page's story look-ups must see these moves and deletes


def plan_removal(
    doomed: Sequence[DocumentRef], members: Sequence[DocumentRef], also_doomed: Callable[[DocumentRef], bool]
) -> RemovalPlan:
    """How the stories of `doomed` look without them (pure).

    A story whose lead goes is led by its earliest remaining copy (first_seen_at, then id), preferring
    one `also_doomed` does not match (it would go in a later page); the other remaining copies copy the
    new lead. In a story whose lead stays, a copy of a removed copy copies the lead instead. An exact-text
    claim of a removed document passes to the earliest remaining copy with the same text.
    """
    gone = {ref.id for ref in doomed}
    stories: dict[str, list[DocumentRef]] = {}
    for ref in {m.id: m for m in [*members, *doomed]}.values():
        stories.setdefault(ref.cluster_id, []).append(ref)
    changes: list[ClusterChange] = []
    promoted = 0
    for cluster, refs in stories.items():
        remaining = sorted((r for r in refs if r.id not in gone), key=_age)
        if not remaining:
            continue
        if any(r.id == cluster for r in remaining):  # the lead stays
            changes += [ClusterChange(r.id, cluster, cluster) for r in remaining if r.duplicate_of in gone]
            continue
        lead = next((r for r in remaining if not also_doomed(r)), remaining[0])
        promoted += 1
        changes.append(ClusterChange(lead.id, lead.id, None))
        changes += [ClusterChange(r.id, lead.id, lead.id) for r in remaining if r is not lead]
    claims = []
    for ref in doomed:
        its_story = stories.get(ref.cluster_id, [])
        same_text = sorted((r for r in its_story if r.id not in gone and r.content_hash == ref.content_hash), key=_age)
        holder = next((r for r in same_text if not also_doomed(r)), same_text[0] if same_text else None)
        claims.append((ref.content_hash, ref.id, holder.id if holder else None))
    story = StoryRemoval(
        forgotten=tuple(sorted(gone)),
        claims=tuple(claims),
        clusters=tuple((c.doc_id, c.cluster_id) for c in changes),
    )
    return RemovalPlan(tuple(changes), story, promoted)


def _age(ref: DocumentRef) -> tuple[datetime, str]:
    return ref.first_seen_at, ref.id
