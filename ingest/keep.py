"""How long stored articles are kept: "365d", "12w", "48h", or "0" for ever. Parsing only."""

from __future__ import annotations

import re

_KEEP = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNIT_S = {"h": 3600, "d": 86_400, "w": 7 * 86_400}
FOREVER = 0


def parse_keep_s(value: object) -> int:
    """'365d', '12w', '48h' -> seconds; '0' (or 0) -> FOREVER. Anything else is a ValueError saying why."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a retention period (try 365d, 12w or 48h; 0 keeps for ever)")
    if isinstance(value, int) and value == 0:
        return FOREVER
    text = str(value).strip()
    if text == "0":
        return FOREVER
    match = _KEEP.match(text)
    if not match:
        hint = " (a number needs a unit: h, d or w)" if text.isdigit() else ""
        raise ValueError(f"{text!r} is not a retention period{hint} (try 365d, 12w or 48h; 0 keeps for ever)")
    amount = int(match.group(1))
    if amount == 0:
        return FOREVER
    return amount * _UNIT_S[match.group(2)]


def describe_keep(keep_s: int) -> str:
    """The period as a person writes it: '365d', '12w', '48h', 'forever'."""
    if keep_s == FOREVER:
        return "forever"
    for unit in ("w", "d", "h"):
        if keep_s % _UNIT_S[unit] == 0:
            return f"{keep_s // _UNIT_S[unit]}{unit}"
    return f"{keep_s}s"
