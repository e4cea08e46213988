"""ElasticIndex and ElasticDeadLetters against a real Elasticsearch (scripts/services.sh up)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from tests.index_contract import check_recrawl_keeps_first_seen_at
from workers.documents import Article, DeadLetter
from workers.errors import IndexUnavailable, TransientError
from workers.index.elastic import ElasticDeadLetters, ElasticIndex, RetryPolicy
from workers.index.mapping import MAPPING_VERSION, index_name
from workers.ports import SearchQuery

pytestmark = pytest.mark.integration

MakeArticle = Callable[..., Article]  # the make_article fixture of tests/conftest.py


@pytest.fixture
def index(elasticsearch_url: str, es_alias: str) -> Iterator[ElasticIndex]:
    backend = ElasticIndex(elasticsearch_url, es_alias)
    backend.ensure_ready()
    yield backend
    backend.close()


def _ids(index: ElasticIndex, text: str, **options: Any) -> list[str]:
    return [hit.article.id for hit in index.search(SearchQuery(text, **options))]


def _index_and_refresh(index: ElasticIndex, articles: list[Article]) -> None:
    assert {o.result for o in index.bulk_index(articles)} == {"indexed"}
    index.refresh()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


# -- ensure_ready


def test_ensure_ready_twice_is_fine(index: ElasticIndex) -> None:
    index.ensure_ready()
    assert index.count() == 0


def test_ensure_ready_makes_the_alias_the_write_index(
    index: ElasticIndex, es_client: Elasticsearch, es_alias: str
) -> None:
    aliases = es_client.indices.get_alias(name=es_alias).body
    assert aliases == {index_name(es_alias): {"aliases": {es_alias: {"is_write_index": True}}}}


def test_the_index_mapping_is_versioned_and_not_dynamic(
    index: ElasticIndex, es_client: Elasticsearch, es_alias: str
) -> None:
    mapping = es_client.indices.get_mapping(index=index_name(es_alias)).body[index_name(es_alias)]["mappings"]
    assert (mapping["dynamic"], mapping["_meta"]["mapping_version"]) == ("false", MAPPING_VERSION)


def test_racing_ensure_ready_calls_all_succeed(elasticsearch_url: str, es_alias: str) -> None:
    errors: list[BaseException] = []

    def prepare() -> None:
        backend = ElasticIndex(elasticsearch_url, es_alias)
        try:
            backend.ensure_ready()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            backend.close()

    threads = [threading.Thread(target=prepare) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []


# -- bulk_index


def test_bulk_index_reports_every_document_indexed(index: ElasticIndex, make_article: MakeArticle) -> None:
    articles = [make_article(), make_article()]
    outcomes = index.bulk_index(articles)
    assert [(o.doc_id, o.result) for o in outcomes] == [(a.id, "indexed") for a in articles]


def test_bulk_index_twice_leaves_the_count_unchanged(index: ElasticIndex, make_article: MakeArticle) -> None:
    articles = [make_article() for _ in range(3)]
    _index_and_refresh(index, articles)
    _index_and_refresh(index, articles)
    assert index.count() == 3


def test_a_document_the_mapping_refuses_is_rejected_alone(index: ElasticIndex, make_article: MakeArticle) -> None:
    unparseable = Article.model_construct(**{**dict(make_article()), "published_at": "the day before yesterday"})
    good, also_good = make_article(), make_article()
    outcomes = index.bulk_index([good, unparseable, also_good])
    index.refresh()
    assert [o.result for o in outcomes] == ["indexed", "rejected", "indexed"]
    assert outcomes[1].reason and "published_at" in outcomes[1].reason
    assert index.count() == 2


def test_get_returns_the_stored_article(index: ElasticIndex, make_article: MakeArticle) -> None:
    article = make_article(authors=("A. Writer",), keywords=("harbour",), image_url="https://img.example/a.jpg")
    index.bulk_index([article])
    assert index.get(article.id) == article


def test_recrawl_keeps_first_seen_at(index: ElasticIndex, make_article: MakeArticle) -> None:
    check_recrawl_keeps_first_seen_at(index, make_article)


def test_get_of_an_unknown_id_is_none(index: ElasticIndex) -> None:
    assert index.get("no-such-id") is None


# -- search


def test_search_finds_by_title_words(index: ElasticIndex, make_article: MakeArticle) -> None:
    wanted = make_article(title="Volcano erupts near the coast")
    _index_and_refresh(index, [wanted, make_article(title="Council approves budget")])
    assert _ids(index, "volcano coast") == [wanted.id]


def test_title_match_ranks_above_body_match(index: ElasticIndex, make_article: MakeArticle) -> None:
    in_body = make_article(title="Markets today", text="Traders watched the volcano news closely all day.")
    in_title = make_article(title="Volcano erupts near the coast", text="Traders watched closely all day.")
    _index_and_refresh(index, [in_body, in_title])
    assert _ids(index, "volcano") == [in_title.id, in_body.id]


def test_collapse_shows_one_hit_per_story(index: ElasticIndex, make_article: MakeArticle) -> None:
    original = make_article(title="Volcano erupts")
    copies = [make_article(title="Volcano erupts", cluster_id=original.id, duplicate_of=original.id) for _ in range(2)]
    other = make_article(title="Volcano museum opens")
    _index_and_refresh(index, [original, *copies, other])
    hits = _ids(index, "volcano", collapse=True)
    assert len(hits) == 2 and other.id in hits and len({original.id, *(c.id for c in copies)} & set(hits)) == 1


def test_without_collapse_every_copy_is_shown(index: ElasticIndex, make_article: MakeArticle) -> None:
    original = make_article(title="Volcano erupts")
    copy = make_article(title="Volcano erupts", cluster_id=original.id, duplicate_of=original.id)
    _index_and_refresh(index, [original, copy])
    assert sorted(_ids(index, "volcano", collapse=False)) == sorted([original.id, copy.id])


def test_search_filters_by_source(index: ElasticIndex, make_article: MakeArticle) -> None:
    wanted = make_article(title="Volcano erupts", source="bbc")
    _index_and_refresh(index, [wanted, make_article(title="Volcano erupts", source="cnn")])
    assert _ids(index, "volcano", source="bbc") == [wanted.id]


def test_search_filters_by_language(index: ElasticIndex, make_article: MakeArticle) -> None:
    wanted = make_article(title="Volcan en éruption", language="fr")
    _index_and_refresh(index, [wanted, make_article(title="Volcan erupts", language="en")])
    assert _ids(index, "volcan", language="fr") == [wanted.id]


def test_blank_query_lists_newest_first(index: ElasticIndex, make_article: MakeArticle) -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    old, new, undated = (make_article(published_at=p) for p in (now - timedelta(days=2), now, None))
    _index_and_refresh(index, [old, undated, new])
    assert _ids(index, " ") == [new.id, old.id, undated.id]


@pytest.mark.parametrize("text", ['Erdogan "Putin', "AND OR (", "title:story", "story*", "\x00", "/"])
def test_query_syntax_is_plain_text(index: ElasticIndex, make_article: MakeArticle, text: str) -> None:
    _index_and_refresh(index, [make_article()])
    index.search(SearchQuery(text))  # must not raise


def test_scores_are_positive(index: ElasticIndex, make_article: MakeArticle) -> None:
    _index_and_refresh(index, [make_article(title="Volcano erupts")])
    assert [hit.score > 0 for hit in index.search(SearchQuery("volcano"))] == [True]


# -- an unreachable server


def test_unreachable_server_raises_index_unavailable(es_alias: str) -> None:
    backend = ElasticIndex(f"http://127.0.0.1:{_closed_port()}", es_alias, request_timeout_s=2, ready_timeout_s=2)
    with pytest.raises(IndexUnavailable) as raised:
        backend.ensure_ready()
    assert raised.value.__cause__ is not None


def test_bulk_to_an_unreachable_server_raises_index_unavailable(es_alias: str, make_article: MakeArticle) -> None:
    backend = ElasticIndex(f"http://127.0.0.1:{_closed_port()}", es_alias, request_timeout_s=2)
    with pytest.raises(IndexUnavailable):
        backend.bulk_index([make_article()])


def test_bulk_without_the_alias_raises_index_unavailable(
    elasticsearch_url: str, es_alias: str, make_article: MakeArticle, es_client: Elasticsearch
) -> None:
    backend = ElasticIndex(elasticsearch_url, es_alias)  # ensure_ready never called
    with pytest.raises(IndexUnavailable, match="index_not_found"):
        backend.bulk_index([make_article()])
    assert not es_client.indices.exists(index=es_alias)  # no index was guessed into being


# -- retries, with a stand-in client (a real server will not answer 429 on demand)


class _ThrottlingClient:
    """Answers the given per-item statuses to successive bulk calls, then 201 for everything."""

    def __init__(self, *rounds: int) -> None:
        self.rounds = list(rounds)
        self.calls = 0

    def bulk(self, *, operations: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        self.calls += 1
        status = self.rounds.pop(0) if self.rounds else 201
        error = {"type": "es_rejected_execution_exception", "reason": "queue full"}
        items = []
        for line in operations[::2]:
            (kind, meta), = json.loads(line).items()
            items.append({kind: {"_id": meta["_id"], "status": status, **({"error": error} if status >= 300 else {})}})
        return {"errors": status >= 300, "items": items}

    def mget(self, *, ids: list[str], **_: Any) -> dict[str, Any]:
        return {"docs": [{"_id": doc_id, "found": False} for doc_id in ids]}


def _throttled_index(client: _ThrottlingClient, attempts: int = 3) -> ElasticIndex:
    fake: Any = client
    return ElasticIndex(fake, "news", retry=RetryPolicy(attempts=attempts), sleep=lambda _s: None)


def test_items_answered_429_are_retried(make_article: MakeArticle) -> None:
    client = _ThrottlingClient(429, 429)
    outcomes = _throttled_index(client).bulk_index([make_article(), make_article()])
    assert ([o.result for o in outcomes], client.calls) == (["indexed", "indexed"], 3)


def test_items_still_throttled_after_the_last_attempt_raise_transient_error(make_article: MakeArticle) -> None:
    client = _ThrottlingClient(429, 429, 429)
    with pytest.raises(TransientError, match="429"):
        _throttled_index(client).bulk_index([make_article()])


def test_items_still_unavailable_after_the_last_attempt_raise_index_unavailable(make_article: MakeArticle) -> None:
    client = _ThrottlingClient(503, 503, 503)
    with pytest.raises(IndexUnavailable):
        _throttled_index(client).bulk_index([make_article()])


# -- dead letters


def _letter(job_id: str, failed_at: datetime) -> DeadLetter:
    return DeadLetter(
        job_id=job_id,
        url=f"https://news.example/{job_id}",
        source="example",
        stage="extract",
        error_type="NotAnArticle",
        reason="text too short: 42 chars",
        failed_at=failed_at,
        job={"v": 1, "job_id": job_id, "html": "<p>short</p>"},
    )


@pytest.fixture
def dead_letters(es_client: Elasticsearch, es_alias: str) -> ElasticDeadLetters:
    return ElasticDeadLetters(es_client, es_alias)


def test_dead_letters_round_trip(dead_letters: ElasticDeadLetters) -> None:
    letter = _letter("job-1", datetime(2026, 11, 25, 10, tzinfo=UTC))
    dead_letters.record([letter])
    assert dead_letters.recent() == [letter]


def test_recent_dead_letters_come_newest_first(dead_letters: ElasticDeadLetters) -> None:
    noon = datetime(2026, 11, 25, 12, tzinfo=UTC)
    dead_letters.record([_letter("old", noon - timedelta(hours=1)), _letter("new", noon)])
    assert [letter.job_id for letter in dead_letters.recent(limit=1)] == ["new"]


def test_no_dead_letters_yet_is_an_empty_list(dead_letters: ElasticDeadLetters) -> None:
    assert dead_letters.recent() == []


def test_dead_letter_index_is_not_dynamic(
    dead_letters: ElasticDeadLetters, es_client: Elasticsearch
) -> None:
    dead_letters.ensure_ready()
    mapping = es_client.indices.get_mapping(index=dead_letters.index).body[dead_letters.index]["mappings"]
    assert mapping["dynamic"] == "false"


# -- bounded bulk requests


class _CountingClient(Elasticsearch):
    """The real client, counting the bulk requests it sends (a spy: every request reaches the server)."""

    bulk_requests = 0

    def bulk(self, **kwargs: Any) -> Any:  # type: ignore[override]
        type(self).bulk_requests += 1
        return super().bulk(**kwargs)


def test_bulk_requests_are_split_by_bytes(elasticsearch_url: str, es_alias: str, make_article: MakeArticle) -> None:
    client = _CountingClient(elasticsearch_url)
    index = ElasticIndex(client, es_alias, max_bulk_bytes=20_000)
    index.ensure_ready()
    outcomes = index.bulk_index([make_article(text="word " * 1_000) for _ in range(6)])  # ~5 KB each
    index.refresh()
    assert [o.result for o in outcomes] == ["indexed"] * 6 and index.count() == 6
    assert _CountingClient.bulk_requests >= 2
    client.close()


def test_bulk_requests_are_split_by_count(elasticsearch_url: str, es_alias: str, make_article: MakeArticle) -> None:
    index = ElasticIndex(elasticsearch_url, es_alias, max_bulk_documents=2)
    index.ensure_ready()
    assert len(index.bulk_index([make_article() for _ in range(5)])) == 5
    index.refresh()
    assert index.count() == 5
