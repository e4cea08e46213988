"""MinHash signatures of a text's word shingles and their LSH band keys (datasketch). Pure: never stores.

A signature is computed once per article in the CPU stage (prepare); the band keys and the similarity of
two signatures are what the stateful near-duplicate index (workers/dedupe_state.py, workers/state_sqlite.py)
looks up and compares. Changing NUM_PERM, SHINGLE_WORDS or SEED makes stored signatures incomparable.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import Any

from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
SHINGLE_WORDS = 4
SEED = 1
# One signature value as fixed-width hex: the Redis script compares signatures slice by slice.
HEX_WIDTH = 8
CANDIDATE_MARGIN = 0.15
MIN_CANDIDATE_THRESHOLD = 0.3

_WORD = re.compile(r"[^\W_]+")


def signature(text: str) -> tuple[int, ...]:
    """The MinHash of the text's overlapping word 4-grams (casefolded, punctuation ignored)."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    width = min(SHINGLE_WORDS, len(words)) or 1
    shingles = [" ".join(words[i : i + width]).encode("utf-8") for i in range(max(1, len(words) - width + 1))]
    minhash = MinHash(num_perm=NUM_PERM, permutations=_permutations(), scheme="affine32")
    minhash.update_batch(shingles)
    return tuple(int(value) for value in minhash.hashvalues)


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of the two texts: the share of equal signature values."""
    if len(a) != len(b) or not a:
        return 0.0
    return sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a)


def band_keys(sig: Sequence[int], threshold: float) -> list[str]:
    """One key per LSH band; two texts at least `threshold` similar share a band with high probability.

    The bands are datasketch's optimum for a threshold CANDIDATE_MARGIN lower (25 x 5 at 0.6): at the
    threshold itself half the pairs would be missed, and candidates are verified on the signature anyway.
    """
    bands, rows = lsh_shape(max(MIN_CANDIDATE_THRESHOLD, round(threshold - CANDIDATE_MARGIN, 2)))
    keys = []
    for band in range(bands):
        chunk = ",".join(str(value) for value in sig[band * rows : (band + 1) * rows])
        keys.append(f"{band}:{hashlib.blake2b(chunk.encode('ascii'), digest_size=8).hexdigest()}")
    return keys


def to_hex(sig: Sequence[int]) -> str:
    return "".join(f"{value:0{HEX_WIDTH}x}" for value in sig)


def from_hex(text: str) -> tuple[int, ...]:
    return tuple(int(text[i : i + HEX_WIDTH], 16) for i in range(0, len(text), HEX_WIDTH))


@cache
def lsh_shape(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) minimizing false positives and negatives at `threshold`."""
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    return int(lsh.b), int(lsh.r)


@cache
def _permutations() -> Any:
    # Drawing the permutations costs more than hashing a short text: once per process.
    return MinHash(num_perm=NUM_PERM, seed=SEED).permutations
