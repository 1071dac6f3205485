"""Retrieval: dense (embeddings), BM25 (keywords), or both fused by reciprocal rank.

Dense retrieval finds paraphrases; BM25 finds the rare exact words (names, numbers) that a small
embedding model blurs. Reciprocal rank fusion adds ``1 / (rrf_k + rank)`` from each list, so a chunk
both rank high wins, without calibrating one score against the other.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import bm25s
import numpy as np

from bot.extractive import terms
from config.settings import RetrievalSettings
from ingest.schema import Chunk
from ingest.store import ChromaStore, ScoredChunk


class KeywordIndex:
    """BM25 over the store's current chunks, rebuilt when the store changes."""

    def __init__(self, store: ChromaStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._version: tuple[object, ...] = ()
        self._chunks: list[Chunk] = []
        self._bm25: bm25s.BM25 | None = None

    def search(self, question: str, limit: int) -> list[tuple[Chunk, float]]:
        """Up to ``limit`` chunks sharing words with ``question``, best first."""
        words = terms(question)
        with self._lock:
            self._refresh()
            if self._bm25 is None or not words:
                return []
            k = min(limit, len(self._chunks))
            found, scores = self._bm25.retrieve([words], k=k, show_progress=False)
        return [
            (self._chunks[int(i)], float(score))
            for i, score in zip(found[0], scores[0], strict=True)
            if score > 0
        ]

    def _refresh(self) -> None:
        # Counts are cheap to read on every question; an update that keeps both counts is missed
        # until the next change of either, which is safe: chunks of an old version are dropped
        # when matched to their articles, and dense retrieval still finds the new ones.
        version = (self._store.chunk_count(), self._store.article_count())
        if version == self._version:
            return
        self._chunks = self._store.current_chunks()
        self._bm25 = None
        if self._chunks:
            self._bm25 = bm25s.BM25()
            corpus = [terms(chunk.text) or ["∅"] for chunk in self._chunks]
            self._bm25.index(corpus, show_progress=False)
        self._version = version


class Retriever:
    """The chunks a question is answered from, by ``retrieval.mode``."""

    def __init__(self, store: ChromaStore, settings: RetrievalSettings) -> None:
        self._store = store
        self._settings = settings
        self._keywords = KeywordIndex(store)

    def retrieve(
        self,
        question: str,
        vector: Sequence[float],
        top_k: int,
        article_ids: Sequence[str] | None = None,
    ) -> list[ScoredChunk]:
        mode = self._settings.mode
        if mode == "dense":
            return self._store.query(vector, top_k, article_ids)
        pool = max(self._settings.candidates, top_k)
        keyword = self._keywords.search(question, pool * (4 if article_ids else 1))
        if article_ids:
            keyword = [(c, s) for c, s in keyword if c.article_id in set(article_ids)][:pool]
        keyword_hits = self._store.with_articles(keyword)
        if mode == "bm25":
            return keyword_hits[:top_k]
        dense_hits = self._store.query(vector, pool, article_ids)
        return fuse([dense_hits, keyword_hits], self._settings.rrf_k)[:top_k]


def fuse(rankings: Sequence[Sequence[ScoredChunk]], rrf_k: int) -> list[ScoredChunk]:
    """Reciprocal rank fusion; each chunk once, with its fused score."""
    scores: dict[str, float] = {}
    first: dict[str, ScoredChunk] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            key = hit.chunk.chunk_id
            scores[key] = scores.get(key, 0.0) + 1.0 / (rrf_k + rank + 1)
            first.setdefault(key, hit)
    order = np.argsort([-scores[key] for key in first], kind="stable")
    keys = list(first)
    return [
        ScoredChunk(first[keys[i]].chunk, scores[keys[i]], first[keys[i]].article) for i in order
    ]
