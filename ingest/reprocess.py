"""`newsingest reprocess`: today's extraction, cleaning, dedupe and enrichment over archived pages.

Each selected document's newest archived page becomes its job again and goes through the same
prepare/store code as a fresh fetch, so the index adapters' revision rule applies unchanged: same id,
`first_seen_at` kept, `version` bumped only when the text or title changed. Documents are taken in id
order and a checkpoint file records the last one done after every batch: an interrupted run (Ctrl-C,
an outage) carries on where it stopped when the same command is run again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.errors import IngestError
from ingest.jobs import ArticleJob, SourceSnapshot
from ingest.logs import get_logger
from ingest.redact import MASK
from workers.batch import store_prepared
from workers.documents import Article
from workers.pipeline import Draft
from workers.ports import DeadLetterStore, IndexBackend, StoryState
from workers.raw_archive import RawArchive, Selection

log = get_logger(__name__)

CHECKPOINT_FILE = "reprocess-checkpoint.json"
WHERE_FIELDS = tuple(sorted(name for name in Article.model_fields if name not in ("text", "summary")))

Prepare = Callable[[ArticleJob], Draft | Exception]


class ReprocessError(IngestError):
    """A reprocess that cannot start, with what to do about it."""


@dataclass(frozen=True)
class Criteria:
    """What the person asked for: the archive's selection plus FIELD=VALUE tests on the current document."""

    source: str | None = None
    since: datetime | None = None
    where: tuple[tuple[str, str], ...] = ()

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "since": self.since.isoformat() if self.since else None,
                "where": [list(pair) for pair in self.where]}

    def matches(self, document: Article) -> bool:
        return all(_field_matches(getattr(document, name), value) for name, value in self.where)


@dataclass
class Tally:
    """How the run went so far (kept in the checkpoint, so a resumed run reports the whole)."""

    done: int = 0
    changed: int = 0  # a new version: the text or title came out different
    unchanged: int = 0
    failed: int = 0  # the page is no longer taken as an article (dead letter); its document stays as it was
    skipped: int = 0  # not matching --where, no longer in the index, or its page missing from the archive
    moved: int = 0  # the page now yields another canonical URL, so another document id


@dataclass
class Checkpoint:
    criteria: dict[str, Any]
    after: str = ""  # the last document id done
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    tally: Tally = field(default_factory=Tally)

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["criteria"], data["after"], data["started_at"], Tally(**data["tally"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise ReprocessError(f"{path} is not a reprocess checkpoint ({exc}): delete it or pass --restart") from None

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        os.replace(temporary, path)


def parse_where(pairs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """`FIELD=VALUE` options, each naming a document field; a typo gets the list of fields."""
    parsed = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ReprocessError(f"--where {pair!r}: expected FIELD=VALUE, e.g. --where language=de")
        if name not in WHERE_FIELDS:
            raise ReprocessError(f"--where {pair!r}: no document field {name!r}; fields: {', '.join(WHERE_FIELDS)}")
        parsed.append((name, value))
    return tuple(parsed)


def start(path: Path, criteria: Criteria, restart: bool) -> Checkpoint:
    """The checkpoint to go on from: a new one, or the unfinished run of the same criteria."""
    found = Checkpoint.load(path)
    if found is None or restart:
        return Checkpoint(criteria.describe())
    if found.criteria != criteria.describe():
        raise ReprocessError(
            f"an unfinished reprocess of {json.dumps(found.criteria)} is recorded in {path}: run it again to "
            "finish it, or pass --restart to start this one instead"
        )
    return found


def batches(archive: RawArchive, criteria: Criteria, after: str, size: int) -> Iterator[list[str]]:
    selection = Selection(criteria.source, criteria.since)
    while ids := archive.select(selection, after=after, limit=size):
        yield ids
        after = ids[-1]


def reprocess_batch(
    ids: list[str],
    *,
    archive: RawArchive,
    criteria: Criteria,
    sources: Mapping[str, SourceSnapshot],
    prepare: Callable[[list[ArticleJob]], list[Draft | Exception]],
    index: IndexBackend,
    story: StoryState,
    dead_letters: DeadLetterStore,
    tally: Tally,
) -> None:
    """One batch: rebuild the jobs, prepare them (possibly in a pool), store them as one bulk write.
    A source still in the sources file lends the jobs its settings of today (a fixed body selector or
    new noise lines apply); a source removed since keeps those it had when the page was fetched."""
    archived = _readable_jobs(archive, ids)
    current = {doc_id: index.get(doc_id) for doc_id in archived}
    chosen = [
        (doc_id, _replayable(job, sources, doc))
        for doc_id, job in archived.items()
        if (doc := current[doc_id]) is not None and criteria.matches(doc)
    ]
    tally.skipped += len(ids) - len(chosen)
    drafts = prepare([job for _, job in chosen])
    prepared: list[tuple[ArticleJob, Draft | BaseException]] = []
    for (doc_id, job), draft in zip(chosen, drafts, strict=True):
        prepared.append((job, draft))
        before = current[doc_id]
        if isinstance(draft, BaseException) or before is None:
            tally.failed += 1
        elif draft.doc_id != doc_id:
            tally.moved += 1
        elif draft.content_hash != before.content_hash or draft.fields["title"] != before.title:
            tally.changed += 1
        else:
            tally.unchanged += 1
    if prepared:
        store_prepared(prepared, story, index, dead_letters)
    tally.done += len(ids)


def _replayable(job: ArticleJob, sources: Mapping[str, SourceSnapshot], document: Article) -> ArticleJob:
    """The archived job with its source's settings of today, and with the document's own URL where the
    archive masked credentials in it (a masked URL would make another document id)."""
    update: dict[str, Any] = {}
    if (current := sources.get(job.source.name)) is not None:
        update["source"] = current
    if MASK in job.url or MASK in job.final_url:
        update.update(url=document.url, final_url=document.url)
        if job.entry is not None:
            update["entry"] = job.entry.model_copy(update={"link": document.url})
    return job.model_copy(update=update) if update else job


def _readable_jobs(archive: RawArchive, ids: list[str]) -> dict[str, ArticleJob]:
    """The batch's jobs; a body file gone missing (deleted by hand, a disk error) skips its document only."""
    try:
        return archive.latest(ids)
    except (FileNotFoundError, ValueError):
        jobs: dict[str, ArticleJob] = {}
        for doc_id in ids:
            try:
                jobs.update(archive.latest([doc_id]))
            except (FileNotFoundError, ValueError) as exc:
                log.warning("archived_page_unreadable", doc_id=doc_id, error_type=type(exc).__name__, error=str(exc))
        return jobs


def pooled(pool: Executor, prepare_one: Prepare) -> Callable[[list[ArticleJob]], list[Draft | Exception]]:
    def prepare_all(jobs: list[ArticleJob]) -> list[Draft | Exception]:
        return list(pool.map(prepare_one, jobs))

    return prepare_all


def _field_matches(stored: Any, wanted: str) -> bool:
    if isinstance(stored, tuple):
        return wanted in stored
    if stored is None:
        return wanted == ""
    if isinstance(stored, datetime):
        return stored.isoformat().startswith(wanted)  # a day or an hour of a date field
    return str(stored).lower() == wanted.lower() if isinstance(stored, bool) else str(stored) == wanted
