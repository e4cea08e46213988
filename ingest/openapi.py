"""The OpenAPI 3.1 description of `newsingest serve` (served at /api/v1/openapi.json). Pure data.

The limits shown are the defaults of ApiSettings; a deployment may set others (NEWSINGEST_API__*).
"""

from __future__ import annotations

from typing import Any

from ingest.settings import ApiSettings

_LIMITS = ApiSettings()

_FILTERS: list[dict[str, Any]] = [
    {"name": "source", "in": "query", "schema": {"type": "string"}, "description": "source name (case-insensitive)"},
    {"name": "domain", "in": "query", "schema": {"type": "string"}, "description": "site domain, without www."},
    {"name": "lang", "in": "query", "schema": {"type": "string"}, "description": "ISO 639-1 language code"},
    {"name": "tag", "in": "query", "schema": {"type": "string"}, "description": "a tag of the source"},
    {"name": "entity", "in": "query", "schema": {"type": "string"}, "description": "a person, place or organisation"},
    {"name": "story", "in": "query", "schema": {"type": "string"}, "description": "a story's cluster_id: its copies"},
    {"name": "since", "in": "query", "schema": {"type": "string"}, "description": "24h, 7d, 2w or 2026-11-25"},
    {"name": "until", "in": "query", "schema": {"type": "string"}, "description": "as since; exclusive"},
]
_ERROR = {
    "description": "one-line error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
# Answers of the guard in front of every route (ingest/http_guard.py).
_GUARDED = {"401": _ERROR, "429": _ERROR}
_TEXT = {
    "name": "q", "in": "query", "schema": {"type": "string", "maxLength": _LIMITS.max_query_chars},
    "description": "all words must match; operators, wildcards and field names are plain text",
}


def _ok(schema: str) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "newsingest",
        "version": "1",
        "description": "Read-only search over the articles newsingest ingested (Elasticsearch or SQLite).",
    },
    "paths": {
        "/api/v1/search": {
            "get": {
                "summary": "Full-text search; one hit per story unless all_copies",
                "parameters": [
                    _TEXT,
                    *_FILTERS,
                    {"name": "sort", "in": "query", "schema": {"enum": ["relevance", "newest"]}},
                    {"name": "all_copies", "in": "query", "schema": {"type": "boolean"}},
                    {
                        "name": "limit", "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": _LIMITS.max_page_size, "default": 10},
                    },
                    {
                        "name": "offset", "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "default": 0},
                        "description": f"hits to skip; offset + limit <= {_LIMITS.max_result_window}",
                    },
                ],
                "responses": {"200": _ok("SearchResult"), "400": _ERROR, **_GUARDED, "503": _ERROR},
            }
        },
        "/api/v1/articles/{id}": {
            "get": {
                "summary": "One article by its id",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _ok("Article"), **_GUARDED, "404": _ERROR, "503": _ERROR},
            }
        },
        "/api/v1/stats": {
            "get": {
                "summary": "Articles per day, source and language; top entities and keywords; duplicates",
                "parameters": [
                    _TEXT,
                    *_FILTERS,
                    {"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                ],
                "responses": {"200": _ok("Stats"), "400": _ERROR, **_GUARDED, "503": _ERROR},
            }
        },
        "/healthz": {
            "get": {
                "summary": "The process is up (no token needed)",
                "security": [],
                "responses": {"200": {"description": "up"}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "The index can be read",
                "responses": {"200": {"description": "ready"}, **_GUARDED, "503": _ERROR},
            }
        },
    },
    # Required when the server has a token file (NEWSINGEST_API__TOKEN_FILE); open on loopback without one.
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
            "Article": {"type": "object", "description": "the stored document (see README: Querying)"},
            "Hit": {
                "allOf": [
                    {"$ref": "#/components/schemas/Article"},
                    {
                        "type": "object",
                        "properties": {
                            "score": {"type": "number"},
                            "snippet": {"type": "string", "description": "empty when the publisher said nosnippet"},
                            "snippet_html": {"type": "string", "description": "escaped; matches in <mark>"},
                            "copies": {"type": "integer", "description": "matching documents of this story"},
                        },
                    },
                ]
            },
            "SearchResult": {
                "type": "object",
                "properties": {"hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}},
            },
            "Bucket": {"type": "object", "properties": {"key": {"type": "string"}, "count": {"type": "integer"}}},
            "Stats": {
                "type": "object",
                "properties": {
                    "documents": {"type": "integer"},
                    "stories": {"type": "integer"},
                    "duplicates": {"type": "integer"},
                    **{
                        name: {"type": "array", "items": {"$ref": "#/components/schemas/Bucket"}}
                        for name in ("per_day", "per_source", "per_language", "top_entities", "top_keywords")
                    },
                },
            },
        }
    },
}
