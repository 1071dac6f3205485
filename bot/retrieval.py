"""Retrieval: dense (embeddings), BM25 (keywords), or both fused by reciprocal rank.

Dense retrieval finds paraphrases; BM25 finds the rare exact words (names, numbers) that a small
embedding model blurs. Reciprocal rank fusion adds ``1 / (rrf_k + rank)`` from each list, so a chunk
both rank high wins, without calibrating one score against the other.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

import bm25s
import numpy as np

from config.settings import RetrievalSettings
from ingest.language import question_languages
from ingest.schema import Chunk
from ingest.store import ChromaStore, ScoredChunk
from ingest.terms import terms


class KeywordIndex:
    """BM25 over the store's current chunks, rebuilt when the store changes.

    Each chunk is indexed with its article's language (stems, stopwords); a question is searched
    with its own, so a question finds the articles of its language by their words.
    """

    def __init__(self, store: ChromaStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._version: tuple[object, ...] = ()
        self._chunks: list[Chunk] = []
        self._bm25: bm25s.BM25 | None = None
        self._languages: list[str] = []

    def languages(self) -> list[str]:
        """The stored articles' languages, the most common first."""
        with self._lock:
            self._refresh()
            return list(self._languages)

    def search(
        self, question: str, limit: int, languages: Sequence[str] = ()
    ) -> list[tuple[Chunk, float]]:
        """Up to ``limit`` chunks sharing words with ``question``, read in each of ``languages``."""
        words = list(
            dict.fromkeys(word for code in languages or [""] for word in terms(question, code))
        )
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
        articles = self._store.article_summaries()
        languages = {a.article_id: a.language for a in articles}
        self._languages = [code for code, _ in Counter(languages.values()).most_common() if code]
        self._chunks = self._store.current_chunks(articles)
        self._bm25 = None
        if self._chunks:
            self._bm25 = bm25s.BM25()
            corpus = [
                terms(chunk.text, languages.get(chunk.article_id, "")) or ["∅"]
                for chunk in self._chunks
            ]
            self._bm25.index(corpus, show_progress=False)
        self._version = version


class Retriever:
    """The chunks a question is answered from, by ``retrieval.mode``."""

    def __init__(self, store: ChromaStore, settings: RetrievalSettings) -> None:
        self._store = store
        self._settings = settings
        self._keywords = KeywordIndex(store)

    def question_languages(self, question: str) -> tuple[str, ...]:
        """The question's language, then stored languages it may be in too (see ingest.language)."""
        return question_languages(question, self._keywords.languages())

    def retrieve(
        self,
        question: str,
        vector: Sequence[float],
        top_k: int,
        article_ids: Sequence[str] | None = None,
        languages: Sequence[str] | None = None,
    ) -> list[ScoredChunk]:
        """The ``top_k`` chunks for ``question`` (in ``languages``, detected when not given)."""
        mode = self._settings.mode
        if mode == "dense":
            return self._store.query(vector, top_k, article_ids)
        if languages is None:
            languages = self.question_languages(question)
        pool = max(self._settings.candidates, top_k)
        keyword = self._keywords.search(question, pool * (4 if article_ids else 1), languages)
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
