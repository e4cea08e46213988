"""Fuzz target: canonical_url() and clean_url() on an arbitrary page URL, claim and source URL."""

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["workers", "courlan", "fuzz.oracles"]):
    from fuzz.oracles import check_url

from fuzz.harness import run

if __name__ == "__main__":
    run("url", check_url)
