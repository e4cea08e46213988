"""A site's own boilerplate: which short lines of a clean text could be furniture, and dropping those a site
repeats. Pure: the counting across articles lives behind the BoilerplateCounts port.

Only lines that do not read as sentences (workers.clean.is_sentence) are ever candidates, so learning
can never remove a sentence of a story, however often a site repeats it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection

from workers.clean import is_sentence

# "Comments (3)" and "Comments (12)" are one line of furniture.
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
MAX_LINE_CHARS = 200


def line_key(line: str) -> str:
    """A short stable key of a line: casefolded, digits and spacing ignored."""
    normalized = _SPACES.sub(" ", _DIGITS.sub("0", line.casefold())).strip()
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).hexdigest()


def candidate_keys(text: str) -> dict[str, str]:
    """key -> line for every line of `text` that could be site furniture (short, not a sentence)."""
    return {
        line_key(line): line
        for line in (line.strip() for line in text.splitlines())
        if line and len(line) <= MAX_LINE_CHARS and not is_sentence(line)
    }


def lasting_text(text: str) -> str:
    """The lines of `text` that learning can never drop (sentences and long lines), or all of `text` when it
    has none: what its near-duplicate signature is taken of, so the signature is the same before and after
    the site's boilerplate is learned, and a site's furniture never makes two stories look alike."""
    kept = [
        line
        for line in (line.strip() for line in text.splitlines())
        if line and (len(line) > MAX_LINE_CHARS or is_sentence(line))
    ]
    return "\n".join(kept) if kept else text


def drop_lines(text: str, keys: Collection[str]) -> str:
    """`text` (paragraphs separated by blank lines) without the candidate lines whose key is in `keys`."""
    if not keys:
        return text
    kept = [
        line
        for line in (line.strip() for line in text.splitlines())
        if line and not (len(line) <= MAX_LINE_CHARS and not is_sentence(line) and line_key(line) in keys)
    ]
    return "\n\n".join(kept)
