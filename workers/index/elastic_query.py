"""Elasticsearch request bodies for a SearchQuery: search, aggregations, export. Pure: never talks to a server.

The SQLite adapter answers the same SearchQuery with the same meaning; tests/integration/test_search.py
runs one suite against both, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from workers.index.mapping import SEARCH_FIELDS
from workers.ports import HIGHLIGHT_END, HIGHLIGHT_START, SearchQuery

SNIPPET_CHARS = 200
# Words of a search that count, as in the SQLite adapter (sqlite.MAX_QUERY_TERMS): thousands of
# words would pass Elasticsearch's clause limit and fail the whole search.
MAX_QUERY_WORDS = 32
_WORD = re.compile(r"\w+")
# Filter name on SearchQuery -> the keyword field it matches (case-insensitively, as SQLite does).
FILTER_FIELDS = {
    "source": "source", "domain": "domain", "language": "language", "tag": "tags", "entity": "entities",
    "story": "cluster_id",
}


def filter_clauses(query: SearchQuery) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    for option, field in FILTER_FIELDS.items():
        value = getattr(query, option)
        if value is not None:
            clauses.append({"term": {field: {"value": value, "case_insensitive": True}}})
    published: dict[str, str] = {}
    if query.since is not None:
        published["gte"] = query.since.isoformat()
    if query.until is not None:
        published["lt"] = query.until.isoformat()
    if published:
        clauses.append({"range": {"published_at": published}})
    return clauses


def text_clause(query: SearchQuery) -> dict[str, Any]:
    if not query.text.strip():
        return {"match_all": {}}
    # Every word must match, in any of the fields: what a search box promises (and SQLite does).
    # multi_match has no query syntax at all: `*`, `?`, `/re/`, `~`, `field:` and quotes are analysed as
    # text, so a user cannot ask for a wildcard, regexp, fuzzy or script query (query_string could);
    # simple_query_string's operators would also make `-word` mean something SQLite does not.
    return {
        "multi_match": {
            "query": _first_words(query.text),
            "fields": list(SEARCH_FIELDS),
            "type": "cross_fields",
            "operator": "and",
        }
    }


def _first_words(text: str) -> str:
    words = list(_WORD.finditer(text))
    return text if len(words) <= MAX_QUERY_WORDS else text[: words[MAX_QUERY_WORDS - 1].end()]


def filtered_query(query: SearchQuery) -> dict[str, Any]:
    return {"bool": {"must": [text_clause(query)], "filter": filter_clauses(query)}}


def search_body(query: SearchQuery) -> dict[str, Any]:
    """Keyword arguments of `Elasticsearch.search` for a SearchQuery."""
    body: dict[str, Any] = {"size": query.limit}
    if query.offset:
        body["from"] = query.offset
    if not query.text.strip() or query.sort == "newest":
        body["sort"] = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
        body["track_scores"] = True
    # A story's original outranks its copies, so a collapsed hit shows the original.
    original = {"bool": {"must_not": [{"exists": {"field": "duplicate_of"}}], "boost": 0.5}}
    body["query"] = {
        "bool": {"must": [text_clause(query)], "should": [original], "filter": filter_clauses(query)}
    }
    if query.collapse:
        # One hit per story, its best; inner_hits of size 0 still count the story's matching copies.
        body["collapse"] = {"field": "cluster_id", "inner_hits": {"name": "story", "size": 0}}
    body["highlight"] = {
        "pre_tags": [HIGHLIGHT_START],
        "post_tags": [HIGHLIGHT_END],
        "fields": {
            "text": {"fragment_size": SNIPPET_CHARS, "number_of_fragments": 1, "no_match_size": SNIPPET_CHARS}
        },
    }
    return body


def stats_body(query: SearchQuery, top: int) -> dict[str, Any]:
    def terms(field: str) -> dict[str, Any]:
        return {"terms": {"field": field, "size": top}}

    return {
        "size": 0,
        "track_total_hits": True,
        "query": filtered_query(query),
        "aggs": {
            "per_day": {
                "date_histogram": {
                    "field": "published_at",
                    "calendar_interval": "day",
                    "format": "yyyy-MM-dd",
                    "min_doc_count": 0,  # empty days are drawn too
                }
            },
            "per_source": terms("source"),
            "per_language": terms("language"),
            "top_entities": terms("entities"),
            "top_keywords": terms("keywords"),
            "duplicates": {"filter": {"exists": {"field": "duplicate_of"}}},
            "stories": {"cardinality": {"field": "cluster_id"}},
        },
    }


def daily_per_source_body(since: datetime, sources: int) -> dict[str, Any]:
    """Documents first seen per source (the `sources` busiest) and day, from `since` on."""
    return {
        "size": 0,
        "query": {"range": {"first_seen_at": {"gte": since.isoformat()}}},
        "aggs": {
            "per_source": {
                "terms": {"field": "source", "size": sources},
                "aggs": {
                    "per_day": {
                        "date_histogram": {"field": "first_seen_at", "calendar_interval": "day", "format": "yyyy-MM-dd"}
                    }
                },
            }
        },
    }


def buckets(aggregation: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    return tuple(
        (str(bucket.get("key_as_string", bucket["key"])), int(bucket["doc_count"]))
        for bucket in aggregation["buckets"]
    )
