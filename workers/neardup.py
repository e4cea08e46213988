"""MinHash signatures of a text's word shingles and their LSH band keys (datasketch). Pure: never stores.

A signature is computed once per article in the CPU stage (prepare); the band keys and the similarity of
two signatures are what the stateful near-duplicate index (workers/dedupe_state.py, workers/state_sqlite.py)
looks up and compares. Changing NUM_PERM, SHINGLE_WORDS, SEED or the shingle hash makes stored signatures
incomparable: bump SCHEME, which prefixes every band key, so old and new signatures never meet.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence
from functools import cache
from typing import Any

from datasketch import MinHash, MinHashLSH

from workers.dedupe import comparable_words

# 2: shingles hashed with CRC-32 (scheme 1: SHA-1), a third of the signature's cost (MinHash only needs
# distinct shingles to hash apart before its random permutations, not a cryptographic hash); and the
# pipeline signs only the lines learned boilerplate can never drop (workers.boilerplate.lasting_text).
SCHEME = 2
NUM_PERM = 128
SHINGLE_WORDS = 4
SEED = 1
# One signature value as fixed-width hex: the Redis script compares signatures slice by slice.
HEX_WIDTH = 8
_VALUE_BYTES = HEX_WIDTH // 2  # values are 32-bit (datasketch's affine32 scheme)
CANDIDATE_MARGIN = 0.15
MIN_CANDIDATE_THRESHOLD = 0.3

_SHINGLES_PER_BATCH = 4096  # 4 MiB of temporary values at NUM_PERM 128


def signature(text: str) -> tuple[int, ...]:
    """The MinHash of the text's overlapping word 4-grams (casefolded, punctuation ignored)."""
    words = comparable_words(text)
    width = min(SHINGLE_WORDS, len(words)) or 1
    shingles = [" ".join(words[i : i + width]).encode("utf-8") for i in range(max(1, len(words) - width + 1))]
    minhash = MinHash(num_perm=NUM_PERM, permutations=_permutations(), scheme="affine32", hashfunc=zlib.crc32)
    # In slices: update_batch holds a (shingles x NUM_PERM) array of 8-byte values at once.
    for start in range(0, len(shingles), _SHINGLES_PER_BATCH):
        minhash.update_batch(shingles[start : start + _SHINGLES_PER_BATCH])
    return tuple(minhash.hashvalues.tolist())


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
    packed, width = _packed(sig), rows * _VALUE_BYTES  # bytes, not text: formatting cost more than hashing
    return [
        f"{SCHEME}.{band}:{hashlib.blake2b(packed[band * width : (band + 1) * width], digest_size=8).hexdigest()}"
        for band in range(bands)
    ]


def to_hex(sig: Sequence[int]) -> str:
    """Each value as HEX_WIDTH hex digits, big-endian, concatenated."""
    return _packed(sig).hex()


def from_hex(text: str) -> tuple[int, ...]:
    raw = bytes.fromhex(text)
    return struct.unpack(f">{len(raw) // _VALUE_BYTES}I", raw)


def _packed(sig: Sequence[int]) -> bytes:
    return struct.pack(f">{len(sig)}I", *sig)


@cache
def lsh_shape(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) minimizing false positives and negatives at `threshold`."""
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    return int(lsh.b), int(lsh.r)


@cache
def _permutations() -> Any:
    # Drawing the permutations costs more than hashing a short text: once per process.
    return MinHash(num_perm=NUM_PERM, seed=SEED).permutations
