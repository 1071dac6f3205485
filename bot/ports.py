"""What the read path needs of the store, as small ports.

The answerer and the retriever depend on these, not on Chroma: ``ingest.store.ChromaStore`` is
the real :class:`StoredArticles` and ``ingest.keyword_index.KeywordIndex`` the real
:class:`KeywordSearch`, both handed out by the composition root (``bot.app.Library``); answering
tests where the store is not the subject run on an in-memory double (``tests/memory_store.py``).
Catching up with other processes' writes is an explicit step: :meth:`KeywordSearch.catch_up`,
a question's first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from ingest.schema import Article, Chunk, Scope, ScoredChunk
from ingest.sentence_vectors import SentenceVectors


class ChunkSearch(Protocol):
    """Dense search over the stored chunks, and reading chunks back with their articles."""

    def query(
        self, embedding: Sequence[float], top_k: int, article_ids: Sequence[str] | None = None
    ) -> list[ScoredChunk]: ...

    def nearest(
        self, embedding: Sequence[float], top_k: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]: ...

    def scored(
        self, found: Sequence[tuple[str, float]], chunks: Sequence[Chunk] = ()
    ) -> list[ScoredChunk]: ...


class StoredArticles(ChunkSearch, Protocol):
    """The article records (with their text) and chunks, and the kept sentence vectors."""

    @property
    def sentence_vectors(self) -> SentenceVectors | None: ...

    def get_article(self, article_id: str) -> Article | None: ...

    def chunks_of(self, article_ids: Sequence[str]) -> Iterator[Chunk]: ...

    def articles_since(self, revision: int | None) -> list[Article]: ...


class KeywordSearch(Protocol):
    """BM25 over the chunks, and what a question's scope filters on, as of the last catch-up."""

    def catch_up(self) -> None: ...

    def languages(self) -> list[str]: ...

    def search(
        self,
        question: str,
        limit: int,
        languages: Sequence[str] = (),
        article_ids: Sequence[str] | None = None,
    ) -> list[tuple[Chunk, float]]: ...

    def articles_in(self, scope: Scope, *, originals: bool = True) -> list[str]: ...

    def within(self, articles: Sequence[Article], scope: Scope) -> list[Article]: ...

    def listed(self, scope: Scope) -> list[Article]: ...

    def days(self) -> list[int]: ...
