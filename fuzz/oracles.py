"""What each fuzz target checks about one input: the exceptions the code promises, and the invariants.

Shared by the atheris targets (fuzz/targets/) and the regression test that replays every stored
crashing input (tests/unit/test_fuzz_regressions.py), so the suite needs no atheris. An oracle
returns normally for an acceptable input and raises AssertionError (or the unexpected exception
itself) otherwise. Inputs are plain bytes, the same bytes libFuzzer stores as a crash file.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from ingest.charsets import decode_body
from ingest.errors import FeedParseError, SourcesFileError
from ingest.feeds import MAX_ENTRIES, ParsedFeed, parse_feed
from ingest.sources import SourcesFile, load_sources
from workers.boilerplate import candidate_keys, drop_lines
from workers.clean import drop_noise, drop_noise_counted, is_sentence
from workers.dedupe import canonical_url, clean_url

FEED_URL = "https://feeds.example.com/news/feed.xml"
# The first byte of a feed input picks how it is read; the rest is the body.
FEED_KINDS: tuple[tuple[str, str | None], ...] = (
    ("rss", None),
    ("rss", "application/rss+xml; charset=utf-8"),
    ("atom", "application/atom+xml"),
    ("jsonfeed", None),
    ("sitemap", None),
    ("rss", "application/feed+json"),
)
_TRACKER_KEYS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "yclid", "twclid"})


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# --- feed parsing (ingest/feeds.py, ingest/charsets.py) -------------------------------------------


def check_feed(data: bytes) -> None:
    """parse_feed() returns a well-formed ParsedFeed or raises FeedParseError naming the URL in one
    line; decode_body() always decodes."""
    decoded = decode_body(data[1:], None)
    assert isinstance(decoded.text, str)
    if not data:
        return
    kind, content_type = FEED_KINDS[data[0] % len(FEED_KINDS)]
    body = data[1:]
    try:
        feed = parse_feed(body, FEED_URL, kind, content_type)
    except FeedParseError as exc:
        message = str(exc)
        assert FEED_URL in message, f"error does not name the feed: {message!r}"
        assert "\n" not in message, f"error is not one line: {message!r}"
        return
    _check_parsed(feed)


def _check_parsed(feed: ParsedFeed) -> None:
    assert len(feed.entries) <= MAX_ENTRIES and len(feed.sitemaps) <= MAX_ENTRIES
    assert len(set(feed.sitemaps)) == len(feed.sitemaps), "a child sitemap is listed twice"
    for entry in feed.entries:
        assert entry.link, "an entry without a link"
        for value in (entry.title, entry.summary, entry.content):
            assert value is None or (value and value == value.strip()), f"untrimmed text {value!r}"
        for when in (entry.published, entry.updated):
            assert when is None or (isinstance(when, datetime) and when.tzinfo is not None)


# --- URL canonicalization (workers/dedupe.py) -----------------------------------------------------


def split_url_input(data: bytes) -> tuple[str, str | None, str | None]:
    """page URL, claimed canonical, source URL: the input's first three lines."""
    parts = _text(data).split("\n", 2)
    url = parts[0]
    claim = parts[1] if len(parts) > 1 else None
    source = parts[2] if len(parts) > 2 else None
    return url, claim, source


def check_url(data: bytes) -> None:
    """canonical_url() never raises, is idempotent, and keeps no fragment and no tracker."""
    url, claim, source = split_url_input(data)
    canonical, untrusted = canonical_url(url, claim, source)
    assert canonical_url(canonical, None, None) == (canonical, None), f"not idempotent: {canonical!r}"
    assert clean_url(canonical) == canonical
    assert "#" not in canonical, f"fragment kept: {canonical!r}"
    if untrusted is not None:
        assert untrusted == (claim or "").strip()
    page = clean_url(url)
    assert canonical in (page, clean_url((claim or "").strip())), "canonical is neither page nor claim"
    scheme = urlsplit(canonical).scheme if _splits(canonical) else ""
    if scheme in ("http", "https"):
        for key, _ in parse_qsl(urlsplit(canonical).query, keep_blank_values=True):
            lowered = key.lower()
            assert not lowered.startswith("utm_") and lowered not in _TRACKER_KEYS, f"tracker kept: {canonical!r}"


def _splits(url: str) -> bool:
    try:
        urlsplit(url)
    except ValueError:
        return False
    return True


# --- the noise filter (workers/clean.py, workers/boilerplate.py) ----------------------------------


def split_noise_input(data: bytes) -> tuple[str, str | None]:
    """The text, and a title when the input starts with a line `TITLE:...`."""
    text = _text(data)
    if text.startswith("TITLE:"):
        title, _, rest = text.partition("\n")
        return rest, title.removeprefix("TITLE:")
    return text, None


def normalized_lines(text: str) -> list[str]:
    """The input's lines as drop_noise promises to see them: NFC, one space between words, no
    zero-width characters (here removed before composing, the order that makes the result NFC)."""
    text = unicodedata.normalize("NFC", re.sub("[\u200b\u2060\ufeff]", "", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [line for line in lines if line]


def check_noise(data: bytes) -> None:
    """drop_noise() never raises, never adds text, keeps every sentence, is idempotent and NFC;
    learned boilerplate never drops a sentence."""
    text, title = split_noise_input(data)
    cleaned = drop_noise_counted(text, title)
    out = cleaned.text
    assert out == drop_noise(text, title)
    assert drop_noise(out, title) == out, "not idempotent"
    assert unicodedata.is_normalized("NFC", out), "result is not NFC"
    kept = [line for line in out.split("\n\n") if line]
    source_lines = normalized_lines(text)
    available = set(source_lines)
    for line in kept:
        assert line in available, f"text that was not in the input: {line!r}"
    for line in source_lines:
        if is_sentence(line):
            assert line in kept, f"a sentence was dropped: {line!r}"
    assert cleaned.lines_in - cleaned.lines_dropped == len(kept)
    every_key = set(candidate_keys(out))
    learned = drop_lines(out, every_key).splitlines()
    for line in kept:
        if is_sentence(line):
            assert line in learned, f"learning dropped a sentence: {line!r}"


# --- the sources-file loader (ingest/sources.py) --------------------------------------------------

_PROBLEM = re.compile(r"^(?P<label>.+?):(?P<line>\d+) \S")
_scratch: Path | None = None


def _scratch_folder() -> Path:
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="fuzz-sources-"))
    return _scratch


def check_sources(data: bytes, folder: Path | None = None) -> None:
    """load_sources() returns a SourcesFile or raises SourcesFileError whose every problem names
    the file and a line of it. The input is written to `folder` (a scratch folder by default)."""
    path = (folder or _scratch_folder()) / "sources.yaml"
    path.write_bytes(data)
    try:
        loaded = load_sources(path)
    except SourcesFileError as exc:
        assert exc.problems, "an error with no problem listed"
        # Lines as YAML counts them (read_text turns \r\n and \r into \n; YAML adds NEL, LS and PS).
        line_count = len(re.findall("\r\n|[\r\n\x85\u2028\u2029]", _text(data))) + 1
        for problem in exc.problems:
            match = _PROBLEM.match(problem)
            assert match and match["label"] == str(path), f"problem does not name the file: {problem!r}"
            line = int(match["line"])
            assert 1 <= line <= line_count, f"line {line} is not in the file: {problem!r}"
        return
    assert isinstance(loaded, SourcesFile)
    assert len({source.name for source in loaded.sources}) == len(loaded.sources)


ORACLES = {"feed": check_feed, "url": check_url, "noise": check_noise, "sources": check_sources}
