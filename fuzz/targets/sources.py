"""Fuzz target: load_sources() on an arbitrary sources file."""

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["ingest", "ruamel", "fuzz.oracles"]):
    from fuzz.oracles import check_sources

from fuzz.harness import run

if __name__ == "__main__":
    run("sources", check_sources)
