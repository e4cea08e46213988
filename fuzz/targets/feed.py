"""Fuzz target: parse_feed() (RSS/Atom/JSON Feed/sitemap) and decode_body() on arbitrary bytes."""

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["ingest", "feedparser", "fuzz.oracles"]):
    from fuzz.oracles import check_feed

from fuzz.harness import run

if __name__ == "__main__":
    run("feed", check_feed)
