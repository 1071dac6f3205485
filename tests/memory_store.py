"""An in-memory double of the read path's ports (``bot.ports``), for answering tests where the
store is not the subject: articles chunked by the real chunker and embedded by the given
embedder, dense search by cosine over every chunk, keyword search by shared terms
(``ingest.terms``, not BM25). Scopes: libraries and article ids."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from config.settings import ChunkingSettings
from ingest.chunking import chunk_article
from ingest.embedding import Embedder
from ingest.schema import Article, Chunk, Scope, ScoredChunk, day_number
from ingest.sentence_vectors import SentenceVectors
from ingest.terms import terms


class MemoryStore:
    """:class:`bot.ports.StoredArticles` over ``articles``, held in memory."""

    def __init__(
        self, articles: Sequence[Article], embedder: Embedder, chunking: ChunkingSettings
    ) -> None:
        chunked = [
            (article, chunk_article(article, chunking.chunk_size, chunking.chunk_overlap))
            for article in articles
        ]
        self.articles = {
            article.article_id: replace(article, chunk_count=len(chunks))
            for article, chunks in chunked
        }
        self.chunks = {chunk.chunk_id: chunk for _, chunks in chunked for chunk in chunks}
        vectors = np.array(embedder.embed_documents([c.text for c in self.chunks.values()]))
        self._vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    @property
    def sentence_vectors(self) -> SentenceVectors | None:
        return None  # sentences are embedded afresh, as where the file cannot be written

    def get_article(self, article_id: str) -> Article | None:
        return self.articles.get(article_id)

    def chunks_of(self, article_ids: Sequence[str]) -> Iterator[Chunk]:
        return (chunk for chunk in self.chunks.values() if chunk.article_id in article_ids)

    def articles_since(self, revision: int | None) -> list[Article]:
        return [a for a in self.articles.values() if revision is None or a.revision > revision]

    def query(
        self, embedding: Sequence[float], top_k: int, article_ids: Sequence[str] | None = None
    ) -> list[ScoredChunk]:
        return self.scored(self.nearest(embedding, top_k, article_ids))

    def nearest(
        self, embedding: Sequence[float], top_k: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        query = np.asarray(embedding) / np.linalg.norm(embedding)
        similarities = self._vectors @ query
        ranked = sorted(zip(self.chunks, similarities, strict=True), key=lambda pair: -pair[1])
        return [
            (chunk_id, float(similarity))
            for chunk_id, similarity in ranked
            if article_ids is None or self.chunks[chunk_id].article_id in article_ids
        ][:top_k]

    def scored(
        self, found: Sequence[tuple[str, float]], chunks: Sequence[Chunk] = ()
    ) -> list[ScoredChunk]:
        return [
            ScoredChunk(chunk, score, self.articles[chunk.article_id])
            for chunk_id, score in found
            if (chunk := self.chunks.get(chunk_id)) is not None
        ]


class MemoryKeywords:
    """:class:`bot.ports.KeywordSearch` over a :class:`MemoryStore` (always caught up)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.catch_ups = 0

    def catch_up(self) -> None:
        self.catch_ups += 1

    def languages(self) -> list[str]:
        codes = [article.language for article in self._store.articles.values() if article.language]
        return sorted(set(codes), key=lambda code: (-codes.count(code), code))

    def search(
        self,
        question: str,
        limit: int,
        languages: Sequence[str] = (),
        article_ids: Sequence[str] | None = None,
    ) -> list[tuple[Chunk, float]]:
        asked = {word for code in languages or [""] for word in terms(question, code)}
        scored = []
        for chunk in self._store.chunks.values():
            if article_ids is not None and chunk.article_id not in article_ids:
                continue
            language = self._store.articles[chunk.article_id].language
            shared = len(asked & set(terms(chunk.text, language)))
            if shared:
                scored.append((chunk, float(shared)))
        return sorted(scored, key=lambda pair: -pair[1])[:limit]

    def articles_in(self, scope: Scope, *, originals: bool = True) -> list[str]:
        return [article.article_id for article in self.listed(scope)]

    def within(self, articles: Sequence[Article], scope: Scope) -> list[Article]:
        inside = set(self.articles_in(scope))
        return [article for article in articles if article.article_id in inside]

    def listed(self, scope: Scope) -> list[Article]:
        return [
            article
            for article in self._store.articles.values()
            if (not scope.libraries or set(scope.libraries) & set(article.libraries))
            and (not scope.article_ids or article.article_id in scope.article_ids)
        ]

    def days(self) -> list[int]:
        found = {day_number(article.published) for article in self._store.articles.values()}
        return sorted(found - {0})
