"""Every input a fuzz target ever failed on, replayed through the same oracle (fuzz/oracles.py).

The oracles hold the promises the fuzzers check: the parsers raise only their own named errors,
canonical URLs are idempotent and carry no fragment or tracker, the noise filter only removes whole
non-sentence lines, and every sources-file problem names the file and a line. No atheris needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.oracles import ORACLES, check_sources

STORED = Path(__file__).resolve().parents[1] / "fixtures" / "fuzz"
INPUTS = sorted(
    path for target in ORACLES for path in (STORED / target).glob("*") if path.is_file() and path.suffix != ".md"
)


def test_every_target_has_stored_inputs() -> None:
    assert {path.parent.name for path in INPUTS} == set(ORACLES)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", INPUTS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_stored_fuzz_input_passes_its_oracle(path: Path, tmp_path: Path) -> None:
    target, data = path.parent.name, path.read_bytes()

    if target == "sources":
        check_sources(data, tmp_path)
    else:
        ORACLES[target](data)
