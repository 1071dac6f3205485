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


class Stories:
    """The stored stories a new article may repeat, compared with it all at once (one numpy
    comparison of signatures, however many are stored)."""

    def __init__(self, articles: Iterable[Article] = ()) -> None:
        self._articles: list[Article] = []
        self._by_hash: dict[str, Article] = {}
        self._rows: dict[str, list[int]] = {}  # article id → its rows (an id may be updated)
        self._versions: set[tuple[str, str]] = set()
        self._matrix = np.zeros((64, PERMUTATIONS), dtype=">u8")
        self._signed = np.zeros(64, dtype=bool)
        for article in articles:
            self.add(article)

    def add(self, article: Article) -> None:
        """Remember ``article`` as a story later ones may repeat (duplicates never are one)."""
        version = (article.article_id, article.content_hash)
        if article.duplicate_of or version in self._versions:
            return
        self._versions.add(version)
        row = len(self._articles)
        if row == len(self._matrix):  # room for twice as many
            self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
            self._signed = np.concatenate([self._signed, np.zeros_like(self._signed)])
        self._articles.append(article)
        self._by_hash.setdefault(article.content_hash, article)
        self._rows.setdefault(article.article_id, []).append(row)
        if article.signature:
            self._matrix[row] = np.frombuffer(bytes.fromhex(article.signature), dtype=">u8")
            self._signed[row] = True

    def nearest(self, article: Article, threshold: float) -> tuple[Article, float] | None:
        """The stored original ``article`` repeats (same text, or similarity ≥ threshold)."""
        same = self._by_hash.get(article.content_hash)
        if same is not None and same.article_id != article.article_id:
            return same, 1.0
        if not article.signature or not self._articles:
            return None
        size = len(self._articles)
        wanted = np.frombuffer(bytes.fromhex(article.signature), dtype=">u8")
        scores = np.where(self._signed[:size], (self._matrix[:size] == wanted).mean(axis=1), -1.0)
        scores[self._rows.get(article.article_id, [])] = -1.0  # not a repeat of itself
        best = int(np.argmax(scores))
        if scores[best] < threshold:
            return None
        return self._articles[best], float(scores[best])
