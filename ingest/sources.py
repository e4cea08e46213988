"""The sources file: what to poll. `load_sources()` reports every problem at once, with its line.

Never fetches anything; it only reads and validates `sources.yaml`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from ingest.client import check_allow_entry
from ingest.errors import SourcesFileError
from ingest.jobs import ReusePolicy, SourceSnapshot
from ingest.keep import parse_keep_s
from ingest.listing import check_pattern, check_selector

SourceKind = Literal["rss", "atom", "jsonfeed", "sitemap", "site", "page"]

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
_MIN_POLL_INTERVAL_S = 30
# Far more than any real sources file holds (thousands of sources), far less than an alias bomb makes.
_MAX_VALUES = 200_000
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _web_or_file_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.hostname:
        return value
    if parts.scheme == "file" and parts.path:
        return value
    raise ValueError(f"{value!r} is not an http(s) or file: URL")


def parse_duration_s(value: object) -> int:
    """'90s', '15m', '1h30m', '2d' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (try 15m)")
    if isinstance(value, int | float):
        return int(value)
    text = str(value)
    match = _DURATION.match(text)
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration (try 15m)")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


class ScrapeHints(BaseModel):
    """A `page` source's optional hints: more listing pages, URL patterns, where links and bodies are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    listing_urls: tuple[str, ...] = ()
    include: tuple[str, ...] = ()  # regexes searched in a link's URL: only matching links are taken
    exclude: tuple[str, ...] = ()  # regexes searched in a link's URL: matching links are never taken
    link_selector: str | None = None  # CSS: links are read only inside these elements
    body_selector: str | None = None  # CSS: handed to the worker, for sites generic extraction misreads
    max_new_links: int = Field(50, ge=1, le=1000)  # per poll, newest first; the rest come next poll
    backfill_pages: int = Field(3, ge=1, le=50)  # first poll: pages read per listing, following "next"
    extra_domains: tuple[str, ...] = ()  # other hosts or domains whose links count as the site's own

    @field_validator("include", "exclude")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            check_pattern(pattern)
        return value

    @field_validator("link_selector", "body_selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        return None if value is None else check_selector(value)

    @field_validator("listing_urls")
    @classmethod
    def _listing_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            _web_or_file_url(url)
        return value

    @field_validator("extra_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for domain in value:
            if not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*", domain):
                raise ValueError(f"{domain!r} is not a host name (no scheme, no path: news.example.com)")
        return tuple(d.lower() for d in value)


class Source(BaseModel):
    """One feed to poll. A `file:` URL reads only files under the feed's own folder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    url: str
    kind: SourceKind = "rss"
    poll_interval_s: int = Field(900, alias="poll_interval", ge=_MIN_POLL_INTERVAL_S)
    # The adaptive interval stays between these (default: never faster than poll_interval,
    # at most four times slower for a feed that rarely changes).
    min_interval_s: int | None = Field(None, alias="min_interval", ge=_MIN_POLL_INTERVAL_S)
    max_interval_s: int | None = Field(None, alias="max_interval", ge=_MIN_POLL_INTERVAL_S)
    tags: tuple[str, ...] = ()
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}$")
    enabled: bool = True
    allow_hosts: tuple[str, ...] = Field(
        (),
        description="host:port pairs or networks (10.0.0.0/8[:port]) this source may reach"
        " even though they are not public addresses",
    )
    scrape: ScrapeHints | None = None  # `page` sources only
    # Whole lines this site prints that are not the story, dropped when cleaning (case and outer
    # punctuation ignored); a line that reads as a sentence is kept whatever this says.
    noise_lines: tuple[Annotated[str, Field(min_length=1, max_length=200)], ...] = Field((), max_length=200)
    # How long this source's articles are kept ("365d", "12w", "48h"; "0" for ever), in seconds once
    # parsed; unset: the global `retention.keep` (workers/retention.py).
    keep: int | None = None
    # What is stored of an article whose publisher reserves reuse (tdm-reservation, noarchive, noindex):
    # full (everything, flagged), metadata (title, metadata and a snippet) or skip (nothing); unset: the
    # global `rights.reuse_reserved` (ingest/settings.py), itself `metadata` unless changed.
    reuse_reserved: ReusePolicy | None = None

    @field_validator("scrape")
    @classmethod
    def _scrape_only_for_pages(cls, value: ScrapeHints | None, info: ValidationInfo) -> ScrapeHints | None:
        kind = info.data.get("kind")
        if value is not None and kind is not None and kind != "page":
            raise ValueError(f"only `kind: page` sources take scrape hints (this one is {kind})")
        return value

    @field_validator("poll_interval_s", "min_interval_s", "max_interval_s", mode="before")
    @classmethod
    def _duration(cls, value: object) -> int | None:
        return None if value is None else parse_duration_s(value)

    @field_validator("keep", mode="before")
    @classmethod
    def _keep_period(cls, value: object) -> int | None:
        return None if value is None else parse_keep_s(value)

    @field_validator("allow_hosts")
    @classmethod
    def _allow_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            check_allow_entry(entry)
        return value

    @model_validator(mode="after")
    def _interval_bounds(self) -> Source:
        if self.min_bound_s > self.poll_interval_s or self.max_bound_s < self.poll_interval_s:
            raise ValueError(
                f"min_interval ({self.min_bound_s}s) <= poll_interval ({self.poll_interval_s}s)"
                f" <= max_interval ({self.max_bound_s}s) does not hold"
            )
        return self

    @property
    def min_bound_s(self) -> int:
        return self.min_interval_s if self.min_interval_s is not None else self.poll_interval_s

    @property
    def max_bound_s(self) -> int:
        return self.max_interval_s if self.max_interval_s is not None else 4 * self.poll_interval_s

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        return _web_or_file_url(value)

    @property
    def is_local(self) -> bool:
        return self.url[:5].lower() == "file:"  # asked per request: no full URL split

    @property
    def local_root(self) -> Path | None:
        """The folder a file: source may read from: the one holding its feed."""
        return Path(urlsplit(self.url).path).parent if self.is_local else None

    @property
    def scrape_hints(self) -> ScrapeHints:
        """A page source's hints, the defaults when it gives none."""
        return self.scrape or _NO_HINTS

    def snapshot(self) -> SourceSnapshot:
        return SourceSnapshot(
            name=self.name,
            kind=self.kind,
            url=self.url,
            tags=self.tags,
            language=self.language,
            body_selector=self.scrape.body_selector if self.scrape else None,
            noise_lines=self.noise_lines,
            reuse_reserved=self.reuse_reserved,
        )


_NO_HINTS = ScrapeHints()


class SourcesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: tuple[Source, ...]

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesFile:
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"source name {source.name!r} is used twice")
            seen.add(source.name)
        return self

    @property
    def enabled(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.enabled)


def load_sources(path: Path) -> SourcesFile:
    """Read and validate a sources file; raise SourcesFileError listing every problem."""
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourcesFileError(label, [_not_utf8(label, path)]) from exc
    except OSError as exc:
        raise SourcesFileError(label, [f"{label}: cannot be read: {exc}"]) from exc
    try:
        document = _load_yaml(label, text)
        if not isinstance(document, CommentedMap):
            raise SourcesFileError(label, [f"{label}:1 expected a mapping with a 'sources' list"])
        _resolve_local_urls(document, path.parent)
        plain = _plain(label, document)
    except RecursionError as exc:
        # ruamel reads nested lists and mappings recursively: nesting hundreds deep exhausts the stack.
        line = _line_at(text, _deep_nesting_offset(text))
        raise SourcesFileError(label, [f"{label}:{line} nested too deeply (lists or mappings inside each other)"]) from exc
    try:
        return SourcesFile.model_validate(plain)
    except ValidationError as exc:
        problems = sorted(
            (_describe(label, document, error) for error in exc.errors()), key=_line_number
        )
        raise SourcesFileError(label, problems) from exc


def _load_yaml(label: str, text: str) -> Any:
    try:
        with warnings.catch_warnings():
            # YAML lets a later anchor reuse a name (an alias means the latest); ruamel warns about it, which
            # would print a library warning, or fail under -W error, for a valid file.
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise SourcesFileError(label, [f"{label}:{line} not valid YAML: {exc.problem}"]) from exc
    except ReaderError as exc:
        # Control characters are refused by the reader, which knows only the character offset.
        line = _line_at(text, exc.position)
        character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise SourcesFileError(label, [f"{label}:{line} not valid YAML: {exc.reason} ({character})"]) from exc
    except TypeError as exc:
        # ruamel builds a key that is a list or mapping as a tuple, which fails when it holds a mapping.
        line = _complex_key_line(text)
        raise SourcesFileError(label, [f"{label}:{line} not valid here: a key must be plain text ({exc})"]) from exc


def _deep_nesting_offset(text: str, limit: int = 100) -> int:
    """Where flow brackets first nest `limit` deep (0 when they never do: block nesting)."""
    depth = 0
    for offset, char in enumerate(text):
        depth += 1 if char in "[{" else -1 if char in "]}" else 0
        if depth >= limit:
            return offset
    return 0


def _not_utf8(label: str, path: Path) -> str:
    """Where a file that is not UTF-8 goes wrong: the line of its first undecodable byte."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = raw[: exc.start].decode("utf-8")
        line = _line_at(prefix, len(prefix))
        return f"{label}:{line} not UTF-8 text (byte 0x{raw[exc.start]:02x}): save the file as UTF-8"
    return f"{label}:1 not UTF-8 text: save the file as UTF-8"


def _complex_key_line(text: str) -> int:
    """1-based line of the first mapping key that is itself a list or mapping (1 if none is found)."""
    pending: list[Any] = [YAML(typ="rt").compose(text)]
    while pending:
        node = pending.pop()
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if not isinstance(key, ScalarNode):
                    return int(key.start_mark.line) + 1
                pending.append(value)
        elif isinstance(node, SequenceNode):
            pending.extend(node.value)
    return 1


def _line_at(text: str, offset: int) -> int:
    """1-based line of a character offset, counting line breaks as read_text and YAML do."""
    return len(_LINE_BREAK.findall(text[:offset])) + 1


def _resolve_local_urls(document: CommentedMap, base: Path) -> None:
    """Relative `file:` URLs are relative to the sources file, so a checkout works anywhere."""
    sources = document.get("sources")
    if not isinstance(sources, CommentedSeq):
        return
    for item in sources:
        if not isinstance(item, CommentedMap) or not isinstance(item.get("url"), str):
            continue
        url: str = item["url"]
        if url.startswith("file:") and not url.startswith("file:/"):
            item["url"] = (base / url.removeprefix("file:")).resolve().as_uri()


def _plain(label: str, document: CommentedMap) -> Any:
    """The document as plain dicts and lists, refusing one that aliases expand past _MAX_VALUES
    (nine lines of anchors, each listing the previous one ten times, make a billion values)."""
    count = 0

    def plain(node: Any, line: int) -> Any:
        nonlocal count
        count += 1
        if isinstance(node, CommentedMap | CommentedSeq):
            line = node.lc.line + 1  # the innermost list or mapping being expanded, for the message
        if count > _MAX_VALUES:
            raise SourcesFileError(
                label, [f"{label}:{line} more than {_MAX_VALUES} values once aliases (*name) are expanded: use fewer aliases"]
            )
        if isinstance(node, CommentedMap):
            return {str(k): plain(v, line) for k, v in node.items()}
        if isinstance(node, CommentedSeq):
            return [plain(v, line) for v in node]
        return node

    return plain(document, 1)


def _describe(label: str, document: CommentedMap, error: ErrorDetails) -> str:
    location = [part for part in error["loc"] if not _is_pydantic_tag(part)]
    line = _line_of(document, location)
    where = _dotted(location)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling)"
    elif error["type"] == "missing":
        message = "is required"
    elif error["type"] != "value_error" and isinstance(error["input"], str | int | float | bool):
        message = f"{error['input']!r}: {message}"
    if "poll_interval" in where and error["type"] == "greater_than_equal":
        message = f"{error['input']!r} is too short: the minimum is {_MIN_POLL_INTERVAL_S}s"
    return f"{label}:{line} {where}: {message}" if where else f"{label}:{line} {message}"


def _line_number(problem: str) -> int:
    match = re.search(r":(\d+) ", problem)
    return int(match.group(1)) if match else 0


def _is_pydantic_tag(part: object) -> bool:
    # Union/function validators insert tags such as 'function-after[...]' into locations.
    return isinstance(part, str) and "[" in part


def _dotted(location: Sequence[int | str]) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _line_of(document: CommentedMap, location: Sequence[int | str]) -> int:
    """1-based line of the deepest node of `location` that exists in the file."""
    node: Any = document
    line = 1
    for part in location:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line
