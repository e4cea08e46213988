"""The documents the pipeline produces: Article (one per canonical URL) and DeadLetter.

Article's fields carry their index type, so the Elasticsearch mapping and the SQLite
schema are derived from this one model (see workers/index/mapping.py).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingest.jobs import DiscoveredVia
from ingest.redact import redact

# The index type of a field, read by workers.index.mapping.
_KEYWORD: dict[str, Any] = {"es": {"type": "keyword"}}
_DATE: dict[str, Any] = {"es": {"type": "date"}}
_INTEGER: dict[str, Any] = {"es": {"type": "integer"}}
_BOOLEAN: dict[str, Any] = {"es": {"type": "boolean"}}
_URL: dict[str, Any] = {"es": {"type": "keyword", "ignore_above": 2048}}
_STORED: dict[str, Any] = {"es": None}  # kept in _source, not searchable


def _full_text(boost_keyword: bool = False) -> dict[str, Any]:
    mapping: dict[str, Any] = {"type": "text"}
    if boost_keyword:
        mapping["fields"] = {"raw": {"type": "keyword", "ignore_above": 512}}
    return {"es": mapping}


def document_id(canonical_url: str) -> str:
    """Stable id of a document: re-delivery and re-crawls of one URL land on one document."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


class Article(BaseModel):
    """One indexed article. `cluster_id` is its own id unless it duplicates an earlier story."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(json_schema_extra=_KEYWORD)
    url: str = Field(json_schema_extra=_URL)
    canonical_url: str = Field(json_schema_extra=_URL)
    source: str = Field(json_schema_extra=_KEYWORD)
    feed_url: str | None = Field(None, json_schema_extra=_URL)
    domain: str = Field(json_schema_extra=_KEYWORD)
    title: str | None = Field(None, json_schema_extra=_full_text(boost_keyword=True))
    text: str = Field(json_schema_extra=_full_text())
    summary: str | None = Field(None, json_schema_extra=_full_text())
    authors: tuple[str, ...] = Field((), json_schema_extra=_KEYWORD)
    published_at: datetime | None = Field(None, json_schema_extra=_DATE)
    fetched_at: datetime = Field(json_schema_extra=_DATE)
    first_seen_at: datetime = Field(json_schema_extra=_DATE)
    updated_at: datetime = Field(json_schema_extra=_DATE)
    version: int = Field(1, json_schema_extra=_INTEGER)
    language: str | None = Field(None, json_schema_extra=_KEYWORD)
    word_count: int = Field(json_schema_extra=_INTEGER)
    reading_time_s: int = Field(json_schema_extra=_INTEGER)
    keywords: tuple[str, ...] = Field((), json_schema_extra=_KEYWORD)
    entities: tuple[str, ...] = Field((), json_schema_extra=_KEYWORD)
    tags: tuple[str, ...] = Field((), json_schema_extra=_KEYWORD)
    categories: tuple[str, ...] = Field((), json_schema_extra=_KEYWORD)
    image_url: str | None = Field(None, json_schema_extra=_STORED)
    site_name: str | None = Field(None, json_schema_extra=_KEYWORD)
    content_hash: str = Field(json_schema_extra=_KEYWORD)
    cluster_id: str = Field(json_schema_extra=_KEYWORD)
    duplicate_of: str | None = Field(None, json_schema_extra=_KEYWORD)
    discovered_via: DiscoveredVia = Field("feed", json_schema_extra=_KEYWORD)
    extraction_path: str = Field(json_schema_extra=_KEYWORD)
    canonical_claim: str | None = Field(
        None, json_schema_extra=_STORED, description="a canonical URL the page claimed but we did not trust"
    )
    # What the publisher said about reuse (workers/rights.py) and what was kept because of it.
    robots: tuple[str, ...] = Field(
        (), json_schema_extra=_KEYWORD, description="robots directives addressed to us: noarchive, noindex, nosnippet..."
    )
    tdm_reserved: bool = Field(False, json_schema_extra=_BOOLEAN, description="text and data mining rights reserved")
    tdm_policy: str | None = Field(None, json_schema_extra=_URL)
    tdm_signal: Literal["header", "meta", "tdmrep"] | None = Field(
        None, json_schema_extra=_KEYWORD, description="which TDMRep signal set tdm_reserved"
    )
    license_url: str | None = Field(None, json_schema_extra=_URL)
    license: str | None = Field(None, json_schema_extra=_KEYWORD, description='Creative Commons name: "CC-BY-4.0"')
    paywalled: bool = Field(False, json_schema_extra=_BOOLEAN, description="the page says part of it is for subscribers")
    stored: Literal["full", "metadata"] = Field(
        "full", json_schema_extra=_KEYWORD, description="metadata: reuse reserved, the text was not kept"
    )

    @property
    def nosnippet(self) -> bool:
        """The publisher asked for no snippet: outputs show neither summary nor highlight."""
        return "nosnippet" in self.robots

    def to_source(self) -> dict[str, Any]:
        """The JSON body stored in the index."""
        return self.model_dump(mode="json")


DeadLetterStage = Literal["validate", "extract", "process", "index"]


class DeadLetter(BaseModel):
    """A job (or document) that cannot succeed, kept with the reason for a person to look at."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    url: str | None
    source: str | None
    stage: DeadLetterStage
    error_type: str
    reason: str
    failed_at: datetime
    job: dict[str, Any] | None = Field(None, description="the job as received, for replay")

    @model_validator(mode="before")
    @classmethod
    def _without_credentials(cls, data: Any) -> Any:
        # Every store writes DeadLetter objects: masking here keeps feed tokens, URL passwords and
        # Authorization headers out of SQLite and Elasticsearch alike, whoever made the letter.
        if isinstance(data, dict):
            return {key: redact(value) if key in ("url", "reason", "job", "source") else value for key, value in data.items()}
        return data
