"""Elasticsearch adapters: the article index behind a write alias, and the dead-letter index beside it.

Every elasticsearch exception is translated into ours here, cause chained. Never calls `GET /` (the
integ-test distribution answers 405), never lets the server pick ids, and never lets a write create
an index with a guessed mapping.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from pydantic_core import PydanticSerializationError

from ingest.logs import get_logger
from workers.documents import Article, DeadLetter
from workers.errors import IndexAccessDenied, IndexMissing, IndexOutdated, IndexUnavailable, TransientError
from workers.index.connect import CA_SETTING, is_certificate_error, is_security_refusal
from workers.index import elastic_removal as removal
from workers.index.elastic_query import buckets, daily_per_source_body, filtered_query, search_body, stats_body
from workers.index.mapping import (
    MAPPING_VERSION,
    article_mappings,
    dead_letter_id,
    dead_letter_index_name,
    dead_letter_mappings,
    index_name,
    index_template,
    template_name,
    tombstone_index_name,
)
from workers.index.revisions import STORED_FIELDS, Stored, next_revision
from workers.ports import IndexOutcome, IndexStats, SearchHit, SearchQuery
from workers.ports import ClusterChange, DocumentRef, DocumentSelection, Tombstone

log = get_logger(__name__)

# Item errors that are the document's fault: retrying the same document can never succeed.
DOCUMENT_ERRORS = frozenset(
    {
        "mapper_parsing_exception",
        "document_parsing_exception",
        "illegal_argument_exception",
        "strict_dynamic_mapping_exception",
    }
)
# Documents per bulk request; a task's batch (at most 500, see Settings.batch_size) fits in one.
MAX_BULK_DOCUMENTS = 500
# Bytes per bulk request: a few MB is the server's sweet spot, far below http.max_content_length.
MAX_BULK_BYTES = 5_000_000
# Re-reads of documents another writer changed between our read and our write, before giving up.
MAX_CONFLICT_ROUNDS = 10
EXPORT_PAGE_SIZE = 500
# Sources a per-source daily count covers (the busiest first): with a fortnight of days each this stays
# well under the server's search.max_buckets (65,536).
MAX_SOURCES = 2_000
EXPORT_KEEP_ALIVE = "2m"
_SHARD_SETTINGS: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
_MAX_REASON_CHARS = 1_000


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of 429/5xx answers inside one bulk call: exponential backoff with full jitter."""

    attempts: int = 4  # tries in all, the first included
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, not {self.attempts}")

    def delay_s(self, retry: int) -> float:
        # Full jitter: workers throttled together do not come back together.
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**retry))


def _is_retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _error_reason(error: Any) -> str:
    """One line from an Elasticsearch error object: `type: reason (caused by type: reason)`."""
    if not isinstance(error, dict):
        return str(error)[:_MAX_REASON_CHARS]
    reason = f"{error.get('type')}: {error.get('reason')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict):
        reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
    return reason[:_MAX_REASON_CHARS]


def _api_error_reason(exc: ApiError) -> str:
    body = exc.body.get("error") if isinstance(exc.body, dict) else exc.body
    return f"HTTP {exc.meta.status} {_error_reason(body)}"


@contextmanager
def _unavailable_on_errors(action: str, target: str) -> Iterator[None]:
    """Any failure to talk to the cluster -> IndexUnavailable (retried without limit, never dead-lettered).

    That includes refusals (auth, blocks, missing index): they are the cluster's state, not a document's
    fault, and retrying loses nothing while a person fixes them.
    """
    try:
        yield
    except ApiError as exc:
        if is_security_refusal(exc):  # our identity, not the cluster's state: IndexAccessDenied says so
            raise IndexAccessDenied(f"elasticsearch refused {action} on {target}: {_api_error_reason(exc)}") from exc
        raise IndexUnavailable(f"elasticsearch refused {action} on {target}: {_api_error_reason(exc)}") from exc
    except TransportError as exc:  # connection refused, timeout, TLS
        if is_certificate_error(exc):
            raise IndexAccessDenied(
                f"elasticsearch during {action} on {target}: its TLS certificate is not trusted; "
                f"set {CA_SETTING} to the PEM file of the CA that signed it"
            ) from exc
        raise IndexUnavailable(f"elasticsearch unreachable during {action} on {target}: {exc}") from exc


def _is_already_exists(exc: ApiError) -> bool:
    return exc.message == "resource_already_exists_exception"


def _client(client_or_url: Elasticsearch | str, request_timeout_s: float) -> tuple[Elasticsearch, bool]:
    """The client to use, and whether we made it (and so must close it)."""
    if not isinstance(client_or_url, str):
        return client_or_url, False
    # retry_on_status=(): 429/5xx are retried by bulk_index with backoff, not hammered by the transport.
    client = Elasticsearch(client_or_url, request_timeout=request_timeout_s, max_retries=1, retry_on_status=())
    return client, True


@dataclass(frozen=True)
class _Found:
    """A stored document's revision fields and the sequence numbers that guard overwriting it."""

    stored: Stored
    seq_no: int
    primary_term: int


@dataclass
class _Round:
    """One pass over the pending documents of a bulk_index call."""

    retry: list[int] = field(default_factory=list)  # answered 429/5xx: retried after a backoff
    conflicts: list[int] = field(default_factory=list)  # changed under us: re-read, retried at once
    last_failure: tuple[int, str] = (0, "")  # (status, reason) of the latest retryable failure


@dataclass(frozen=True)
class ElasticStatus:
    """What `newsingest index status` shows about one alias."""

    alias: str
    code_mapping_version: int
    indices: tuple[tuple[str, int | None, int, bool], ...]  # (name, mapping version, documents, in alias)
    alias_index: str | None  # the write index behind the alias, None when the alias does not exist

    @property
    def alias_mapping_version(self) -> int | None:
        return next((v for name, v, _, _ in self.indices if name == self.alias_index), None)


class ElasticIndex:
    """IndexBackend over `{alias}`, a write alias on the concrete index `{alias}-v{MAPPING_VERSION}`."""

    def __init__(
        self,
        client_or_url: Elasticsearch | str,
        alias: str,
        *,
        request_timeout_s: float = 30.0,
        ready_timeout_s: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        max_bulk_documents: int = MAX_BULK_DOCUMENTS,
        max_bulk_bytes: int = MAX_BULK_BYTES,
        owns_client: bool = False,
    ) -> None:
        # owns_client: a client given here is closed by close() (workers/index/connect.py makes such ones).
        self._client, self._owns_client = _client(client_or_url, request_timeout_s)
        self._owns_client = self._owns_client or owns_client
        self.alias = alias
        self.index = index_name(alias)
        self._request_timeout_s = request_timeout_s
        self._ready_timeout_s = ready_timeout_s
        self._retry = retry
        self._sleep = sleep
        self._max_documents = max_bulk_documents
        self._max_bytes = max_bulk_bytes

    @property
    def client(self) -> Elasticsearch:
        return self._client

    # -- setup

    def ensure_ready(self) -> None:
        """Wait for the cluster, then create template, index and alias; safe to run twice or in parallel.

        An alias already on an index of an older mapping version is left alone (writes keep going there;
        the model's new fields stay in _source) until `newsingest index migrate` moves it.
        """
        with _unavailable_on_errors("ensure_ready", self.alias):
            self._wait_for(index=None)
            self._put_template()
            behind = self._alias_indices()
            if not behind:
                self._create_index()
                self._ensure_alias()
                behind = self._alias_indices()
            self._wait_for(index=self.alias)
        version = next(iter(behind.values()), None)
        if version is not None and version < MAPPING_VERSION:
            log.warning(
                "elastic_index_needs_migration",
                alias=self.alias,
                index=next(iter(behind)),
                mapping_version=version,
                code_mapping_version=MAPPING_VERSION,
                action="run `newsingest index migrate`",
            )
        log.info("elastic_index_ready", alias=self.alias, indices=sorted(behind), mapping_version=version)

    def wait_until_ready(self, max_delay_s: float = 30.0, stop: Callable[[], bool] = lambda: False) -> bool:
        """ensure_ready(), retried with capped backoff while the cluster is unreachable, saying so each time.

        Returns False only if `stop()` became true first. The daemon and workers use this at start-up,
        so an Elasticsearch outage makes them wait, not exit.
        """
        attempt = 0
        while not stop():
            try:
                self.ensure_ready()
                return True
            except IndexAccessDenied:
                raise  # a refused identity or certificate does not heal by waiting
            except IndexUnavailable as exc:
                delay_s = min(max_delay_s, 2.0**attempt)
                log.warning("waiting_for_elasticsearch", alias=self.alias, error=str(exc), retry_in_s=delay_s)
                self._sleep(delay_s)
                attempt += 1
        return False

    def _wait_for(self, index: str | None) -> None:
        # cluster.health, never info(): GET / answers 405 on the test distribution.
        self._client.options(request_timeout=self._ready_timeout_s + self._request_timeout_s).cluster.health(
            index=index, wait_for_status="yellow", timeout=f"{int(self._ready_timeout_s)}s"
        )

    def _put_template(self) -> None:
        name = template_name(self.alias)
        try:
            found = self._client.indices.get_index_template(name=name)
            version = found["index_templates"][0]["index_template"].get("version")
        except NotFoundError:
            version = None
        # Never overwrite a newer process's template with an older mapping.
        if version is None or version < MAPPING_VERSION:
            self._client.indices.put_index_template(name=name, **index_template(self.alias))

    def _alias_indices(self) -> dict[str, int | None]:
        """Index -> mapping version, of the indices behind the alias (empty when it does not exist)."""
        try:
            found = self._client.indices.get_mapping(index=self.alias, allow_no_indices=False)
        except NotFoundError:
            return {}
        if not self._client.indices.exists_alias(name=self.alias):
            return {}  # a concrete index named like the alias is not ours to write through
        return {name: _mapping_version(body) for name, body in found.body.items()}

    def _create_index(self) -> None:
        try:
            # Mapping given explicitly too: a foreign template of higher priority cannot change it.
            self._client.indices.create(
                index=self.index,
                mappings=article_mappings(),
                settings=_SHARD_SETTINGS,
                aliases={self.alias: {"is_write_index": True}},
            )
        except ApiError as exc:
            if not _is_already_exists(exc):  # another process won the race: fine
                raise

    def _ensure_alias(self) -> None:
        if not self._client.indices.exists_alias(name=self.alias):
            self._client.indices.put_alias(index=self.index, name=self.alias, is_write_index=True)

    def status(self) -> ElasticStatus:
        """The versioned indices of this alias, their documents and mapping versions, and the alias."""
        with _unavailable_on_errors("status", self.alias):
            found = self._client.indices.get(
                index=f"{self.alias}-v*", expand_wildcards="open", allow_no_indices=True
            )
            rows = []
            alias_index = None
            for name in sorted(found.body):
                body = found.body[name]
                in_alias = self.alias in body.get("aliases", {})
                if in_alias:
                    alias_index = name
                documents = int(self._client.count(index=name)["count"])
                rows.append((name, _mapping_version(body), documents, in_alias))
        return ElasticStatus(self.alias, MAPPING_VERSION, tuple(rows), alias_index)

    def check_readable(self) -> None:
        """IndexMissing when there is no alias yet, IndexOutdated when it is on an older mapping."""
        with _unavailable_on_errors("check", self.alias):
            behind = self._alias_indices()
        if not behind:
            raise IndexMissing(
                f"the index {self.alias!r} does not exist yet: ingest something first (`newsingest run --once`)"
            )
        version = min((v or 0) for v in behind.values())
        if version < MAPPING_VERSION:
            raise IndexOutdated(
                f"the index {self.alias!r} has mapping version {version}, this newsingest needs "
                f"{MAPPING_VERSION}: run `newsingest index migrate`"
            )

    # -- writes

    def bulk_index(self, articles: Sequence[Article]) -> list[IndexOutcome]:
        """Index every article by its id; one outcome per article, in order.

        Each write is conditional on what was read (create if absent, else if_seq_no/if_primary_term),
        so a racing writer makes it re-read and decide again: the newer fetch wins, `first_seen_at` is
        kept, changed content bumps `version` (see revisions.py). A document the mapping refuses is
        "rejected" and never fails the others. Requests are bounded by count and bytes. Items answered
        429/5xx are retried here with backoff; if some still fail, TransientError (IndexUnavailable
        when the answer was 503). Any other refusal, or no answer, is IndexUnavailable.
        """
        outcomes: list[IndexOutcome] = []
        for start in range(0, len(articles), self._max_documents):
            outcomes.extend(self._bulk_chunk(articles[start : start + self._max_documents]))
        return outcomes

    def _bulk_chunk(self, articles: Sequence[Article]) -> list[IndexOutcome]:
        outcomes: list[IndexOutcome | None] = [None] * len(articles)
        pending = list(range(len(articles)))
        throttled = conflicted = 0
        started = time.monotonic()
        while pending:
            found = self._stored([articles[p].id for p in pending])
            done = self._send(articles, pending, found, outcomes)
            pending = sorted(done.retry + done.conflicts)
            if done.retry:
                throttled += 1
                if throttled >= self._retry.attempts:
                    raise self._exhausted(len(done.retry), len(articles), done.last_failure)
                delay_s = self._retry.delay_s(throttled - 1)
                log.warning(
                    "bulk_retrying",
                    alias=self.alias,
                    documents=len(done.retry),
                    status=done.last_failure[0],
                    reason=done.last_failure[1],
                    delay_ms=round(delay_s * 1000),
                )
                self._sleep(delay_s)
            elif done.conflicts:
                conflicted += 1
                if conflicted > MAX_CONFLICT_ROUNDS:
                    raise TransientError(
                        f"{len(done.conflicts)} documents kept changing under us on {self.alias}: "
                        f"gave up after {MAX_CONFLICT_ROUNDS} re-reads"
                    )
        result = [outcome for outcome in outcomes if outcome is not None]
        log.debug(
            "bulk_indexed",
            alias=self.alias,
            indexed=sum(o.result == "indexed" for o in result),
            rejected=sum(o.result == "rejected" for o in result),
            skipped=sum(o.result == "skipped" for o in result),
            throttled_rounds=throttled,
            conflict_rounds=conflicted,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return result

    def _stored(self, ids: list[str]) -> dict[str, _Found]:
        """The revision fields and sequence numbers of the stored documents among `ids` (one mget)."""
        with _unavailable_on_errors("mget", self.alias):
            try:
                found = self._client.mget(index=self.alias, ids=ids, source_includes=list(STORED_FIELDS))
            except NotFoundError as exc:
                # require_alias on the bulk below says it better; nothing can be stored yet.
                if exc.message == "index_not_found_exception":
                    return {}
                raise
        return {
            doc["_id"]: _Found(Stored.from_source(doc["_source"]), int(doc["_seq_no"]), int(doc["_primary_term"]))
            for doc in found["docs"]
            if doc.get("found")
        }

    def _exhausted(self, failing: int, total: int, failure: tuple[int, str]) -> TransientError:
        status, reason = failure
        message = (
            f"{failing} of {total} documents still failing after "
            f"{self._retry.attempts} attempts on {self.alias}: HTTP {status} {reason}"
        )
        return IndexUnavailable(message) if status == 503 else TransientError(message)

    def _operations(
        self,
        articles: Sequence[Article],
        pending: list[int],
        found: dict[str, _Found],
        outcomes: list[IndexOutcome | None],
    ) -> list[tuple[int, bytes, bytes]]:
        """(position, action line, source line) of each pending document that is to be written."""
        lines = []
        for position in pending:
            article = articles[position]
            stored = found.get(article.id)
            document = next_revision(stored.stored if stored else None, article)
            if document is None:
                outcomes[position] = IndexOutcome(article.id, "skipped", "the index holds a newer fetch")
                continue
            try:
                # Serialized once, by pydantic; the bytes go to the server as they are.
                source = document.model_dump_json(warnings=False).encode("utf-8")
            except PydanticSerializationError as exc:
                outcomes[position] = IndexOutcome(article.id, "rejected", f"cannot serialize: {exc}")
                continue
            if stored is None:
                action: dict[str, Any] = {"create": {"_id": article.id}}
            else:
                action = {
                    "index": {"_id": article.id, "if_seq_no": stored.seq_no, "if_primary_term": stored.primary_term}
                }
            lines.append((position, json.dumps(action).encode("utf-8"), source))
        return lines

    def _send(
        self,
        articles: Sequence[Article],
        pending: list[int],
        found: dict[str, _Found],
        outcomes: list[IndexOutcome | None],
    ) -> _Round:
        done = _Round()
        batch: list[tuple[int, bytes, bytes]] = []
        size = 0
        for line in self._operations(articles, pending, found, outcomes):
            line_bytes = len(line[1]) + len(line[2]) + 2
            if batch and size + line_bytes > self._max_bytes:
                self._request(articles, batch, outcomes, done)
                batch, size = [], 0
            batch.append(line)
            size += line_bytes
        if batch:
            self._request(articles, batch, outcomes, done)
        return done

    def _request(
        self,
        articles: Sequence[Article],
        batch: list[tuple[int, bytes, bytes]],
        outcomes: list[IndexOutcome | None],
        done: _Round,
    ) -> None:
        operations: list[Any] = [part for _, action, source in batch for part in (action, source)]
        sent = [position for position, _, _ in batch]
        try:
            # require_alias: if the alias is missing, fail instead of auto-creating a dynamic index.
            response = self._client.bulk(index=self.alias, operations=operations, require_alias=True)
        except ApiError as exc:
            if not _is_retryable(exc.meta.status):
                reason = _api_error_reason(exc)
                raise IndexUnavailable(f"elasticsearch refused bulk on {self.alias}: {reason}") from exc
            done.retry += sent
            done.last_failure = (exc.meta.status, _api_error_reason(exc))
            return
        except TransportError as exc:
            raise IndexUnavailable(f"elasticsearch unreachable during bulk on {self.alias}: {exc}") from exc
        # A reply with failed items is still HTTP 200: every item is looked at.
        for position, item in zip(sent, response["items"], strict=True):
            result = next(iter(item.values()))
            self._classify(articles[position].id, position, result, outcomes, done)

    def _classify(
        self, doc_id: str, position: int, result: dict[str, Any], outcomes: list[IndexOutcome | None], done: _Round
    ) -> None:
        status = int(result["status"])
        if status < 300:
            outcomes[position] = IndexOutcome(doc_id, "indexed")
            return
        error = result.get("error", {})
        reason = _error_reason(error)
        if status == 409:
            done.conflicts.append(position)  # written meanwhile by someone else: read again, decide again
        elif _is_retryable(status):
            done.retry.append(position)
            done.last_failure = (status, reason)
        elif status == 400 or error.get("type") in DOCUMENT_ERRORS:
            outcomes[position] = IndexOutcome(doc_id, "rejected", reason)
        else:
            # Missing alias, read-only block, forbidden: the index refuses writes, not this document.
            raise IndexUnavailable(f"elasticsearch refused writes to {self.alias}: HTTP {status} {reason}")

    def refresh(self) -> None:
        """Make everything indexed so far searchable now (tests, `run --once`); never after every bulk."""
        with _reading(self.alias, "refresh"):
            self._client.indices.refresh(index=self.alias)

    # -- reads

    def search(self, query: SearchQuery) -> list[SearchHit]:
        if query.limit <= 0:
            return []
        with _reading(self.alias, "search"):
            response = self._client.search(index=self.alias, **search_body(query))
        return [_hit(hit) for hit in response["hits"]["hits"]]

    def stats(self, query: SearchQuery, top: int = 10) -> IndexStats:
        with _reading(self.alias, "stats"):
            response = self._client.search(index=self.alias, **stats_body(query, top))
        aggs = response["aggregations"]
        return IndexStats(
            documents=int(response["hits"]["total"]["value"]),
            duplicates=int(aggs["duplicates"]["doc_count"]),
            per_day=buckets(aggs["per_day"]),
            per_source=buckets(aggs["per_source"]),
            per_language=buckets(aggs["per_language"]),
            top_entities=buckets(aggs["top_entities"]),
            top_keywords=buckets(aggs["top_keywords"]),
            stories=int(aggs["stories"]["value"]),
        )

    def daily_per_source(self, since: datetime) -> dict[str, tuple[tuple[str, int], ...]]:
        with _reading(self.alias, "daily_per_source"):
            response = self._client.search(index=self.alias, **daily_per_source_body(since, MAX_SOURCES))
        return {
            str(bucket["key"]): tuple(day for day in buckets(bucket["per_day"]) if day[1])
            for bucket in response["aggregations"]["per_source"]["buckets"]
        }

    def export(self, query: SearchQuery) -> Iterator[Article]:
        """Every matching document, page by page over a point in time (a consistent view, constant memory)."""
        pages = point_in_time_pages(
            self._client,
            self.alias,
            EXPORT_PAGE_SIZE,
            query=filtered_query(query),
            guard=lambda action, alias: _reading(alias, action),
        )
        for page in pages:
            for hit in page:
                yield Article.model_validate(hit["_source"])

    def get(self, doc_id: str) -> Article | None:
        with _reading(self.alias, "get"):
            try:
                response = self._client.get(index=self.alias, id=doc_id)
            except NotFoundError as exc:
                if exc.message == "index_not_found_exception":
                    raise
                return None
        return Article.model_validate(response["_source"])

    def count(self) -> int:
        """Documents searchable through the alias (call refresh() first to count the latest writes)."""
        with _reading(self.alias, "count"):
            return int(self._client.count(index=self.alias)["count"])

    # -- removal (workers.removal; the requests are in elastic_removal.py)

    def set_clusters(self, changes: Sequence[ClusterChange]) -> int:
        with _unavailable_on_errors("set clusters", self.alias):
            return removal.set_clusters(self._client, self.alias, changes)

    def tombstoned(self, doc_ids: Sequence[str]) -> frozenset[str]:
        index = tombstone_index_name(self.alias)
        with _unavailable_on_errors("read tombstones", index):
            return removal.tombstoned(self._client, index, doc_ids)

    def add_tombstones(self, tombstones: Sequence[Tombstone]) -> None:
        index = tombstone_index_name(self.alias)
        with _unavailable_on_errors("record tombstones", index):
            removal.add_tombstones(self._client, index, tombstones)

    def select_pages(self, selection: DocumentSelection, page_size: int) -> Iterator[list[DocumentRef]]:
        """Over a point in time: the matching documents as they were when reading began."""
        pages = point_in_time_pages(
            self._client, self.alias, page_size, query=removal.selection_query(selection),
            guard=lambda action, alias: _reading(alias, action),
        )
        for page in pages:
            yield [removal.ref_of(hit["_source"]) for hit in page]

    def references(self, doc_ids: Sequence[str]) -> list[DocumentRef]:
        with _unavailable_on_errors("read references", self.alias):
            return removal.references(self._client, self.alias, doc_ids)

    def story_members(self, cluster_ids: Collection[str]) -> list[DocumentRef]:
        with _unavailable_on_errors("read stories", self.alias):
            return removal.story_members(self._client, self.alias, cluster_ids)

    def delete(self, doc_ids: Sequence[str]) -> int:
        with _unavailable_on_errors("delete", self.alias):
            return removal.delete(self._client, self.alias, doc_ids)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def _mapping_version(index_body: dict[str, Any]) -> int | None:
    meta = index_body.get("mappings", {}).get("_meta", {})
    version = meta.get("mapping_version")
    return int(version) if version is not None else None


def _hit(hit: dict[str, Any]) -> SearchHit:
    fragments = hit.get("highlight", {}).get("text") or []
    story = hit.get("inner_hits", {}).get("story", {}).get("hits", {}).get("total", {})
    return SearchHit(
        Article.model_validate(hit["_source"]),
        float(hit.get("_score") or 0.0),
        snippet=" ".join(fragments[0].split()) if fragments else None,
        copies=int(story.get("value", 1)),
    )


@contextmanager
def _reading(alias: str, action: str) -> Iterator[None]:
    """As _unavailable_on_errors, but a missing alias is IndexMissing: a person reads this one."""
    try:
        with _unavailable_on_errors(action, alias):
            yield
    except IndexUnavailable as exc:
        cause = exc.__cause__
        if isinstance(cause, NotFoundError) and cause.message == "index_not_found_exception":
            raise IndexMissing(
                f"the index {alias!r} does not exist yet: ingest something first (`newsingest run --once`)"
            ) from cause
        raise


class ElasticDeadLetters:
    """DeadLetterStore over the index `{alias}-deadletters`, beside the article alias."""

    def __init__(self, client: Elasticsearch, alias: str) -> None:
        self._client = client
        self.index = dead_letter_index_name(alias)
        self._ready = False

    def ensure_ready(self) -> None:
        """Create the index with its explicit mapping; a write must never create it with a guessed one."""
        with _unavailable_on_errors("create dead-letter index", self.index):
            try:
                self._client.indices.create(
                    index=self.index, mappings=dead_letter_mappings(), settings=_SHARD_SETTINGS
                )
            except ApiError as exc:
                if not _is_already_exists(exc):
                    raise
        self._ready = True

    def record(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        if not self._ready:
            self.ensure_ready()
        operations: list[dict[str, Any]] = []
        for letter in letters:
            operations += [{"index": {"_id": dead_letter_id(letter)}}, letter.model_dump(mode="json")]
        with _unavailable_on_errors("record dead letters", self.index):
            # refresh=True: dead letters are rare, and a person looking right after a run should see them.
            response = self._client.bulk(index=self.index, operations=operations, refresh=True)
        failed = [item["index"] for item in response["items"] if item["index"]["status"] >= 300]
        if failed:  # nowhere else to put them: let the task retry
            reason = _error_reason(failed[0].get("error"))
            raise TransientError(f"{len(failed)} dead letters not recorded in {self.index}: {reason}")

    def recent(self, limit: int = 50) -> list[DeadLetter]:
        with _unavailable_on_errors("read dead letters", self.index):
            try:
                response = self._client.search(
                    index=self.index, size=limit, sort=[{"failed_at": {"order": "desc"}}, {"job_id": "asc"}]
                )
            except NotFoundError:  # nothing was ever dead-lettered
                return []
        return [DeadLetter.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]

    def all(self) -> list[tuple[str, DeadLetter]]:
        """Every dead letter with its id, newest first (DeadLetterArchive), a point-in-time page at a time."""
        with _unavailable_on_errors("read dead letters", self.index):
            try:
                self._client.indices.refresh(index=self.index)
            except NotFoundError:  # nothing was ever dead-lettered
                return []
        letters = [
            (hit["_id"], DeadLetter.model_validate(hit["_source"]))
            for page in point_in_time_pages(self._client, self.index, 1000)
            for hit in page
        ]
        return sorted(letters, key=lambda item: (item[1].failed_at, item[0]), reverse=True)

    def remove(self, letter_ids: Sequence[str]) -> int:
        if not letter_ids:
            return 0
        operations = [{"delete": {"_id": letter_id}} for letter_id in letter_ids]
        with _unavailable_on_errors("remove dead letters", self.index):
            response = self._client.bulk(index=self.index, operations=operations, refresh=True)
        return sum(1 for item in response["items"] if item["delete"]["status"] == 200)


def point_in_time_pages(
    client: Elasticsearch,
    index: str,
    page_size: int,
    *,
    query: dict[str, Any] | None = None,
    keep_alive: str = EXPORT_KEEP_ALIVE,
    guard: Callable[[str, str], AbstractContextManager[None]] = _unavailable_on_errors,
) -> Iterator[list[dict[str, Any]]]:
    """The hits of `index` as they were when reading began (a point in time), a page at a time.

    `guard(action, index)` translates the client's errors; export and migration differ there.
    """
    with guard("open point in time", index):
        pit = client.open_point_in_time(index=index, keep_alive=keep_alive)["id"]
    try:
        search_after: list[Any] | None = None
        while True:
            with guard("read page", index):
                response = client.search(
                    pit={"id": pit, "keep_alive": keep_alive},
                    query=query or {"match_all": {}},
                    sort=["_shard_doc"],  # the cheapest total order for a point in time
                    size=page_size,
                    search_after=search_after,
                    track_total_hits=False,
                )
            hits: list[dict[str, Any]] = response["hits"]["hits"]
            if not hits:
                return
            pit = response.get("pit_id", pit)
            yield hits
            search_after = hits[-1]["sort"]
    finally:
        with suppress(ApiError, TransportError):  # it expires by itself anyway
            client.close_point_in_time(id=pit)
