"""Elasticsearch adapters: the article index behind a write alias, and the dead-letter index beside it.

Every elasticsearch exception is translated into ours here, cause chained. Never calls `GET /` (the
integ-test distribution answers 405), never lets the server pick ids, and never lets a write create
an index with a guessed mapping.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from pydantic_core import PydanticSerializationError

from ingest.logs import get_logger
from workers.documents import Article, DeadLetter
from workers.errors import IndexUnavailable, TransientError
from workers.index.mapping import (
    MAPPING_VERSION,
    SEARCH_FIELDS,
    article_mappings,
    dead_letter_id,
    dead_letter_index_name,
    dead_letter_mappings,
    index_name,
    index_template,
    template_name,
)
from workers.ports import IndexOutcome, SearchHit, SearchQuery

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
        raise IndexUnavailable(f"elasticsearch refused {action} on {target}: {_api_error_reason(exc)}") from exc
    except TransportError as exc:  # connection refused, timeout, TLS
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


def _source(article: Article) -> dict[str, Any]:
    # warnings=False: a document that bypassed validation is judged by the mapping, like any other.
    return article.model_dump(mode="json", warnings=False)


@dataclass
class _Bulk:
    """State of one bulk_index call: an outcome per position, and the positions still to send."""

    articles: Sequence[Article]
    outcomes: list[IndexOutcome | None]
    pending: list[int]
    last_failure: tuple[int, str] = (0, "")  # (status, reason) of the latest retryable failure


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
    ) -> None:
        self._client, self._owns_client = _client(client_or_url, request_timeout_s)
        self.alias = alias
        self.index = index_name(alias)
        self._request_timeout_s = request_timeout_s
        self._ready_timeout_s = ready_timeout_s
        self._retry = retry
        self._sleep = sleep

    # -- setup

    def ensure_ready(self) -> None:
        """Wait for the cluster, then create template, index and alias; safe to run twice or in parallel.

        Mapping migrations (a new version's index and the alias swap) are not handled here yet.
        """
        with _unavailable_on_errors("ensure_ready", self.alias):
            self._wait_for(index=None)
            self._put_template()
            self._create_index()
            self._ensure_alias()
            self._wait_for(index=self.index)
        log.info("elastic_index_ready", alias=self.alias, index=self.index, mapping_version=MAPPING_VERSION)

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

    # -- writes

    def bulk_index(self, articles: Sequence[Article]) -> list[IndexOutcome]:
        """Index every article by its id; one outcome per article, in order.

        A document the mapping refuses is "rejected" and never fails the others. Items answered
        429/5xx are retried here with backoff; if some still fail, TransientError (IndexUnavailable
        when the answer was 503). Any other refusal, or no answer, is IndexUnavailable.
        """
        outcomes: list[IndexOutcome] = []
        for start in range(0, len(articles), MAX_BULK_DOCUMENTS):
            outcomes.extend(self._bulk_chunk(articles[start : start + MAX_BULK_DOCUMENTS]))
        return outcomes

    def _bulk_chunk(self, articles: Sequence[Article]) -> list[IndexOutcome]:
        articles = self._keep_first_seen(articles)
        bulk = _Bulk(articles, [None] * len(articles), list(range(len(articles))))
        started = time.monotonic()
        for attempt in range(self._retry.attempts):
            if attempt:
                delay_s = self._retry.delay_s(attempt - 1)
                log.warning(
                    "bulk_retrying",
                    alias=self.alias,
                    documents=len(bulk.pending),
                    status=bulk.last_failure[0],
                    reason=bulk.last_failure[1],
                    delay_ms=round(delay_s * 1000),
                )
                self._sleep(delay_s)
            self._send(bulk)
            if not bulk.pending:
                break
        if bulk.pending:
            raise self._exhausted(bulk)
        done = [outcome for outcome in bulk.outcomes if outcome is not None]
        log.debug(
            "bulk_indexed",
            alias=self.alias,
            indexed=sum(o.result == "indexed" for o in done),
            rejected=sum(o.result == "rejected" for o in done),
            attempts=attempt + 1,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return done

    def _keep_first_seen(self, articles: Sequence[Article]) -> list[Article]:
        """A re-crawl replaces the document but keeps when it was first seen (one mget per chunk)."""
        with _unavailable_on_errors("mget", self.alias):
            found = self._client.mget(
                index=self.alias, ids=[a.id for a in articles], source_includes=["first_seen_at"]
            )
        first_seen = {
            doc["_id"]: doc["_source"]["first_seen_at"]
            for doc in found["docs"]
            if doc.get("found") and doc.get("_source", {}).get("first_seen_at")
        }
        return [
            a.model_copy(update={"first_seen_at": datetime.fromisoformat(first_seen[a.id])})
            if a.id in first_seen
            else a
            for a in articles
        ]

    def _exhausted(self, bulk: _Bulk) -> TransientError:
        status, reason = bulk.last_failure
        message = (
            f"{len(bulk.pending)} of {len(bulk.articles)} documents still failing after "
            f"{self._retry.attempts} attempts on {self.alias}: HTTP {status} {reason}"
        )
        return IndexUnavailable(message) if status == 503 else TransientError(message)

    def _operations(self, bulk: _Bulk) -> tuple[list[int], list[dict[str, Any]]]:
        """The bulk body for the pending positions; a document that cannot be serialized is rejected."""
        sent, operations = [], []
        for position in bulk.pending:
            article = bulk.articles[position]
            try:
                source = _source(article)
            except PydanticSerializationError as exc:
                bulk.outcomes[position] = IndexOutcome(article.id, "rejected", f"cannot serialize: {exc}")
                continue
            sent.append(position)
            operations += [{"index": {"_id": article.id}}, source]
        return sent, operations

    def _send(self, bulk: _Bulk) -> None:
        sent, operations = self._operations(bulk)
        bulk.pending = []
        if not sent:
            return
        try:
            # require_alias: if the alias is missing, fail instead of auto-creating a dynamic index.
            response = self._client.bulk(index=self.alias, operations=operations, require_alias=True)
        except ApiError as exc:
            if not _is_retryable(exc.meta.status):
                reason = _api_error_reason(exc)
                raise IndexUnavailable(f"elasticsearch refused bulk on {self.alias}: {reason}") from exc
            bulk.pending, bulk.last_failure = sent, (exc.meta.status, _api_error_reason(exc))
            return
        except TransportError as exc:
            raise IndexUnavailable(f"elasticsearch unreachable during bulk on {self.alias}: {exc}") from exc
        # A reply with failed items is still HTTP 200: every item is looked at.
        for position, item in zip(sent, response["items"], strict=True):
            self._classify(bulk, position, item["index"])

    def _classify(self, bulk: _Bulk, position: int, result: dict[str, Any]) -> None:
        doc_id, status = bulk.articles[position].id, int(result["status"])
        if status < 300:
            bulk.outcomes[position] = IndexOutcome(doc_id, "indexed")
            return
        error = result.get("error", {})
        reason = _error_reason(error)
        if _is_retryable(status):
            bulk.pending.append(position)
            bulk.last_failure = (status, reason)
        elif status == 400 or error.get("type") in DOCUMENT_ERRORS:
            bulk.outcomes[position] = IndexOutcome(doc_id, "rejected", reason)
        else:
            # Missing alias, read-only block, forbidden: the index refuses writes, not this document.
            raise IndexUnavailable(f"elasticsearch refused writes to {self.alias}: HTTP {status} {reason}")

    def refresh(self) -> None:
        """Make everything indexed so far searchable now (tests, `run --once`); never after every bulk."""
        with _unavailable_on_errors("refresh", self.alias):
            self._client.indices.refresh(index=self.alias)

    # -- reads

    def search(self, query: SearchQuery) -> list[SearchHit]:
        if query.limit <= 0:
            return []
        with _unavailable_on_errors("search", self.alias):
            response = self._client.search(index=self.alias, **_search_body(query))
        return [
            SearchHit(Article.model_validate(hit["_source"]), float(hit.get("_score") or 0.0))
            for hit in response["hits"]["hits"]
        ]

    def get(self, doc_id: str) -> Article | None:
        with _unavailable_on_errors("get", self.alias):
            try:
                response = self._client.get(index=self.alias, id=doc_id)
            except NotFoundError:
                return None
        return Article.model_validate(response["_source"])

    def count(self) -> int:
        """Documents searchable through the alias (call refresh() first to count the latest writes)."""
        with _unavailable_on_errors("count", self.alias):
            return int(self._client.count(index=self.alias)["count"])

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def _search_body(query: SearchQuery) -> dict[str, Any]:
    """Keyword arguments of `Elasticsearch.search` for a SearchQuery."""
    filters: list[dict[str, Any]] = []
    if query.source is not None:
        filters.append({"term": {"source": query.source}})
    if query.language is not None:
        filters.append({"term": {"language": query.language}})
    body: dict[str, Any] = {"size": query.limit}
    if query.text.strip():
        # Every word must match, in any of the fields: what a search box promises (and SQLite does).
        match: dict[str, Any] = {
            "multi_match": {
                "query": query.text,
                "fields": list(SEARCH_FIELDS),
                "type": "cross_fields",
                "operator": "and",
            }
        }
    else:
        # No words: newest first, as the SQLite index does.
        match = {"match_all": {}}
        body["sort"] = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
    # A story's original outranks its copies, so a collapsed hit shows the original.
    original = {"bool": {"must_not": [{"exists": {"field": "duplicate_of"}}], "boost": 0.5}}
    body["query"] = {"bool": {"must": [match], "should": [original], "filter": filters}}
    if query.collapse:
        body["collapse"] = {"field": "cluster_id"}  # one hit per story, its best
    return body


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
