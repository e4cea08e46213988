"""`newsingest sources check --preview`: for each page source, read its listing pages once and show
which links it would take and which it would skip, and why, so include/exclude can be tuned before
the source is enabled. Reads no state and writes none.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from ingest.cli_sources import then_for_kind
from ingest.client import HttpClient
from ingest.listing import LinkDecision
from ingest.scrape import ListingRead, read_listings
from ingest.settings import Settings
from ingest.sources import Source

EXIT_OK, EXIT_FAILED = 0, 1
SKIP_EXAMPLES = 8  # links shown per skip rule; the count is always whole


def register(commands: Any, sources_commands: Any) -> None:
    check = sources_commands.choices.get("check")
    if check is not None:
        check.add_argument(
            "--preview", action="store_true", help="read page sources' listing pages: the links they would take and skip"
        )
        check.set_defaults(command=then_for_kind(check.get_default("command"), "preview", "page", _preview_all))


async def _preview_all(settings: Settings, pages: list[Source]) -> int:
    if not pages:
        print("no page sources: nothing to preview")
        return EXIT_OK
    code = EXIT_OK
    async with HttpClient(settings.http) as client:
        for source in pages:
            reads = await read_listings(client, source)
            print("\n".join(preview_lines(source, reads)))
            if any(read.error for read in reads):
                code = EXIT_FAILED
    return code


def preview_lines(source: Source, reads: list[ListingRead]) -> list[str]:
    """The preview of one source: per listing, then its links taken and skipped, grouped by rule."""
    decisions: dict[str, LinkDecision] = {}
    lines = [f"\n{source.name} (page source)"]
    for read in reads:
        if read.error is not None:
            lines.append(f"  listing {read.url}: unreadable: {type(read.error).__name__}: {read.error}")
            continue
        for page in read.pages:
            to_take = sum(d.take for d in page.decisions)
            lines.append(f"  listing {page.url}: {len(page.decisions)} links, {to_take} to take")
            if page.next_page:
                lines.append(f"    next page: {page.next_page}")
            for decision in page.decisions:
                known = decisions.get(decision.url)
                if known is None or (decision.take and not known.take):
                    decisions[decision.url] = decision
    taken = [d for d in decisions.values() if d.take]
    skipped: dict[str, list[LinkDecision]] = defaultdict(list)
    for decision in decisions.values():
        if not decision.take:
            skipped[decision.rule].append(decision)
    host = urlsplit(source.url).netloc
    lines.append(f"  take ({len(taken)}):")
    lines += [f"    {_short(d.url, host)}  \"{_clip(d.text)}\"  [{d.detail}]" for d in taken]
    if not taken:
        lines.append("    nothing: check the include patterns and the link selector")
    lines.append(f"  skip ({sum(len(group) for group in skipped.values())}):")
    for rule, group in sorted(skipped.items(), key=lambda item: -len(item[1])):
        lines.append(f"    {rule} ({len(group)}):")
        for decision in group[:SKIP_EXAMPLES]:
            detail = f"  [{decision.detail}]" if decision.detail else ""
            lines.append(f"      {_short(decision.url, host)}{detail}")
        if len(group) > SKIP_EXAMPLES:
            lines.append(f"      ... and {len(group) - SKIP_EXAMPLES} more")
    return lines


def _short(url: str, host: str) -> str:
    parts = urlsplit(url)
    if parts.netloc != host:
        return url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
