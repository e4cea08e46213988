"""The Elasticsearch layout of newsingest: index names, the index template and the dead-letter mapping.

The article mapping is derived from `Article` (the `es` entry of each field's json_schema_extra), so
the model stays the one source of truth. Pure: builds dictionaries, never talks to a server.
"""

from __future__ import annotations

import hashlib
from typing import Any

from workers.documents import Article, DeadLetter

# Bump whenever a field is added to Article or a field's `es` entry changes: a new version means a
# new concrete index (`{alias}-v{N}`) and an alias swap, never an in-place mapping change.
MAPPING_VERSION = 2  # 2: the reuse fields (robots, tdm_*, license*, paywalled, stored)

# Above the priority (100) of the server's built-in templates (logs-*-*, metrics-*-*), so an
# alias such as "logs-news" still gets our template instead of colliding with theirs.
TEMPLATE_PRIORITY = 200

# Fields boosted at query time (never at index time: index-time boosts are gone from ES).
SEARCH_FIELDS: tuple[str, ...] = ("title^3", "text", "summary")


def index_name(alias: str) -> str:
    """The concrete index behind `alias` for this mapping version."""
    return f"{alias}-v{MAPPING_VERSION}"


def template_name(alias: str) -> str:
    return f"{alias}-articles"


def dead_letter_index_name(alias: str) -> str:
    # Outside the template's `{alias}-v*` pattern on purpose: dead letters have their own mapping.
    return f"{alias}-deadletters"


def tombstone_index_name(alias: str) -> str:
    # Beside the alias like the dead letters (workers.index.elastic_removal), outside `{alias}-v*` too.
    return f"{alias}-tombstones"


def article_properties() -> dict[str, Any]:
    """ES field mappings of every indexed Article field; fields marked `es: None` live in _source only."""
    properties: dict[str, Any] = {}
    for name, field in Article.model_fields.items():
        extra = field.json_schema_extra
        if not isinstance(extra, dict) or "es" not in extra:
            # An unmarked field would silently be unsearchable: make the author decide.
            raise ValueError(f"Article.{name} has no 'es' entry in json_schema_extra (None: _source only)")
        if extra["es"] is not None:
            properties[name] = extra["es"]
    return properties


def source_only_fields() -> frozenset[str]:
    """Article fields kept in _source but deliberately not indexed."""
    return frozenset(
        name
        for name, field in Article.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("es", ...) is None
    )


def article_mappings() -> dict[str, Any]:
    return {
        # Stray fields stay in _source but never grow the mapping (settled decision 7).
        "dynamic": False,
        "_meta": {"mapping_version": MAPPING_VERSION, "model": "workers.documents.Article"},
        "properties": article_properties(),
    }


def index_template(alias: str) -> dict[str, Any]:
    """Keyword arguments of `indices.put_index_template` for the article indices behind `alias`."""
    return {
        "index_patterns": [f"{alias}-v*"],
        "priority": TEMPLATE_PRIORITY,
        "version": MAPPING_VERSION,
        "meta": {"mapping_version": MAPPING_VERSION, "alias": alias},
        "template": {
            "settings": {
                "number_of_shards": 1,
                # Green on one node, one replica as soon as a second node joins.
                "auto_expand_replicas": "0-1",
            },
            "mappings": article_mappings(),
        },
    }


def dead_letter_mappings() -> dict[str, Any]:
    """Small explicit mapping: the `job` body stays in _source only (it is for replay, not search)."""
    keyword: dict[str, Any] = {"type": "keyword"}
    fields: dict[str, Any] = {
        "job_id": keyword,
        "url": {"type": "keyword", "ignore_above": 2048},
        "source": keyword,
        "stage": keyword,
        "error_type": keyword,
        "reason": {"type": "text"},
        "failed_at": {"type": "date"},
    }
    unknown = set(fields) - set(DeadLetter.model_fields)
    if unknown:  # a renamed DeadLetter field must not leave a dead mapping entry behind
        raise ValueError(f"dead-letter mapping names fields DeadLetter lacks: {sorted(unknown)}")
    return {"dynamic": False, "_meta": {"mapping_version": MAPPING_VERSION}, "properties": fields}


def dead_letter_id(letter: DeadLetter) -> str:
    """Stable id of a dead letter: the same failure recorded twice (a redelivered job) is kept once."""
    key = "\x00".join((letter.job_id, letter.stage, letter.url or ""))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
