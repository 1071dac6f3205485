"""Extractive answers: the retrieved sentences that best answer the question, and how sure we are.

Each sentence of the retrieved chunks gets three signals, each in 0..1:

* ``closeness``: cosine similarity of question and sentence embeddings, rescaled to the band
  where the embedded model tells related from unrelated text;
* ``coverage``: the share of the question's content words that the sentence's chunk contains;
* ``focus``: the IDF-weighted share of the question's content words in the sentence itself, so the
  sentence holding the question's rarest word ("killed", "deciphered") wins over one that only
  repeats the topic ("Boston", "Rosetta").

Two scores come from them. ``support`` decides whether to answer at all: off-topic questions still
retrieve *something* and a dense model finds every text somewhat similar; what gives them away is
that the question's own words are missing. ``rank`` orders the sentences of an answer. Weights,
margin and the abstention threshold (``answer.min_evidence``) were set by measurement on the SQuAD
v2 sample (``python -m benchmarks.squad_sample``; figures in README).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.quotes import MIN_QUOTE_CHARS
from ingest.chunking import sentence_spans, stopwords
from ingest.embedding import Embedder
from ingest.schema import Article
from ingest.store import ScoredChunk

# The embedded e5 model puts unrelated texts near 0.75 and paraphrases near 0.95: rescale that band.
SIMILARITY_FLOOR = 0.75
SIMILARITY_CEILING = 0.95
# Question words that say what kind of answer is wanted, not what it is about.
QUESTION_VERBS = frozenset(
    (
        "say", "said", "says", "tell", "told", "do", "does", "did", "make", "made", "happen",
        "happened", "mean", "means", "called", "name", "named", "use", "used", "many", "much",
        "kind", "type", "way", "ever", "also", "one",
    )
)  # fmt: skip
# Further sentences join the answer only when nearly as good as the best one.
RUNNER_UP_MARGIN = 0.05


@dataclass(frozen=True)
class Evidence:
    """A candidate sentence, as offsets into its article, with its signals."""

    article: Article
    start: int
    end: int
    similarity: float
    coverage: float
    focus: float

    @property
    def closeness(self) -> float:
        band = (self.similarity - SIMILARITY_FLOOR) / (SIMILARITY_CEILING - SIMILARITY_FLOOR)
        return min(max(band, 0.0), 1.0)

    @property
    def support(self) -> float:
        """How well the retrieved text addresses the question; below the threshold, abstain."""
        return 0.5 * self.closeness + 0.5 * self.coverage

    @property
    def rank(self) -> float:
        """How well this sentence, rather than its neighbours, answers the question."""
        return 0.5 * self.closeness + 0.25 * self.coverage + 0.25 * self.focus

    @property
    def text(self) -> str:
        return self.article.text[self.start : self.end]


def content_terms(text: str) -> set[str]:
    """Lower-cased word stems, stopwords left out."""
    return set(terms(text))


def terms(text: str) -> list[str]:
    """The content word stems of ``text`` in order, repeats kept (for BM25)."""
    words = re.findall(r"\w+", text.lower())
    ignored = stopwords() | QUESTION_VERBS
    return [_stem(word) for word in words if word not in ignored and len(word) > 1]


def _stem(word: str) -> str:
    """A light stemmer: enough to match ``stepped``/``step``, ``commanded``/``command``."""
    for suffix in ("ies", "es", "s", "ing", "ed", "er"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":
                stem = stem[:-1]  # stepped -> stepp -> step
            return stem
    return word


@dataclass(frozen=True)
class _Candidate:
    article: Article
    start: int
    end: int
    coverage: float
    terms: frozenset[str]


def rank_evidence(
    question: str, question_vector: Sequence[float], hits: Sequence[ScoredChunk], embedder: Embedder
) -> list[Evidence]:
    """Every sentence of the retrieved chunks, best answer first."""
    wanted = content_terms(question)
    candidates = _candidates(wanted, hits)
    weights = _idf(wanted, [candidate.terms for candidate in candidates])
    total = sum(weights.values())
    vectors = embedder.embed_documents([c.article.text[c.start : c.end] for c in candidates])
    evidence = [
        Evidence(
            c.article,
            c.start,
            c.end,
            similarity=_dot(question_vector, vector),
            coverage=c.coverage,
            focus=sum(weights[term] for term in wanted & c.terms) / total if total else 0.0,
        )
        for c, vector in zip(candidates, vectors, strict=True)
    ]
    return sorted(evidence, key=lambda item: item.rank, reverse=True)


def _candidates(wanted: set[str], hits: Sequence[ScoredChunk]) -> list[_Candidate]:
    """The quotable sentences of the hits, each once; the article's title line is not one."""
    seen: set[tuple[str, int]] = set()
    candidates = []
    for hit in hits:
        chunk_terms = content_terms(hit.chunk.text)
        coverage = len(wanted & chunk_terms) / len(wanted) if wanted else 0.0
        for start, end in sentence_spans(hit.article.text, hit.chunk.start, hit.chunk.end):
            key = (hit.article.article_id, start)
            sentence = hit.article.text[start:end]
            if end - start >= MIN_QUOTE_CHARS and key not in seen and sentence != hit.article.title:
                seen.add(key)
                candidates.append(
                    _Candidate(
                        hit.article, start, end, coverage, frozenset(content_terms(sentence))
                    )
                )
    return candidates


def _idf(wanted: set[str], documents: Sequence[frozenset[str]]) -> dict[str, float]:
    """Inverse document frequency of each wanted term among the candidate sentences."""
    count = len(documents)
    return {
        term: math.log(1 + count / (sum(term in terms for terms in documents) + 0.5))
        for term in wanted
    }


def best_support(ranked: Sequence[Evidence]) -> float:
    return max((item.support for item in ranked), default=0.0)


def select_answer(
    ranked: Sequence[Evidence], max_quotes: int, min_evidence: float
) -> list[Evidence]:
    """The sentences that make the answer; empty when the support is too weak (abstain)."""
    if best_support(ranked) < min_evidence:
        return []
    floor = ranked[0].rank - RUNNER_UP_MARGIN
    return [item for item in ranked if item.rank >= floor][:max_quotes]


def _dot(left: Sequence[float], right: Sequence[float]) -> float:
    return float(sum(a * b for a, b in zip(left, right, strict=True)))
