"""The one answering API the front-ends share: question in, answer of verified quotes out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from bot.bidi import isolate
from bot.citations import CitedAnswer
from bot.extractive import best_support, rank_evidence, select_answer
from bot.generation import Generator
from bot.prompts import answer_messages
from bot.quotes import Quote, is_verbatim, quote_from_article
from bot.retrieval import Retriever
from config.errors import QuestionError
from config.settings import AnswerSettings, RetrievalSettings
from ingest.embedding import CachingEmbedder, Embedder
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
    timings: Mapping[str, float] = field(default_factory=dict, compare=False)

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
        self._retriever = Retriever(store, retrieval)
        self._sentence_vectors = CachingEmbedder(embedder)  # the same sentences come back

    @property
    def store(self) -> ChromaStore:
        return self._store

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def retriever(self) -> Retriever:
        return self._retriever

    @property
    def generator(self) -> Generator | None:
        return self._generator

    def articles(self) -> list[Article]:
        """The stored articles without their text (cheap: for listing), by title."""
        stored = self._store.article_summaries()
        return sorted(stored, key=lambda article: (article.title.lower(), article.article_id))

    def counts(self) -> tuple[int, int]:
        """How many articles and chunks are stored."""
        return self._store.article_count(), self._store.chunk_count()

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
        """The answer to ``question``; ``on_text`` receives its text piece by piece as verified.

        The answer's ``timings`` say how long retrieval, generation and verification took.
        Raises :class:`QuestionError` for an empty, overlong or undecodable question.
        """
        question = checked_question(question, self._answer.max_question_chars)
        watch = Stopwatch()
        answer = self._answer_question(
            question,
            top_k or self._retrieval.top_k,
            article_ids,
            on_text or (lambda _: None),
            watch,
        )
        return replace(answer, timings=dict(watch.seconds))

    def _answer_question(
        self,
        question: str,
        top_k: int,
        article_ids: Sequence[str] | None,
        show: Callable[[str], None],
        watch: Stopwatch,
    ) -> Answer:
        with watch.stage("retrieve"):
            question_vector = self._embedder.embed_query(question)
            languages = self._retriever.question_languages(question)
            hits = self._retriever.retrieve(
                question, question_vector, top_k, article_ids, languages
            )
            ranked = (
                rank_evidence(question, question_vector, hits, self._sentence_vectors, languages)
                if hits
                else []
            )
        if not hits:
            show(EMPTY_STORE)
            return Answer(question, EMPTY_STORE, True, (), self.backend)
        best = best_support(ranked)
        if best < self._answer.min_evidence:
            log.info("abstained: best support %.3f < %.3f", best, self._answer.min_evidence)
        elif self._generator is not None:
            answer = self._generated(question, hits, self._generator, show, watch)
            if answer is not None:
                return answer
        else:
            with watch.stage("generate"):
                chosen = select_answer(ranked, self._answer.max_quotes, self._answer.min_evidence)
            with watch.stage("verify"):
                quotes = _verified([(item.article, item.text, item.start) for item in chosen])
            if quotes:
                text = " ".join(
                    f"{isolate(quote.text)} [{number}]" for number, quote in enumerate(quotes, 1)
                )
                show(text)
                return Answer(question, text, False, quotes, self.backend)
        show(NOT_ANSWERED)
        passages = [
            (hit.article, hit.chunk.text, hit.chunk.start) for hit in hits[:CLOSEST_PASSAGES]
        ]
        with watch.stage("verify"):
            closest = _verified(passages)
        return Answer(question, NOT_ANSWERED, True, closest, self.backend)

    def _generated(
        self,
        question: str,
        hits: Sequence[ScoredChunk],
        generator: Generator,
        show: Callable[[str], None],
        watch: Stopwatch,
    ) -> Answer | None:
        """The LLM's answer rebuilt around its verified quotes; None when none verified."""
        messages, passages = answer_messages(question, hits, generator, self._max_tokens)
        cited = CitedAnswer(passages)
        pieces = iter(generator.generate(messages, self._max_tokens))
        while True:
            with watch.stage("generate"):
                piece = next(pieces, None)
            if piece is None:
                break
            with watch.stage("verify"):
                shown = cited.feed(piece)
            if shown:
                show(shown)
        with watch.stage("verify"):
            shown = cited.finish()
        if shown:
            show(shown)
        if not cited.quotes:
            log.info("abstained: no verified quote (model abstained: %s)", cited.model_abstained)
            return None
        return Answer(question, cited.text, False, tuple(cited.quotes), self.backend)


def checked_question(question: str, max_chars: int) -> str:
    """``question`` with its whitespace folded; QuestionError says why it can't be asked.

    Checked before anything else, so a megabyte of text is refused in microseconds.
    """
    if len(question) > max_chars:
        raise QuestionError(
            f"The question is {len(question)} characters long; the limit is {max_chars} "
            "(answer.max_question_chars)"
        )
    if any("\ud800" <= char <= "\udfff" for char in question):  # undecodable bytes, escaped
        raise QuestionError("The question is not valid UTF-8 text")
    folded = " ".join(question.split())
    if not folded:
        raise QuestionError("The question is empty")
    return folded


class Stopwatch:
    """Seconds spent per named stage, summed over its runs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


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
