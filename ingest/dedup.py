"""One copy per story: MinHash signatures of word 5-shingles, and the nearest stored story.

The same wire story republished by several outlets differs in headline, bylines, a sentence here
and there; its 5-word shingles still mostly agree. The estimated Jaccard similarity of two
signatures decides (``dedup.near_duplicate_threshold``, measured by
``python -m benchmarks.near_duplicates``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import numpy as np

from ingest.schema import Article

PERMUTATIONS = 128
SHINGLE_WORDS = 5
# Hash permutations h(x) = a·x + b mod 2**64 with odd a: multiply-shift hashing, which numpy's
# wrapping uint64 arithmetic computes directly.
_RANDOM = np.random.default_rng(20261125)
_A = _RANDOM.integers(0, 1 << 63, PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _RANDOM.integers(0, 1 << 63, PERMUTATIONS, dtype=np.uint64)


def signature(text: str) -> str:
    """The MinHash signature of ``text``, as hex (stored in the article's metadata)."""
    words = re.findall(r"\w+", text.casefold())
    count = max(len(words) - SHINGLE_WORDS + 1, 1)
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(count)}
    hashes = np.array(
        [
            int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")
            for s in shingles
        ],
        dtype=np.uint64,
    )
    permuted = hashes[:, None] * _A[None, :] + _B[None, :]  # wraps mod 2**64, as intended
    return bytes(permuted.min(axis=0).astype(">u8").tobytes()).hex()


def similarity(left: str, right: str) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two signatures."""
    a = np.frombuffer(bytes.fromhex(left), dtype=">u8")
    b = np.frombuffer(bytes.fromhex(right), dtype=">u8")
    return float(np.mean(a == b)) if len(a) == len(b) else 0.0


def nearest_story(
    article: Article, stored: Iterable[Article], threshold: float
) -> tuple[Article, float] | None:
    """The stored original ``article`` repeats (same text, or similarity ≥ threshold), if any."""
    best: tuple[Article, float] | None = None
    for other in stored:
        if other.article_id == article.article_id or other.duplicate_of:
            continue
        if other.content_hash == article.content_hash:
            return other, 1.0
        if other.signature and article.signature:
            score = similarity(article.signature, other.signature)
            if score >= threshold and (best is None or score > best[1]):
                best = (other, score)
    return best
