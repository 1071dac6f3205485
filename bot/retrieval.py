"""Retrieval: dense (embeddings), BM25 (keywords), or both fused by reciprocal rank.

Dense retrieval finds paraphrases; BM25 finds the rare exact words (names, numbers) that a small
embedding model blurs. Reciprocal rank fusion adds ``1 / (rrf_k + rank)`` from each list, so a chunk
both rank high wins, without calibrating one score against the other.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.ports import ChunkSearch, KeywordSearch
from config.settings import RetrievalSettings
from ingest.language import question_languages
from ingest.schema import WHOLE_STORE, Scope, ScoredChunk


class Retriever:
    """The chunks a question is answered from, by ``retrieval.mode``."""

    def __init__(
        self, chunks: ChunkSearch, keywords: KeywordSearch, settings: RetrievalSettings
    ) -> None:
        self._chunks = chunks
        self._keywords = keywords
        self._settings = settings

    def question_languages(self, question: str) -> tuple[str, ...]:
        """The question's language, then stored languages it may be in too (see ingest.language).

        A question's first step: it brings the keyword index up to the store's latest changes.
        """
        self._keywords.catch_up()
        return question_languages(question, self._keywords.languages())

    def retrieve(
        self,
        question: str,
        vector: Sequence[float],
        top_k: int,
        scope: Scope = WHOLE_STORE,
        languages: Sequence[str] | None = None,
    ) -> list[ScoredChunk]:
        """The ``top_k`` chunks for ``question`` in ``languages``: :meth:`question_languages`'s,
        which is called when they are not given. A ``scope`` filters inside the store and the
        keyword index, before the top-k: a filtered top-k is full when enough chunks pass."""
        if languages is None:  # else the caller has caught the keyword index up
            languages = self.question_languages(question)
        mode = self._settings.mode
        article_ids = self._keywords.articles_in(scope) if scope else None
        if article_ids == []:
            return []
        if mode == "dense":
            return self._chunks.query(vector, top_k, article_ids)
        pool = max(self._settings.candidates, top_k)
        keyword = self._keywords.search(question, pool, languages, article_ids)
        ranked = [(chunk.chunk_id, score) for chunk, score in keyword]
        if mode == "hybrid":
            dense = self._chunks.nearest(vector, pool, article_ids)
            ranked = fuse([dense, ranked], self._settings.rrf_k)
        # articles are read for the best alone; the spare covers stale chunks dropped
        return self._chunks.scored(ranked[: 2 * top_k], [chunk for chunk, _ in keyword])[:top_k]


def fuse(rankings: Sequence[Sequence[tuple[str, float]]], rrf_k: int) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of rankings of (chunk id, score): each chunk once, with its fused
    score, best first."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (chunk_id, _) in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (rrf_k + rank + 1)
    return sorted(scores.items(), key=lambda item: -item[1])
