"""process(): one ArticleJob -> one Article (extract -> clean -> canonical URL -> enrich -> dedupe).

prepare() is the CPU-bound part and touches no shared state, so it runs in a process pool; it also
computes the MinHash signature. finish() is the one step with state, run by whoever owns the StoryState:
learned per-site boilerplate (count this article's short lines, drop those the site repeats), then the
exact-text claim and the near-duplicate look-up, which together give the article its story (cluster).
Never indexes, retries or logs: tasks.py decides what an error means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from ingest.jobs import DEFAULT_REUSE_POLICY, ArticleJob, ReusePolicy
from workers.boilerplate import candidate_keys, drop_lines, lasting_text
from workers.clean import drop_noise_counted, noise_keys
from workers.dedupe import canonical_url, clean_url, content_hash, find_duplicate
from workers.documents import Article, document_id
from workers.enrich import enrich, lead_summary, reading_time_s
from workers.errors import NotAnArticle, ReuseWithheld
from workers.extract import MIN_TEXT_CHARS, check_content_type, extract, fragment_text
from workers.neardup import signature
from workers.people import find_people_and_orgs
from workers.ports import StoryState
from workers.rights import Rights, read_rights

SNIPPET_MAX_CHARS = 300  # what a metadata-only document keeps of its summary


@dataclass(frozen=True)
class Draft:
    """An Article but for what needs shared state: `fields` are Article's keyword arguments except
    id, content_hash, cluster_id, duplicate_of, first_seen_at and updated_at. Picklable."""

    doc_id: str
    content_hash: str
    fields: dict[str, Any]
    signature: tuple[int, ...] = ()  # MinHash of the text (workers.neardup)
    # The extracted text's non-blank lines and those the noise filter dropped (extraction health).
    lines_in: int = 0
    lines_dropped: int = 0


def prepare(job: ArticleJob, people_and_orgs: bool = False) -> Draft:
    """Everything about one job that needs no shared state. `people_and_orgs` adds the people and
    organisations an English text names to its entities (EnrichSettings; the optional `ner` extra).

    Raises NotAnArticle or UnsupportedContent (PermanentError) with the reason and the URL.
    """
    url, entry = job.final_url, job.entry
    check_content_type(job.headers.content_type, url)
    rights = read_rights(job.headers, job.html, url)
    stored = _stored(rights, job.source.reuse_reserved or DEFAULT_REUSE_POLICY, url)
    html = job.html
    if not 200 <= job.status < 300:
        # An error page is never the article; the feed entry may still carry it.
        if entry is None or not (entry.content or entry.summary):
            raise NotAnArticle(f"HTTP status {job.status}", url)
        html = ""
    extracted = extract(html, url, entry, job.source.body_selector)
    title = extracted.title or (entry.title if entry else None)
    cleaned = drop_noise_counted(extracted.text, title, noise_keys(job.source.noise_lines))
    text = cleaned.text
    if len(text) < MIN_TEXT_CHARS:
        raise NotAnArticle(f"text too short: {len(text)} chars once cleaned", url)
    canonical, untrusted_claim = canonical_url(url, extracted.canonical_claim, job.source.url)
    enrichment = enrich(text, job.source.language, extracted.language)
    entities = enrichment.entities
    if people_and_orgs:
        entities = entities + find_people_and_orgs(text, enrichment.language)
    summary = fragment_text(entry.summary or "") if entry else ""
    # The page's own date first: a feed re-posting an article gives it a new pubDate.
    published = extracted.date or (entry.published if entry else None) or (entry.updated if entry else None)
    fields: dict[str, Any] = {
        # Re-deliveries with tracking parameters update this document: show the clean address.
        "url": clean_url(url),
        "canonical_url": canonical,
        "canonical_claim": untrusted_claim,
        "source": job.source.name,
        "feed_url": job.source.url if job.discovered_via in ("feed", "sitemap") else None,
        "domain": _domain(canonical),
        "title": title,
        "text": text,
        "summary": summary or extracted.description or lead_summary(text),
        "authors": extracted.authors or (entry.authors if entry else ()),
        "published_at": published,
        "fetched_at": job.fetched_at,
        "language": enrichment.language,
        "word_count": enrichment.word_count,
        "reading_time_s": enrichment.reading_time_s,
        "keywords": enrichment.keywords,
        "entities": entities,
        "tags": job.source.tags,
        # The feed's categories when it has some; else the page's own sections and tags.
        "categories": (entry.categories if entry else ()) or _unique(extracted.categories + extracted.tags),
        "image_url": (entry.image if entry else None) or extracted.image,
        "site_name": extracted.site_name,
        "discovered_via": job.discovered_via,
        "extraction_path": extracted.extraction_path,
        **_rights_fields(rights, stored),
    }
    if stored == "metadata":
        # Kept: title, metadata and a snippet. The hash and signature below still come from the text, so a
        # copy of this story elsewhere is still recognised; the text itself is not stored.
        fields.update(text="", summary=_snippet(fields["summary"]))
    return Draft(
        doc_id=document_id(canonical),
        content_hash=content_hash(text),
        fields=fields,
        signature=signature(lasting_text(text)),
        lines_in=cleaned.lines_in,
        lines_dropped=cleaned.lines_dropped,
    )


def finish(draft: Draft, state: StoryState, now: datetime) -> Article:
    """The Article, without its site's learned boilerplate, in its story's cluster: its own id when it
    copies no earlier article, else that article's cluster, with `duplicate_of` naming the article.

    `first_seen_at` is `now`: on a re-crawl, the index adapter must keep the value it already stores.
    The signature stays the one of prepare()'s text: it is taken of the lines learning never drops;
    `content_hash` too (the page's text before learning), so it names the page, not the learning.
    """
    fields, digest = draft.fields, draft.content_hash
    candidates = candidate_keys(fields["text"])
    learned = state.observe(fields["domain"], draft.doc_id, candidates.keys(), now)
    if learned:
        text = drop_lines(fields["text"], learned)
        if len(text) >= MIN_TEXT_CHARS:  # a page of nothing but repeated lines keeps them
            words = len(text.split())
            fields = {**fields, "text": text, "word_count": words, "reading_time_s": reading_time_s(words)}
            # The digest stays prepare()'s, a function of the page alone: what was learned meanwhile
            # must not make a redelivered or re-crawled unchanged page look changed (a new version).
    holder = find_duplicate(state, digest, draft.doc_id)
    story = state.admit(draft.doc_id, draft.signature or signature(lasting_text(fields["text"])), holder, now)
    return Article(
        **fields,
        id=draft.doc_id,
        content_hash=digest,
        cluster_id=story.cluster_id,
        duplicate_of=story.duplicate_of,
        first_seen_at=now,
        updated_at=now,
    )


def process(job: ArticleJob, state: StoryState, now: datetime) -> Article:
    """prepare() then finish(), in this process."""
    return finish(prepare(job), state, now)


def _stored(rights: Rights, policy: ReusePolicy, url: str) -> Literal["full", "metadata"]:
    """What the source's policy keeps of this page; ReuseWithheld when it keeps nothing."""
    if not rights.reservations or policy == "full":
        return "full"
    if policy == "skip":
        raise ReuseWithheld(f"reuse reserved by the publisher ({', '.join(rights.reservations)}), policy skip", url)
    return "metadata"


def _rights_fields(rights: Rights, stored: str) -> dict[str, Any]:
    return {
        "robots": rights.robots,
        "tdm_reserved": rights.tdm_reserved,
        "tdm_policy": rights.tdm_policy,
        "tdm_signal": rights.tdm_signal,
        "license_url": rights.license_url,
        "license": rights.license,
        "paywalled": rights.paywalled,
        "stored": stored,
    }


def _snippet(summary: str | None) -> str | None:
    """A metadata-only document's summary, cut to a snippet at a word boundary."""
    if not summary or len(summary) <= SNIPPET_MAX_CHARS:
        return summary
    return summary[:SNIPPET_MAX_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _domain(url: str) -> str:
    """The host without "www.", as a filter value; empty for host-less URLs (file:)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # a URL so malformed that canonical_url kept it as given
        return ""
    return host.removeprefix("www.")


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
