"""Extractive answers: the retrieved sentences that best answer the question, and how sure we are.

Each sentence of the retrieved chunks gets four signals, each in 0..1:

* ``closeness``: cosine similarity of question and sentence embeddings, rescaled to the band
  where the embedded model tells related from unrelated text;
* ``coverage``: the share of the question's content words that the sentence's chunk contains;
* ``article_coverage``: the share its whole article contains (a name counts as found where the
  article writes its initials, ``U.S.`` for ``United States``);
* ``focus``: the IDF-weighted share of the question's content words in the sentence itself, so the
  sentence holding the question's rarest word ("killed", "deciphered") wins over one that only
  repeats the topic ("Boston", "Rosetta").

A sentence in a language the question may be in is also read under its article's title
(``titled_similarity``): "Eagle landed … on 20 July 1969" answers "When did Apollo 11 land?" only
under "Apollo 11: the first crewed Moon landing". The ranking leaves that reading out (a headline
that answers the question brings every sentence of its article close to it); the judge's learned
first picks weigh it (``bot.answerability``), and it is made only where one does.

Two scores come from them. ``support`` says how well the retrieved text addresses the question
(off-topic questions still retrieve *something* and a dense model finds every text somewhat
similar; what gives them away is that the question's own words are missing): it is one of the
answerability judge's signals, and sentences in the question's language are preferred when one
has the support ``answer.min_evidence``. ``rank`` orders the sentences of an answer; a learned
ranker was tried against it and not kept (docs/answers.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.quotes import MIN_QUOTE_CHARS
from ingest.chunking import chunk_sentences
from ingest.embedding import Embedder
from ingest.schema import Article, ScoredChunk
from ingest.sentence_vectors import readings
from ingest.terms import content_terms, spelled_acronyms

# The embedded e5 model puts unrelated texts near 0.75 and paraphrases near 0.95: rescale that band.
SIMILARITY_FLOOR = 0.75
SIMILARITY_CEILING = 0.95
# Across languages its similarities run lower (a question and the sentence that answers it in
# another language: median 0.84, against 0.89 within one language; `python -m
# benchmarks.languages`), so the band a question in one language and an article in another are
# judged on ends lower.
CROSS_LANGUAGE_CEILING = 0.90
# A further sentence joins an answer only when it ranks nearly as high as the first.
RUNNER_UP_MARGIN = 0.05


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate sentence, as offsets into its article, with its signals."""

    article: Article
    start: int
    end: int
    similarity: float
    coverage: float
    focus: float
    same_language: bool = True  # question and article: else the word signals mean nothing
    terms: frozenset[str] = frozenset()  # the sentence's content terms
    wanted: frozenset[str] = frozenset()  # the question's, read in the article's language
    article_coverage: float = 0.0  # the share of ``wanted`` anywhere in the article
    chunk_rank: int = 0  # its chunk's place in the retrieved list
    matched_weight: float = 0.0  # the summed IDF of the question terms it holds
    # ``similarity`` of the sentence read under its article's title (in a language the question
    # may be in; else the same as ``similarity``)
    titled_similarity: float = 0.0

    @property
    def closeness(self) -> float:
        ceiling = SIMILARITY_CEILING if self.same_language else CROSS_LANGUAGE_CEILING
        band = (self.similarity - SIMILARITY_FLOOR) / (ceiling - SIMILARITY_FLOOR)
        return min(max(band, 0.0), 1.0)

    @property
    def support(self) -> float:
        """How well the retrieved text addresses the question; below the threshold, abstain.

        Across languages the question's words cannot be looked for in the article, so closeness
        stands in for coverage.
        """
        coverage = self.coverage if self.same_language else self.closeness
        return 0.5 * self.closeness + 0.5 * coverage

    @property
    def rank(self) -> float:
        """How well this sentence, rather than its neighbours or other articles, answers the
        question: an article that holds all of the question's words is about all of it, where
        another shares a name ("United States") with it."""
        if not self.same_language:
            return self.closeness
        return (
            0.5 * self.closeness
            + 0.25 * self.coverage
            + 0.25 * self.focus
            + 0.25 * self.article_coverage
        )

    @property
    def text(self) -> str:
        return self.article.text[self.start : self.end]


@dataclass(frozen=True)
class _Candidate:
    article: Article
    start: int
    end: int
    coverage: float
    terms: frozenset[str]
    wanted: frozenset[str]  # the question's terms, read in this article's language if it may be
    same_language: bool
    article_coverage: float
    chunk_rank: int


def rank_evidence(
    question: str,
    question_vector: Sequence[float],
    hits: Sequence[ScoredChunk],
    embedder: Embedder,
    languages: Sequence[str] = (),
    *,
    reads_title: Callable[[str, bool], bool] = lambda _language, _across: True,
) -> list[ScoredSentence]:
    """Every sentence of the retrieved chunks, best answer first.

    ``languages``: the question's language, then others it may be in (``Retriever``). An
    article in one of them is searched for the question's words read in the article's language;
    an article in another language is judged by closeness alone. ``reads_title(language,
    across)``: whether a sentence in its article's language is also read under its title, where
    other candidates are ``across`` languages or not (no need where nothing weighs that reading;
    ``titled_similarity`` is then ``similarity``).
    """
    candidates = _candidates(question, languages, hits)
    wanted_terms = {c.wanted for c in candidates}
    weights = _idf(frozenset().union(*wanted_terms), [c.terms for c in candidates])
    across = any(not c.same_language for c in candidates)
    # across languages the sentence is read alone (its words and title say nothing there)
    texts = [
        readings(c.article.title, c.article.text[c.start : c.end])[
            : 2 if c.same_language and reads_title(c.article.language, across) else 1
        ]
        for c in candidates
    ]
    vectors = iter(embedder.embed_documents([text for read in texts for text in read]))
    similarities = [[_dot(question_vector, next(vectors)) for _ in read] for read in texts]
    evidence = [
        ScoredSentence(
            c.article,
            c.start,
            c.end,
            similarity=read[0],
            titled_similarity=read[-1],
            coverage=c.coverage,
            focus=_share(weights, c.wanted & c.terms, c.wanted),
            matched_weight=sum(weights[term] for term in c.wanted & c.terms),
            same_language=c.same_language,
            terms=c.terms,
            wanted=c.wanted,
            article_coverage=c.article_coverage,
            chunk_rank=c.chunk_rank,
        )
        for c, read in zip(candidates, similarities, strict=True)
    ]
    return sorted(evidence, key=lambda item: item.rank, reverse=True)


def _candidates(
    question: str, languages: Sequence[str], hits: Sequence[ScoredChunk]
) -> list[_Candidate]:
    """The quotable sentences of the hits, each once; the article's title line, its boilerplate
    (licence lines, credits: ``Article.boilerplate``) and a sentence holding nothing but the
    question's own words are not."""
    seen: set[tuple[str, int]] = set()
    asked: dict[str, tuple[frozenset[str], dict[str, frozenset[str]]]] = {}  # by language
    candidates = []
    for chunk_rank, hit in enumerate(hits):
        language = hit.article.language
        same = not language or not languages or language in languages
        asked_in = language if same else languages[0]
        if asked_in not in asked:  # the question read once per language, not once per chunk
            names_in = spelled_acronyms(question, asked_in)
            # a name the question spells out is wanted by its words, not also by its initials
            # (which ``_with_names`` reads as the words): "Rosetta Stone" counted three times
            # outweighed the one word that asks (``found``)
            terms_in = frozenset(content_terms(question, asked_in) - names_in.keys())
            asked[asked_in] = (terms_in, names_in)
        wanted, names = asked[asked_in]
        chunk_terms = _with_names(content_terms(hit.chunk.text, language), names)
        coverage = len(wanted & chunk_terms) / len(wanted) if wanted else 0.0
        in_article = wanted & _with_names(_article_terms(hit.article.text, language), names)
        article_coverage = len(in_article) / len(wanted) if wanted else 0.0
        spans = chunk_sentences(hit.article.text, hit.chunk.start, hit.chunk.end, language)
        for start, end in spans:
            key = (hit.article.article_id, start)
            sentence = hit.article.text[start:end]
            if (
                end - start >= MIN_QUOTE_CHARS
                and key not in seen
                and sentence != hit.article.title
                and not hit.article.is_boilerplate(start, end)
            ):
                seen.add(key)
                terms = _with_names(content_terms(sentence, language), names)
                if same and terms <= wanted:
                    continue  # it only repeats the question ("Boston, 15 January 1919.")
                candidate = _Candidate(
                    hit.article, start, end, coverage, terms, wanted, same,
                    article_coverage, chunk_rank,
                )  # fmt: skip
                candidates.append(candidate)
    return candidates


def _with_names(found: Set[str], names: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """``found`` with the terms of each name the question spells out whose initials it holds:
    a sentence writing ``U.S.`` answers for ``United States``."""
    spelled = [words for initials, words in names.items() if initials in found]
    return frozenset(found).union(*spelled)


@lru_cache(maxsize=64)
def _article_terms(text: str, language: str) -> frozenset[str]:
    return frozenset(content_terms(text, language))


def _idf(wanted: frozenset[str], documents: Sequence[frozenset[str]]) -> dict[str, float]:
    """Inverse document frequency of each wanted term among the candidate sentences."""
    count = len(documents)
    return {
        term: math.log(1 + count / (sum(term in terms for terms in documents) + 0.5))
        for term in wanted
    }


def _share(weights: dict[str, float], found: frozenset[str], wanted: frozenset[str]) -> float:
    total = sum(weights[term] for term in wanted)
    return sum(weights[term] for term in found) / total if total else 0.0


def select_answer(
    ranked: Sequence[ScoredSentence], max_quotes: int, min_evidence: float
) -> list[ScoredSentence]:
    """The sentences that make the answer (``ranked``: best first), the one that answers first,
    as the passage it leads (:func:`lead_passage`).

    Sentences in the question's language are preferred when one of them has the support to
    answer (``min_evidence``): the embedding model compares across languages less sharply than
    within one. A further sentence joins only when it ranks within ``RUNNER_UP_MARGIN`` of the
    first, comes from the same article and holds a question term the sentences before it lack:
    another article sharing a name is not part of the answer.
    """
    if any(item.same_language and item.support >= min_evidence for item in ranked):
        ranked = [item for item in ranked if item.same_language]
    if not ranked:
        return []
    first = ranked[0]
    joined = lead_passage(first, ranked)
    chosen = [joined]
    covered = set(first.terms)
    for item in ranked[1:]:
        if len(chosen) == max_quotes or item.rank < first.rank - RUNNER_UP_MARGIN:
            break
        if _within(item, joined):
            covered |= item.terms
            continue
        adds = (item.wanted & item.terms) - covered
        if item.article.article_id == first.article.article_id and adds:
            chosen.append(item)
            covered |= item.terms
    return chosen


def lead_passage(first: ScoredSentence, ranked: Sequence[ScoredSentence]) -> ScoredSentence:
    """``first`` with the sentence right before it and the one right after it, each where it
    ranks within ``RUNNER_UP_MARGIN`` of it or higher: one passage quoted whole, as the answer is
    often in the sentence beside the one that names the question's subject ("It has been on
    display in the British Museum since 1802")."""
    beside = [
        item
        for item in ranked
        if is_beside(first, item) and item.rank >= first.rank - RUNNER_UP_MARGIN
    ]
    start = min([first.start, *(item.start for item in beside)])
    end = max([first.end, *(item.end for item in beside)])
    return replace(first, start=start, end=end)


def is_beside(item: ScoredSentence, other: ScoredSentence) -> bool:
    """``other`` is the sentence right before or right after ``item`` in its article (nothing
    but whitespace between them)."""
    if other.article.article_id != item.article.article_id:
        return False
    text = item.article.text
    if other.end <= item.start:
        return not text[other.end : item.start].strip()
    if other.start >= item.end:
        return not text[item.end : other.start].strip()
    return False


def _within(item: ScoredSentence, passage: ScoredSentence) -> bool:
    same = item.article.article_id == passage.article.article_id
    return same and passage.start <= item.start and item.end <= passage.end


def _dot(left: Sequence[float], right: Sequence[float]) -> float:
    return float(sum(a * b for a, b in zip(left, right, strict=True)))
