"""Writes a target's seed corpus into a work folder, from files already in the repository.

Usage: python -m fuzz.seed TARGET FOLDER. The seeds are made at run time from seeds/, config/ and
tests/fixtures/ (never stored twice in git), plus every stored regression input of the target.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from fuzz.oracles import FEED_KINDS

ROOT = Path(__file__).resolve().parents[1]
MAX_SEED_BYTES = 64 * 1024
_URL = re.compile(rb"https?://[^\s\"'<>]+")


def _files(*patterns: str) -> list[Path]:
    return sorted(p for pattern in patterns for p in ROOT.glob(pattern) if p.is_file())


def _kind_byte(kind: str, content_type: str | None = None) -> bytes:
    return bytes([FEED_KINDS.index((kind, content_type))])


def feed_seeds() -> Iterator[bytes]:
    for path in _files("seeds/feed.xml", "tests/fixtures/feeds/*", "tests/fixtures/sites/*/feed*.xml"):
        body = path.read_bytes()[:MAX_SEED_BYTES]
        if path.suffix == ".json":
            yield _kind_byte("jsonfeed") + body
        elif b"<urlset" in body or b"<sitemapindex" in body:
            yield _kind_byte("sitemap") + body
        else:
            yield _kind_byte("rss") + body
            yield _kind_byte("atom", "application/atom+xml") + body
    for path in _files("tests/fixtures/charsets/*.html"):
        yield _kind_byte("rss") + path.read_bytes()[:MAX_SEED_BYTES]


def url_seeds() -> Iterator[bytes]:
    urls: list[bytes] = []
    for path in _files("seeds/feed.xml", "tests/fixtures/feeds/*", "config/*.yaml"):
        urls.extend(_URL.findall(path.read_bytes()))
    urls = list(dict.fromkeys(urls))[:60]
    crafted = [
        b"https://M.News.Example.com/world/story.amp.html?utm_source=x&id=7&fbclid=abc#top",
        b"http://amp.news.example.co.uk/amp/politics/vote?amp=1&b=2&a=1\nhttps://www.news.example.co.uk/politics/vote",
        b"https://news.example/a?x=1\nhttps://other.example/\nhttps://news.example/",
        b"file:///srv/archive/page.html?x=1#frag\nhttps://news.example/a",
        b"https://[::1]:8080/a?utm_medium=m\nhttps://127.0.0.1/b\n",
    ]
    yield from crafted
    for index, url in enumerate(urls):
        yield url
        if index + 1 < len(urls):
            yield url + b"\n" + urls[index + 1] + b"\n" + url


def noise_seeds() -> Iterator[bytes]:
    for path in _files("seeds/original/*", "seeds/truth/*.txt", "tests/fixtures/corpus/truth/*.txt")[:40]:
        text = path.read_bytes()[:MAX_SEED_BYTES]
        yield text
        first, _, _ = text.partition(b"\n")
        yield b"TITLE:" + first + b"\n" + text


def sources_seeds() -> Iterator[bytes]:
    for path in _files("config/*.yaml", "tests/fixtures/sites/*/sources.yaml"):
        yield path.read_bytes()[:MAX_SEED_BYTES]
    yield b"sources:\n  - name: a\n    url: https://a.example/rss\n    poll_interval: 1h30m\n"
    yield b"sources:\n  - name: p\n    kind: page\n    url: https://p.example/\n    scrape:\n      include: ['/news/']\n      link_selector: 'main a'\n"


SEEDS = {"feed": feed_seeds, "url": url_seeds, "noise": noise_seeds, "sources": sources_seeds}


def write_seeds(target: str, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    # Deeply nested inputs are left out: under atheris's instrumentation their recursion takes >10 s a
    # run (0.3 s without), and each timeout restarts the fuzzer, which runs the seeds again.
    stored = [p for p in _files(f"tests/fixtures/fuzz/{target}/*") if p.suffix != ".md" and "nested" not in p.name]
    count = 0
    for data in [*SEEDS[target](), *(p.read_bytes() for p in stored)]:
        (folder / f"seed-{hashlib.sha1(data).hexdigest()[:16]}").write_bytes(data)
        count += 1
    return count


if __name__ == "__main__":
    target, folder = sys.argv[1], Path(sys.argv[2])
    print(f"{target}: {write_seeds(target, folder)} seeds in {folder}")
