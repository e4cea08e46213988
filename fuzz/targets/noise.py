"""Fuzz target: drop_noise() and learned boilerplate on arbitrary text."""

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["workers", "fuzz.oracles"]):
    from fuzz.oracles import check_noise

from fuzz.harness import run

if __name__ == "__main__":
    run("noise", check_noise)
