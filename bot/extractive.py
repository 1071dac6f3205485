"""Extractive answers: the retrieved sentences that best answer the question, and how sure we are.

A sentence's evidence score mixes two signals, each in 0..1:

* ``similarity``: cosine similarity of the question and the sentence embeddings;
* ``coverage``: the share of the question's content words that the sentence's chunk contains.

Off-topic questions still retrieve *something*, and a dense model finds every text somewhat similar;
what gives them away is that the question's own words are missing. The weights and the abstention
threshold (``answer.min_evidence``) were set by measurement on the SQuAD v2 sample (README).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.quotes import MIN_QUOTE_CHARS
from ingest.chunking import sentence_spans, stopwords
from ingest.embedding import Embedder
from ingest.schema import Article
from ingest.store import ScoredChunk

SIMILARITY_WEIGHT = 0.5
COVERAGE_WEIGHT = 0.5
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
    """A candidate sentence, as offsets into its article, with its scores."""

    article: Article
    start: int
    end: int
    similarity: float
    coverage: float

    @property
    def score(self) -> float:
        band = (self.similarity - SIMILARITY_FLOOR) / (SIMILARITY_CEILING - SIMILARITY_FLOOR)
        return SIMILARITY_WEIGHT * min(max(band, 0.0), 1.0) + COVERAGE_WEIGHT * self.coverage

    @property
    def text(self) -> str:
        return self.article.text[self.start : self.end]


def content_terms(text: str) -> set[str]:
    """Lower-cased word stems, stopwords left out."""
    words = re.findall(r"\w+", text.lower())
    ignored = stopwords() | QUESTION_VERBS
    return {_stem(word) for word in words if word not in ignored and len(word) > 1}


def _stem(word: str) -> str:
    """A light stemmer: enough to match ``stepped``/``step``, ``commanded``/``command``."""
    for suffix in ("ies", "es", "s", "ing", "ed", "er"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":
                stem = stem[:-1]  # stepped -> stepp -> step
            return stem
    return word


def rank_evidence(
    question: str, question_vector: Sequence[float], hits: Sequence[ScoredChunk], embedder: Embedder
) -> list[Evidence]:
    """Every sentence of the retrieved chunks, best evidence first."""
    wanted = content_terms(question)
    seen: set[tuple[str, int]] = set()
    candidates: list[tuple[Article, int, int, float]] = []
    for hit in hits:
        chunk_terms = content_terms(hit.chunk.text)
        coverage = len(wanted & chunk_terms) / len(wanted) if wanted else 0.0
        for start, end in sentence_spans(hit.article.text, hit.chunk.start, hit.chunk.end):
            key = (hit.article.article_id, start)
            is_title = hit.article.text[start:end].strip() == hit.article.title
            if end - start >= MIN_QUOTE_CHARS and key not in seen and not is_title:
                seen.add(key)
                candidates.append((hit.article, start, end, coverage))
    vectors = embedder.embed_documents([article.text[s:e] for article, s, e, _ in candidates])
    evidence = [
        Evidence(article, start, end, _dot(question_vector, vector), coverage)
        for (article, start, end, coverage), vector in zip(candidates, vectors, strict=True)
    ]
    return sorted(evidence, key=lambda item: item.score, reverse=True)


def select_answer(
    ranked: Sequence[Evidence], max_quotes: int, min_evidence: float
) -> list[Evidence]:
    """The sentences that make the answer; empty when even the best is too weak (abstain)."""
    if not ranked or ranked[0].score < min_evidence:
        return []
    floor = max(min_evidence, ranked[0].score - RUNNER_UP_MARGIN)
    return [item for item in ranked if item.score >= floor][:max_quotes]


def _dot(left: Sequence[float], right: Sequence[float]) -> float:
    return float(sum(a * b for a, b in zip(left, right, strict=True)))
