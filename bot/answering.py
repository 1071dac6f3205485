"""The one answering API the front-ends share: question in, answer of verified quotes out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from bot.answer import Answer, confidence_lead
from bot.answerability import Assessment, Judge, leading, shipped_judge
from bot.bidi import isolate
from bot.citations import CitedAnswer, Passage, answer_schema
from bot.extractive import ScoredSentence, rank_evidence, select_answer
from bot.generation import Generator
from bot.ports import KeywordSearch, StoredArticles
from bot.prompts import answer_messages
from bot.quotes import Claim, Quote, is_verbatim, quote_from_article
from bot.recency import When, dated_scope, newest_first, when_asked, without_recency
from bot.retrieval import Retriever
from bot.summaries import (
    AboutRequest,
    about_request,
    added_since,
    lead_quote,
    named_article,
    summary_spans,
)
from config.errors import QuestionError
from config.settings import AnswerSettings, RetrievalSettings
from ingest.chunking import sentence_spans, widened
from ingest.embedding import CachingEmbedder, Embedder
from ingest.schema import WHOLE_STORE, Article, Scope, ScoredChunk

log = logging.getLogger(__name__)

NOT_ANSWERED = "The articles don't answer this. The closest passages are below."
EMPTY_STORE = "No articles are stored yet — add some with `inquote ingest PATH`."
EMPTY_SCOPE = "No stored article is {}: widen the question's limits, or add articles there."
CLOSEST_PASSAGES = 2
# What an LLM is asked for a summary, followed by the article's title.
SUMMARY_REQUEST = "In two or three claims, what is this article about? Its title:"
LATEST_REACH = 3  # "latest" questions retrieve this many times top_k chunks


@dataclass(frozen=True)
class Evidence:
    """What a question retrieved: its chunks and their sentences, best answer first."""

    hits: list[ScoredChunk]
    ranked: list[ScoredSentence]

    def closest_passages(self) -> list[ScoredChunk]:
        """What to show when abstaining: the chunks of the best-ranked sentences, each once."""
        ranks = dict.fromkeys(item.chunk_rank for item in self.ranked)  # best first, each once
        chunks = [self.hits[rank] for rank in ranks][:CLOSEST_PASSAGES]
        return chunks or self.hits[:CLOSEST_PASSAGES]


class Answerer:
    """Retrieves chunks, has them answered, and verifies every quote it returns.

    With a :class:`Generator` the answer is written by an LLM from numbered passages and rebuilt
    around the quotes that verify (:mod:`bot.citations`); without one it is the best sentences,
    quoted (:mod:`bot.extractive`). Either way, weak retrieval evidence means abstaining before any
    LLM call, and only quotes that are ``article.text[start:end]`` are returned.
    """

    def __init__(
        self,
        store: StoredArticles,
        keywords: KeywordSearch,
        embedder: Embedder,
        retrieval: RetrievalSettings,
        answer: AnswerSettings,
        *,
        generator: Generator | None = None,
        max_tokens: int = 400,
        quote_sentences: bool = False,
        judge: Judge | None = None,
    ) -> None:
        self._store = store
        self._keywords = keywords
        self._embedder = embedder
        self._retrieval = retrieval
        self._answer = answer
        self._generator = generator
        self._max_tokens = max_tokens
        self._quote_sentences = quote_sentences
        self._retriever = Retriever(store, keywords, retrieval)
        # the same sentences come back, and other processes have embedded many already
        self._sentence_vectors = CachingEmbedder(embedder, kept=store.sentence_vectors)
        self._judge = judge  # the shipped one when None, read at the first question

    @property
    def generator(self) -> Generator | None:
        return self._generator

    def articles(self, scope: Scope = WHOLE_STORE) -> list[Article]:
        """The stored articles in ``scope`` without their text (cheap: for listing), by title."""
        self._keywords.catch_up()
        stored = self._keywords.listed(scope)
        return sorted(stored, key=lambda article: (article.title.lower(), article.article_id))

    def get_article(self, article_id: str) -> Article | None:
        """A stored article, with its text (what every quote is checked against)."""
        return self._store.get_article(article_id)

    def reads(self, scope: Scope, article_id: str) -> bool:
        """Whether ``scope`` reads the article (an original whose copies are in it included)."""
        if not scope:
            return True
        self._keywords.catch_up()
        return article_id in self._keywords.articles_in(scope)

    def added_since(self, scope: Scope, revision: int | None) -> list[Article]:
        """What ``scope`` gained since ``revision`` (:func:`bot.summaries.added_since`)."""
        self._keywords.catch_up()
        return added_since(self._store, self._keywords, scope, revision)

    def lead_quote(self, article: Article) -> Quote | None:
        """The article's opening sentence, verbatim (:func:`bot.summaries.lead_quote`)."""
        return lead_quote(self._store, article)

    def question_languages(self, question: str) -> list[str]:
        """The languages ``question`` may be in, likeliest first."""
        return list(self._retriever.question_languages(question))

    def retrieve(self, question: str, top_k: int) -> list[ScoredChunk]:
        """The chunks ``question`` retrieves from the whole store, best first (no answering)."""
        return self._retriever.retrieve(question, self._embedder.embed_query(question), top_k)

    @property
    def backend(self) -> str:
        return self._generator.backend if self._generator else "extractive"

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        scope: Scope = WHOLE_STORE,
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
            scope,
            on_text or (lambda _: None),
            watch,
        )
        return replace(answer, timings=dict(watch.seconds))

    def prepare(self) -> None:
        """Loads what a first question would (the embedding model, the keyword index), so no
        asker waits for it."""
        self.gather("inquote")

    def gather(
        self,
        question: str,
        top_k: int | None = None,
        scope: Scope = WHOLE_STORE,
        languages: Sequence[str] | None = None,
        *,
        every_title: bool = False,
    ) -> Evidence:
        """The chunks ``question`` retrieves and their sentences, ranked (no answering);
        ``languages``: the question's, when the caller has them already. A sentence is read under
        its article's title where the judge's pick for its language weighs that reading, or
        everywhere (``every_title``: training gathers every signal)."""
        question_vector = self._embedder.embed_query(question)
        if languages is None:
            languages = self._retriever.question_languages(question)
        hits = self._retriever.retrieve(
            question, question_vector, top_k or self._retrieval.top_k, scope, languages
        )
        ranked = (
            rank_evidence(
                question,
                question_vector,
                hits,
                self._sentence_vectors,
                languages,
                reads_title=(lambda *_: True) if every_title else self._used_judge().reads_titles,
            )
            if hits
            else []
        )
        return Evidence(hits, ranked)

    def judge(self, question: str, evidence: Evidence) -> Assessment | None:
        """The judge's reading of ``evidence``: the probability that it answers ``question`` and
        that its first sentence is right; None when nothing was retrieved."""
        if not evidence.ranked:
            return None
        return self._used_judge().assess(question, evidence.ranked)

    def summary(
        self, article: Article, question: str = "", show: Callable[[str], None] | None = None
    ) -> Answer:
        """What ``article`` is about. With an LLM, its short summary from the article's
        passages, every claim with a verified quote; else (or when none verifies) the article's
        lead and most central sentences, verbatim (:mod:`bot.summaries`)."""
        asked = question or f"What is {article.title} about?"
        if self._generator is not None:
            passages = sorted(self._store.chunks_of([article.article_id]), key=lambda c: c.index)
            hits = [
                ScoredChunk(chunk, 1.0, article)
                for chunk in passages
                if chunk.content_hash == article.content_hash
            ]
            prompt = f"{SUMMARY_REQUEST} {article.title}"
            written = self._generated(prompt, hits, self._generator, show or (lambda _: None),
                                      Stopwatch())  # fmt: skip
            if written is not None:
                return replace(written, question=asked, direct=True)
        spans = summary_spans(article, self._sentence_vectors)
        quotes = _verified([(article, article.text[start:end], start) for start, end in spans])
        dated = f" ({article.published})" if article.published else ""
        header = f"{isolate(article.title)}{dated}, in its own words:"
        cited = [f"{isolate(quote.text)} [{number}]" for number, quote in enumerate(quotes, 1)]
        claims = tuple(Claim(header if number == 1 else "", (number,)) for number in
                       range(1, len(quotes) + 1))  # fmt: skip
        text = " ".join([header, *cited])
        if show is not None:
            show(text)
        return Answer(asked, text, not quotes, quotes, self.backend, claims=claims, direct=True)

    def _named(self, request: AboutRequest, top_k: int, scope: Scope) -> Article | None:
        """The article a request for a summary names: the retrieved article holding its words,
        or the scope's one article when it names none."""
        subject = request.subject or "article"
        vector = self._embedder.embed_query(subject)  # its articles only: no sentence is ranked
        hits = self._retriever.retrieve(subject, vector, top_k, scope)
        candidates = list({hit.article.article_id: hit.article for hit in hits}.values())
        named = named_article(request, candidates)
        if named is None and len(scope.article_ids) == 1 and candidates:
            named = self._store.get_article(scope.article_ids[0])
        return named

    def _today(self) -> date:
        return date.fromisoformat(self._answer.now) if self._answer.now else date.today()

    def _dated(self, scope: Scope, when: When) -> Scope:
        """``scope`` narrowed to the days the question names, unless no article is in them."""
        if not (when.since or when.until):
            return scope
        narrowed = dated_scope(scope, when, self._keywords.days(), self._today())
        return narrowed if self._keywords.articles_in(narrowed) else scope

    def _used_judge(self) -> Judge:
        return self._judge or shipped_judge()

    def _answer_question(
        self,
        question: str,
        top_k: int,
        scope: Scope,
        show: Callable[[str], None],
        watch: Stopwatch,
    ) -> Answer:
        request = about_request(question)
        if request is not None and (article := self._named(request, top_k, scope)) is not None:
            with watch.stage("summarise"):
                return self.summary(article, question, show)
        with watch.stage("retrieve"):
            languages = self._retriever.question_languages(question)
            when = when_asked(question, next(iter(languages), ""), self._today())
            scope = self._dated(scope, when)
            asked = without_recency(question) if when.latest else question
            # "the latest" looks further: the newest article may not hold the best passages
            reach = top_k * LATEST_REACH if when.latest else top_k
            evidence = self.gather(asked, reach, scope, languages)
            if when.latest:
                evidence = Evidence(evidence.hits, newest_first(evidence.ranked))
            judged = self.judge(asked, evidence)
            # a learned pick leads (Judge.rankers), but never over "the latest" article's order
            if judged is not None and judged.first and not when.latest:
                evidence = Evidence(evidence.hits, leading(evidence.ranked, judged.first))
        if not evidence.hits:
            empty = EMPTY_SCOPE.format(scope.describe()) if scope else EMPTY_STORE
            show(empty)
            return Answer(question, empty, True, (), self.backend)
        known = {} if judged is None else _judged(judged)
        lead = (
            ""
            if judged is None
            else confidence_lead(judged.confidence, judged.direct, calibrated=judged.calibrated)
        )
        limit = self._answer.min_probability or (judged.threshold if judged else 0.0)
        if judged is None or judged.probability < limit:
            log.info("abstained: judged %s", None if judged is None else judged.probability)
        elif self._generator is not None:
            answer = self._generated(
                question, evidence.hits, self._generator, _led(show, lead), watch
            )
            if answer is not None:
                return replace(answer, **known)
        else:
            with watch.stage("generate"):
                chosen = select_answer(
                    evidence.ranked, self._answer.max_quotes, self._answer.min_evidence
                )
            with watch.stage("verify"):
                quotes = _verified([(item.article, item.text, item.start) for item in chosen])
            if quotes:
                # "the latest" says how recent: the date of the article it quotes first
                dated = when.latest and quotes[0].published
                said = f"The latest, from {quotes[0].published}:" if dated else ""
                text = " ".join(
                    [said] * bool(said)
                    + [f"{isolate(quote.text)} [{n}]" for n, quote in enumerate(quotes, 1)]
                )
                _led(show, lead)(text)
                claims = tuple(
                    Claim(said if number == 1 else "", (number,))
                    for number in range(1, len(quotes) + 1)
                )
                return Answer(question, text, False, quotes, self.backend, claims=claims, **known)
        show(NOT_ANSWERED)
        passages = []
        for hit in evidence.closest_passages():
            start, end = widened(
                hit.article.text, hit.chunk.start, hit.chunk.end, hit.article.language
            )
            passages.append((hit.article, hit.article.text[start:end], start))
        with watch.stage("verify"):
            closest = _verified(passages)
        return Answer(
            question, NOT_ANSWERED, True, closest, self.backend, **{**known, "direct": False}
        )

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
        schema = answer_schema(passages, _sentences(passages) if self._quote_sentences else ())
        pieces = iter(generator.generate(messages, self._max_tokens, schema))
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
        return Answer(
            question,
            cited.text,
            False,
            tuple(cited.quotes),
            self.backend,
            claims=tuple(cited.claims),
        )


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


def _judged(judged: Assessment) -> dict[str, Any]:
    """What an answer carries of the judge's reading."""
    return {
        "probability": judged.confidence,
        "answerable": judged.probability,
        "direct": judged.direct,
        "calibrated": judged.calibrated,
    }


def _led(show: Callable[[str], None], lead: str) -> Callable[[str], None]:
    """``show``, with ``lead`` and a line break before the first piece."""
    pending = [f"{lead}\n"] if lead else []

    def shown(piece: str) -> None:
        show(pending.pop() + piece if pending else piece)

    return shown


def _sentences(passages: Sequence[Passage]) -> list[str]:
    """Every sentence of the passages, once: what a quote may be when quotes are sentences.

    Titles are left out (a title says nothing), and so are sentences holding ``"`` or ``\\``:
    llama-cpp-python's schema-to-grammar conversion breaks on them (0.3.16).
    """
    found = (
        passage.article.text[start:end]
        for passage in passages
        for start, end in sentence_spans(
            passage.article.text, passage.start, passage.end, passage.article.language
        )
    )
    titles = {passage.article.title for passage in passages}
    kept = (s for s in found if s not in titles and '"' not in s and "\\" not in s)
    return list(dict.fromkeys(kept))


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
