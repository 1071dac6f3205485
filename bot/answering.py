"""The one answering API the front-ends share: question in, answer of verified quotes out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.citations import CitedAnswer
from bot.extractive import best_support, rank_evidence, select_answer
from bot.generation import Generator
from bot.prompts import answer_messages
from bot.quotes import Quote, is_verbatim, quote_from_article
from config.settings import AnswerSettings, RetrievalSettings
from ingest.embedding import Embedder
from ingest.schema import Article
from ingest.store import ChromaStore, ScoredChunk

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
    """Retrieves chunks, has them answered, and verifies every quote it returns.

    With a :class:`Generator` the answer is written by an LLM from numbered passages and rebuilt
    around the quotes that verify (:mod:`bot.citations`); without one it is the best sentences,
    quoted (:mod:`bot.extractive`). Either way, weak retrieval evidence means abstaining before any
    LLM call, and only quotes that are ``article.text[start:end]`` are returned.
    """

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        retrieval: RetrievalSettings,
        answer: AnswerSettings,
        *,
        generator: Generator | None = None,
        max_tokens: int = 400,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._retrieval = retrieval
        self._answer = answer
        self._generator = generator
        self._max_tokens = max_tokens

    @property
    def store(self) -> ChromaStore:
        return self._store

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def generator(self) -> Generator | None:
        return self._generator

    @property
    def backend(self) -> str:
        return self._generator.backend if self._generator else "extractive"

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        article_ids: Sequence[str] | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> Answer:
        """The answer to ``question``; ``on_text`` receives its text piece by piece as verified."""
        question = " ".join(question.split())
        show = on_text or (lambda _: None)
        question_vector = self._embedder.embed_query(question)
        hits = self._store.query(question_vector, top_k or self._retrieval.top_k, article_ids)
        if not hits:
            show(EMPTY_STORE)
            return Answer(question, EMPTY_STORE, True, (), self.backend)
        ranked = rank_evidence(question, question_vector, hits, self._embedder)
        best = best_support(ranked)
        if best < self._answer.min_evidence:
            log.info("abstained: best support %.3f < %.3f", best, self._answer.min_evidence)
        elif self._generator is not None:
            answer = self._generated(question, hits, self._generator, show)
            if answer is not None:
                return answer
        else:
            chosen = select_answer(ranked, self._answer.max_quotes, self._answer.min_evidence)
            quotes = _verified([(item.article, item.text, item.start) for item in chosen])
            if quotes:
                text = " ".join(
                    f"{quote.text} [{number}]" for number, quote in enumerate(quotes, 1)
                )
                show(text)
                return Answer(question, text, False, quotes, self.backend)
        show(NOT_ANSWERED)
        passages = [
            (hit.article, hit.chunk.text, hit.chunk.start) for hit in hits[:CLOSEST_PASSAGES]
        ]
        return Answer(question, NOT_ANSWERED, True, _verified(passages), self.backend)

    def _generated(
        self,
        question: str,
        hits: Sequence[ScoredChunk],
        generator: Generator,
        show: Callable[[str], None],
    ) -> Answer | None:
        """The LLM's answer rebuilt around its verified quotes; None when none verified."""
        messages, passages = answer_messages(question, hits, generator, self._max_tokens)
        cited = CitedAnswer(passages)
        for piece in generator.generate(messages, self._max_tokens):
            if shown := cited.feed(piece):
                show(shown)
        if shown := cited.finish():
            show(shown)
        if not cited.quotes:
            log.info("abstained: no verified quote (model abstained: %s)", cited.model_abstained)
            return None
        return Answer(question, cited.text, False, tuple(cited.quotes), self.backend)


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
