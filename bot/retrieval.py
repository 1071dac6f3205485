"""Retrieval: dense (embeddings), BM25 (keywords), or both fused by reciprocal rank.

Dense retrieval finds paraphrases; BM25 finds the rare exact words (names, numbers) that a small
embedding model blurs. Reciprocal rank fusion adds ``1 / (rrf_k + rank)`` from each list, so a chunk
both rank high wins, without calibrating one score against the other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from config.settings import RetrievalSettings
from ingest.language import question_languages
from ingest.store import ChromaStore, ScoredChunk


class Retriever:
    """The chunks a question is answered from, by ``retrieval.mode``."""

    def __init__(self, store: ChromaStore, settings: RetrievalSettings) -> None:
        self._store = store
        self._settings = settings

    def question_languages(self, question: str) -> tuple[str, ...]:
        """The question's language, then stored languages it may be in too (see ingest.language).

        A question's first step: it brings the keyword index up to the store's latest changes.
        """
        keywords = self._store.keywords
        keywords.catch_up()
        return question_languages(question, keywords.languages())

    def retrieve(
        self,
        question: str,
        vector: Sequence[float],
        top_k: int,
        article_ids: Sequence[str] | None = None,
        languages: Sequence[str] | None = None,
    ) -> list[ScoredChunk]:
        """The ``top_k`` chunks for ``question`` in ``languages``: :meth:`question_languages`'s,
        which is called when they are not given."""
        mode = self._settings.mode
        if mode == "dense":
            return self._store.query(vector, top_k, article_ids)
        if languages is None:
            languages = self.question_languages(question)
        pool = max(self._settings.candidates, top_k)
        keyword = self._store.keywords.search(question, pool, languages, article_ids)
        keyword_hits = self._store.scored(keyword)
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
