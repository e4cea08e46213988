"""Runs one oracle under atheris, and in keep-going mode records each distinct finding and goes on.

libFuzzer stops at the first crash; a ten-minute run that trips over one known bug in its first
second would test nothing else. With FUZZ_FINDINGS_DIR set, a failing input is written there once
per signature (exception type and the line that raised it) and fuzzing continues; without it the
exception propagates and libFuzzer writes its usual crash file.
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import atheris


def signature(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__}@{where}"


def run(name: str, oracle: Callable[[bytes], None]) -> None:
    findings_dir = os.environ.get("FUZZ_FINDINGS_DIR")
    folder = Path(findings_dir) if findings_dir else None
    seen: set[str] = set()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        # A restart (after a timeout or an out-of-memory) must not report the same bug again.
        seen = {path.read_text().splitlines()[0] for path in folder.glob("*.txt")}

    def test_one(data: bytes) -> None:
        try:
            oracle(data)
        except Exception as exc:
            if folder is None:
                raise
            sig = signature(exc)
            if sig in seen:
                return
            seen.add(sig)
            digest = hashlib.sha1(data).hexdigest()[:12]
            (folder / f"{name}-{digest}").write_bytes(data)
            report = "".join(traceback.format_exception(exc))
            (folder / f"{name}-{digest}.txt").write_text(f"{sig}\n{report}")
            print(f"\n==FINDING== {name} {sig} -> {folder / f'{name}-{digest}'}", file=sys.stderr, flush=True)

    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
