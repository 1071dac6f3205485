"""The one answering API the front-ends share: question in, answer of verified quotes out."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.extractive import best_support, rank_evidence, select_answer
from bot.quotes import Quote, is_verbatim, quote_from_article
from config.settings import AnswerSettings, RetrievalSettings
from ingest.embedding import Embedder
from ingest.schema import Article
from ingest.store import ChromaStore

log = logging.getLogger(__name__)

NOT_ANSWERED = "The articles don't answer this. The closest passages are below."
EMPTY_STORE = "No articles are stored yet — add some with `inquote ingest PATH`."
CLOSEST_PASSAGES = 2


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    abstained: bool
    quotes: tuple[Quote, ...]
    backend: str

    def as_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "quotes": [quote.as_json() for quote in self.quotes],
            "backend": self.backend,
        }


class Answerer:
    """Retrieves chunks, picks the sentences that answer, and verifies every quote it returns."""

    backend = "extractive"

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        retrieval: RetrievalSettings,
        answer: AnswerSettings,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._retrieval = retrieval
        self._answer = answer

    @property
    def store(self) -> ChromaStore:
        return self._store

    def ask(
        self, question: str, top_k: int | None = None, article_ids: Sequence[str] | None = None
    ) -> Answer:
        question = " ".join(question.split())
        question_vector = self._embedder.embed_query(question)
        hits = self._store.query(question_vector, top_k or self._retrieval.top_k, article_ids)
        if not hits:
            return Answer(question, EMPTY_STORE, True, (), self.backend)
        ranked = rank_evidence(question, question_vector, hits, self._embedder)
        chosen = select_answer(ranked, self._answer.max_quotes, self._answer.min_evidence)
        if chosen:
            quotes = _verified([(item.article, item.text, item.start) for item in chosen])
            if quotes:
                text = " ".join(
                    f"{quote.text} [{number}]" for number, quote in enumerate(quotes, 1)
                )
                return Answer(question, text, False, quotes, self.backend)
        best = best_support(ranked)
        log.info("abstained: best support %.3f < %.3f", best, self._answer.min_evidence)
        passages = [
            (hit.article, hit.chunk.text, hit.chunk.start) for hit in hits[:CLOSEST_PASSAGES]
        ]
        return Answer(question, NOT_ANSWERED, True, _verified(passages), self.backend)


def _verified(claims: Sequence[tuple[Article, str, int]]) -> tuple[Quote, ...]:
    """Quotes for the claimed texts that really are in their articles; the rest is dropped."""
    quotes = []
    for article, claimed, near in claims:
        quote = quote_from_article(article, claimed, near)
        if quote is not None and is_verbatim(quote, article):
            quotes.append(quote)
        else:
            log.warning("dropped a quote not found in article %s", article.article_id)
    return tuple(quotes)
