"""Retention: delete the documents first seen longer ago than their source keeps them.

Why point in time + bulk deletes, not time-based indices dropped whole. Dropping a concrete index
behind the alias is the cheapest delete Elasticsearch has, but here it does not fit:

* the alias points at one versioned index per mapping version (`{alias}-v{N}`, workers/index/migrate.py
  moves it), and writes are upserts by document id (a re-crawl updates the document where it lives), so
  a document's index could not follow its first-seen month without turning every re-crawl into a
  search across indices and a delete-and-move;
* a per-source `keep` cuts through any time slice: one month's index holds sources kept 30 days and
  sources kept for ever, so it could only be dropped when every source agreed;
* a deleted document must also leave the dedupe state, the raw archive and its story (a new lead), which
  needs its id and cluster anyway, so the documents are read either way;
* the server core has no ILM or data streams to roll the indices over.

So the job reads the expired documents of each source through a point in time (search_after), a page
at a time, and removes each page with workers.removal, as `newsingest delete` does but without
tombstones: an expired article that a feed still lists may come back, as a new first sighting.
SQLite: the same, each page in its own short transaction (keyset on the row id).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from ingest.logs import get_logger
from workers.ports import DocumentSelection
from workers.removal import PAGE_SIZE, RemovalReport, RemovalStores, Runner, run_here, remove

log = get_logger(__name__)

FOREVER = 0  # as ingest.keep.FOREVER


def retention_selections(
    global_keep_s: int, source_keeps: Mapping[str, int | None], now: datetime
) -> list[DocumentSelection]:
    """What is expired at `now`: per source with a keep of its own, then every other source (configured or
    not) under the global keep. A keep of FOREVER selects nothing."""
    own = {name: keep for name, keep in source_keeps.items() if keep is not None}
    selections = [
        DocumentSelection(source=name, first_seen_before=now - timedelta(seconds=keep))
        for name, keep in sorted(own.items())
        if keep != FOREVER
    ]
    if global_keep_s != FOREVER:
        selections.append(
            DocumentSelection(first_seen_before=now - timedelta(seconds=global_keep_s), except_sources=tuple(sorted(own)))
        )
    return selections


def expire(
    selections: list[DocumentSelection],
    stores: RemovalStores,
    *,
    dry_run: bool = False,
    run: Runner[object] = run_here,
    page_size: int = PAGE_SIZE,
) -> RemovalReport:
    """Remove (or, dry, count) everything the selections match; one report for them all."""
    total = RemovalReport()
    for selection in selections:
        total.add(remove(selection, stores, dry_run=dry_run, run=run, page_size=page_size))
    return total
