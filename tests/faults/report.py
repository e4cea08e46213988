"""The fault table: what each fault test injected, and what it found lost, duplicated and how long recovery took.

Tests add a row through the `fault_report` fixture once they have measured; the table is printed at
the end of the run (pytest_terminal_summary in conftest), whatever else the run printed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class FaultRow:
    fault: str
    mode: str
    lost: int
    duplicated: int
    recovery_s: float


ROWS = pytest.StashKey[list[FaultRow]]()


def table(rows: list[FaultRow]) -> list[str]:
    header = ("fault", "mode", "lost", "duplicated", "recovery s")
    cells = [(r.fault, r.mode, str(r.lost), str(r.duplicated), f"{r.recovery_s:.1f}") for r in rows]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]

    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths))) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(c) for c in cells)]
