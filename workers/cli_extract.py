"""`newsingest extract PATH... [--url URL] [--json]`: what the pipeline makes of saved pages, for finding out
why a site's pages come out wrong.

Runs extraction, cleaning and enrichment (prepare) on local HTML files or whole directories, one file at a
time in this process. Never touches dedupe state, learned boilerplate or the index.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charset_normalizer import from_bytes

from ingest.jobs import ArticleJob, SourceSnapshot
from ingest.settings import Settings
from workers.errors import PermanentError

if TYPE_CHECKING:
    from workers.pipeline import Draft

EXIT_OK, EXIT_FAILED = 0, 1
PAGE_SUFFIXES = (".html", ".htm", ".xhtml")


def register(commands: Any, _sources_commands: Any) -> None:
    extract = commands.add_parser(
        "extract", help="run extraction, cleaning and enrichment on saved HTML files and print the documents"
    )
    extract.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="HTML files, or directories of them")
    extract.add_argument("--url", help="the URL the page was served under (default: its file: URL)")
    extract.add_argument("--json", action="store_true", help="one JSON document per file and line")
    extract.add_argument(
        "--body-selector", help="a CSS selector for the story, as a source's body_selector (try one before adding it)"
    )
    extract.set_defaults(command=run_extract)


def run_extract(_settings: Settings, args: argparse.Namespace) -> int:
    failed = 0
    for path in page_files(args.paths):
        try:
            draft = extract_file(path, args.url, args.body_selector)
        except (PermanentError, OSError) as exc:
            failed += 1
            error = {"path": str(path), "error_type": type(exc).__name__, "error": str(exc)}
            print(json.dumps(error, ensure_ascii=False) if args.json else f"{path}: {error['error_type']}: {exc}")
            continue
        print(json.dumps(_document(path, draft), ensure_ascii=False, default=str) if args.json else _report(path, draft))
    return EXIT_FAILED if failed else EXIT_OK


def page_files(paths: list[Path]) -> Iterator[Path]:
    """The files named, and the HTML files under the directories named, each in path order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PAGE_SUFFIXES)
        else:
            yield path


def extract_file(path: Path, url: str | None = None, body_selector: str | None = None) -> Draft:
    """prepare() on one saved page, as if fetched from `url` (its file: URL by default) for a source with
    `body_selector`."""
    page_url = url or path.resolve().as_uri()
    job = ArticleJob(
        url=page_url,
        final_url=page_url,
        fetched_at=datetime.now(UTC),
        status=200,
        html=_decode(path.read_bytes()),
        source=SourceSnapshot(name="extract", kind="page", url=page_url, body_selector=body_selector),
        discovered_via="page",
    )
    from workers.pipeline import prepare  # here: registering the command must not load the models' code

    return prepare(job)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # A page saved from a site in another charset: guess it, as a browser would.
        best = from_bytes(data).best()
        return str(best) if best is not None else data.decode("utf-8", errors="replace")


def _document(path: Path, draft: Draft) -> dict[str, Any]:
    return {"path": str(path), "id": draft.doc_id, "content_hash": draft.content_hash, **draft.fields}


def _report(path: Path, draft: Draft) -> str:
    fields = draft.fields
    head = [
        f"== {path}",
        f"title:      {fields['title'] or '(none)'}",
        f"url:        {fields['canonical_url']}" + (f"  (claimed, not trusted: {fields['canonical_claim']})" if fields["canonical_claim"] else ""),
        f"extraction: {fields['extraction_path']} · language {fields['language'] or '?'} · {fields['word_count']} words",
        f"authors:    {', '.join(fields['authors']) or '(none)'} · published {fields['published_at'] or '(unknown)'}",
        f"places:     {', '.join(fields['entities']) or '(none)'}",
        f"keywords:   {', '.join(fields['keywords'])}",
        f"summary:    {fields['summary'] or ''}",
        "",
    ]
    return "\n".join(head) + str(fields["text"]) + "\n"

