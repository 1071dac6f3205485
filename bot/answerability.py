"""Do the retrieved articles answer the question? A learned judge's probability that they do.

Word coverage and embedding closeness tell a question about the articles' topic from one about
something else, but not "about the topic" from "answered by it": SQuAD v2's unanswerable
questions reuse the article's words. The judge is a logistic regression over cheap signals of the
question's evidence (:func:`judge_signals`: the best sentence's and the candidates' as a whole),
trained on public QA data by ``python -m training.judge``; weights, threshold and data card are in
``bot/data/judge.json`` (and ``bot/data/JUDGE.md``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from functools import cache
from pathlib import Path

import regex
from pydantic import BaseModel

from bot.extractive import ScoredSentence
from ingest.terms import ISO_ALIASES, normalize, terms

JUDGE_FILE = Path(__file__).with_name("data") / "judge.json"
SPREAD = 5  # how many of the best sentences the spread signals look at
# Negation words, normalised as ingest.terms does. A question asking what did *not* happen is
# rarely answered by a sentence without one. Han and Thai script: matched inside the text.
NEGATIONS = {
    "en": "not no never none nothing nobody neither nor without cannot didn doesn don isn wasn "
    "weren aren couldn wouldn shouldn hasn haven hadn won",
    "de": "nicht kein keine keinen keinem keiner keines nie niemals niemand nichts ohne weder",
    "fr": "ne pas jamais aucun aucune rien personne sans ni",
    "es": "no nunca jamás ningún ninguno ninguna nada nadie sin ni tampoco",
    "it": "non mai nessuno nessuna niente nulla senza né",
    "pt": "não nunca nenhum nenhuma nada ninguém sem nem",
    "nl": "niet geen nooit niemand niets zonder",
    "ru": "не нет никогда ни никто ничего ничто без",
    "no": "ikke ikkje aldri ingen intet ingenting uten",  # Norwegian: nb and nn, by ISO_ALIASES
    "da": "ikke aldrig ingen intet ingenting uden",
    "sv": "inte aldrig ingen inget ingenting utan",
    "ro": "nu niciodată fără nimic nimeni",
    "el": "δεν μην ποτέ κανένας καμία χωρίς",
    "tr": "değil yok hiç asla",
    "ar": "لا لم لن ليس ليست غير بدون دون ابدا",
    "fa": "نه نيست نبود نمي هيچ بدون هرگز",
    "hi": "नहीं न बिना कभी",
    "vi": "không chưa chẳng",
    "zh": "不 没 未 无 非 别",
    "th": "ไม่",
}


class LogisticModel(BaseModel, frozen=True):
    """A logistic regression over standardised, named inputs."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def probability(self, values: Mapping[str, float]) -> float:
        logit = self.bias + sum(
            weight * (values[name] - mean) / scale
            for name, mean, scale, weight in zip(
                self.features, self.means, self.scales, self.weights, strict=True
            )
        )
        return 1.0 / (1.0 + math.exp(-max(min(logit, 500.0), -500.0)))


class Judge(BaseModel, frozen=True):
    model: LogisticModel
    threshold: float  # answer at or above this probability

    def probability(self, question: str, ranked: Sequence[ScoredSentence]) -> float:
        """The probability that ``ranked`` (best first, never empty) answers ``question``."""
        return self.model.probability(judge_signals(question, ranked))


def judge_signals(question: str, ranked: Sequence[ScoredSentence]) -> dict[str, float]:
    """The judge's inputs: the candidates' as a whole, and the best sentence's (``top_``)."""
    top = ranked[0]
    best = {f"top_{name}": value for name, value in sentence_signals(question, top, ranked).items()}
    return {**question_signals(ranked), **best}


def sentence_signals(
    question: str, item: ScoredSentence, ranked: Sequence[ScoredSentence]
) -> dict[str, float]:
    """Signals of one sentence among the candidates (``ranked``, best first)."""
    same = item.same_language
    language = item.article.language
    window = _window_terms(item, ranked)
    numbers = frozenset(term for term in item.wanted if term.isdigit())
    return {
        "support": item.support,
        "closeness": item.closeness,
        "coverage": item.coverage,
        "focus": item.focus,
        "similarity": item.similarity,
        "rank": item.rank,
        "matched_weight": item.matched_weight,
        "article_coverage": item.article_coverage if same else item.closeness,
        "chunk_rank": float(item.chunk_rank),
        "missing_in_sentence": _missing(item.wanted, item.terms) if same else 1.0,
        "missing_in_window": _missing(item.wanted, window) if same else 1.0,
        "numbers_missing": _missing(numbers, window) if numbers and same else 0.0,
        "negation_missing": float(negated(question, language) and not negated(item.text, language)),
        "shared_run": _shared_run(question, item) if same else 0.0,
        "sentence_terms": math.log1p(len(item.terms)),
        "same_language": float(same),
    }


def question_signals(ranked: Sequence[ScoredSentence]) -> dict[str, float]:
    """Signals of all the candidates, not of one of them."""
    similarities = sorted((item.similarity for item in ranked), reverse=True)
    seen = frozenset().union(*(item.terms for item in ranked if item.same_language))
    wanted = ranked[0].wanted
    runner_up = ranked[1].rank if len(ranked) > 1 else 0.0
    return {
        "best_support": max(item.support for item in ranked),
        "best_similarity": similarities[0],
        "similarity_spread": similarities[0] - similarities[min(SPREAD, len(similarities)) - 1],
        "rank_gap": ranked[0].rank - runner_up,
        "missing_everywhere": _missing(wanted, seen) if ranked[0].same_language else 1.0,
        "question_terms": math.log1p(len(wanted)),
        "articles": float(len({item.article.article_id for item in ranked[:SPREAD]})),
    }


def negated(text: str, language: str) -> bool:
    """Does ``text`` hold one of its language's negation words (``NEGATIONS``)?"""
    words = _negations(language)
    folded = normalize(text, language)
    if language in {"zh", "th", "ja"}:
        return any(word in folded for word in words)
    return not words.isdisjoint(regex.findall(r"\w+", folded))


@cache
def _negations(language: str) -> frozenset[str]:
    words = NEGATIONS.get(ISO_ALIASES.get(language, language), "")
    return frozenset(normalize(word, language) for word in words.split())


def _missing(wanted: frozenset[str], found: frozenset[str]) -> float:
    return len(wanted - found) / len(wanted) if wanted else 1.0


def _window_terms(item: ScoredSentence, ranked: Sequence[ScoredSentence]) -> frozenset[str]:
    """The sentence's terms with those of the candidates just before and after it."""
    window = item.terms
    text = item.article.text
    for other in ranked:
        if other is item or other.article.article_id != item.article.article_id:
            continue
        gap = (
            text[other.end : item.start]
            if other.end <= item.start
            else text[item.end : other.start]
        )
        if not gap.strip():
            window |= other.terms
    return window


def _shared_run(question: str, item: ScoredSentence) -> float:
    """The longest run of the question's terms, in order, that the sentence repeats; 0..1."""
    language = item.article.language
    asked, said = terms(question, language), terms(item.text, language)
    if not asked:
        return 0.0
    match = SequenceMatcher(None, asked, said, autojunk=False)
    return match.find_longest_match(0, len(asked), 0, len(said)).size / len(asked)


@cache
def shipped_judge() -> Judge:
    """The judge trained by ``python -m training.judge``, from the package's data."""
    card = json.loads(JUDGE_FILE.read_text(encoding="utf-8"))
    return Judge.model_validate(card["judge"])
