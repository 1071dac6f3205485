"""Do the retrieved articles answer the question? A learned judge's probability that they do.

Word coverage and embedding closeness tell a question about the articles' topic from one about
something else, but not "about the topic" from "answered by it": SQuAD v2's unanswerable
questions reuse the article's words. The judge is a logistic regression over cheap signals of the
question's evidence (:func:`judge_inputs`: the best sentence's and the candidates' as a whole),
trained on public QA data by ``python -m training.judge``; weights, threshold and data card are in
``bot/data/judge.json`` (and ``bot/data/JUDGE.md``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache
from pathlib import Path
from typing import TypeVar

import regex
from pydantic import BaseModel

from bot.extractive import ScoredSentence, is_beside
from ingest.terms import ISO_ALIASES, normalize, terms, words

Item = TypeVar("Item")
JUDGE_FILE = Path(__file__).with_name("data") / "judge.json"
SPREAD = 5  # how many of the best sentences the spread signals look at
KINDS = ("number", "year", "name")  # kinds of answer a question may ask for
CANDIDATES = 10  # how many of the best sentences the best one is compared with
GRAM = 4  # letters in the n-grams that match inflected and compound words
# The key of the judge's per-language tables for a question asked in another language than the
# article its best sentence comes from (training.question_sets.across_languages)
ACROSS = "*"
RELATIVE = (
    "similarity",
    "titled_similarity",
    "focus",
    "coverage",
    "matched_weight",
    "shared_run",
    "gram_share",
)
# Signals only the first pick weighs: a headline that answers the question brings every sentence
# of its article close to it read under the title, so the judge and the confidence leave them out
PICK_ONLY = frozenset({"titled_similarity", "below_best_titled_similarity"})
_NUMBER = regex.compile(r"\d+(?:[.,]\d+)*")
_YEAR = regex.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)")
_NAME = regex.compile(r"(?<=[\p{L}\p{N},;:)] )(\p{Lu}[\p{Ll}\p{Lo}]+)")
# A question's names: capitalised words and acronyms (RBK) that do not open it
_ASKED_NAME = regex.compile(r"(?<=[\p{L}\p{N},;:)] )(\p{Lu}[\p{L}\p{N}]*)")
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

    def best(self, rows: Sequence[Mapping[str, float]]) -> int:
        """The index of the row with the highest probability (the first of equals)."""
        scores = [self.probability(row) for row in rows]
        return scores.index(max(scores))

    def probability(self, values: Mapping[str, float]) -> float:
        logit = self.bias + sum(
            weight * (values[name] - mean) / scale
            for name, mean, scale, weight in zip(
                self.features, self.means, self.scales, self.weights, strict=True
            )
        )
        return _sigmoid(logit)


def leading(items: Sequence[Item], first: int) -> list[Item]:
    """``items`` with the one at ``first`` moved to the front, the rest in their order."""
    return [items[first], *items[:first], *items[first + 1 :]]


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(logit, 500.0), -500.0)))


def logit(probability: float) -> float:
    """The inverse of the sigmoid, for a probability kept clear of 0 and 1."""
    clamped = _clear(probability)
    return math.log(clamped / (1 - clamped))


def _clear(probability: float) -> float:
    """``probability`` kept clear of 0 and 1, where a logarithm of it or of its complement is
    taken."""
    return min(max(probability, 1e-9), 1 - 1e-9)


def recalibrated(confidence: float, calibration: tuple[float, float]) -> float:
    """``confidence`` through a calibration: (slope, intercept) on its logit."""
    slope, intercept = calibration
    return _sigmoid(intercept + slope * logit(confidence))


@dataclass(frozen=True)
class Assessment:
    """The judge's reading of a question's evidence."""

    probability: float  # that the articles answer the question: decline below the threshold
    threshold: float  # the judge's, for the language of the best sentence's article
    confidence: float  # that the answer's first quote is right: what the answer says of itself
    first: int = 0  # which of the ranked sentences leads the answer (Judge.rankers)
    # ``confidence`` was calibrated for this question: its article's language has a calibration
    # of its own that held on each of its development sources (``Judge.percentages``; languages
    # the judge never saw, questions across languages and English have none such)
    calibrated: bool = True
    direct: bool = False  # sure enough to say "The articles answer this" (``Judge.direct``)


class AnswerKinds(BaseModel, frozen=True):
    """What kind of answer a question's words ask for, learned from development questions in
    every language they come in: the share of questions holding a word whose answer is a
    number, a year or a name (``how many``, ``når``, ``кто``), for words common enough to say."""

    words: dict[str, tuple[float, ...]]  # word → the share of each of ``KINDS``
    base: tuple[float, ...]  # the shares over all questions, for a question of no known word

    def expected(self, question: str, language: str) -> dict[str, float]:
        """How likely ``question`` asks for each kind: as its most telling known word says (the
        one whose shares lie furthest from the base: ``many``, not ``the``)."""
        known = [self.words[word] for word in words(question, language) if word in self.words]
        shares = max(known, key=self._telling, default=self.base)
        return dict(zip(KINDS, shares, strict=True))

    def _telling(self, shares: tuple[float, ...]) -> float:
        """How far a word's shares lie from the base: their summed binary KL divergence (shares
        kept clear of 0 and 1, as a table rounded to four places may hold them)."""
        total = 0.0
        for share, base in zip(shares, self.base, strict=True):
            p, q = _clear(share), _clear(base)
            total += p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
        return total


class Judge(BaseModel, frozen=True):
    """The answerability judge and the confidence (``training.judge``)."""

    kinds: AnswerKinds
    model: LogisticModel  # pooled over every language, on the candidates as ranked
    # per language with enough development data of its own (same-language questions only), and
    # for questions across languages (``ACROSS``), on the candidates as its ranker leads them
    models: dict[str, LogisticModel]
    # per language with the questions to decide for itself: a learned pick of the first sentence
    # among the best ``CANDIDATES`` where, in cross-validation, it beat the ranking's own first by
    # a clear margin, else None (the ranking's order); ``""``: the pick learned from one
    # language's questions, for questions in their article's language in the other languages,
    # kept where it beat the ranking's first on the languages it never saw (training.judge)
    rankers: dict[str, LogisticModel | None]
    confidence: LogisticModel
    threshold: float  # answer at or above this probability (languages not in ``thresholds``)
    thresholds: dict[str, float]  # per language the judge was trained on, and ``ACROSS``
    # per language: (slope, intercept) on the confidence's logit, fitted on held-out answers
    calibration: dict[str, tuple[float, float]]
    # per language: from this calibrated confidence an answer is called direct, the lowest at
    # which held-out answers were right often enough (training.direct); a language not named
    # here is never called direct
    direct: dict[str, float]
    # the calibrated languages whose calibration held on each of their development sources
    # (training.percentages): their answers state the confidence as a percentage, the others'
    # in words alone
    percentages: tuple[str, ...]

    def threshold_for(self, language: str) -> float:
        """The judge's threshold for an answer from an article in ``language`` (:data:`ACROSS`:
        to a question in another language than the article)."""
        return self.thresholds.get(language, self.threshold)

    def ranker_for(self, judged_as: str) -> LogisticModel | None:
        """The learned first pick for an article's language, or for :data:`ACROSS` (None: the
        ranking's order): the language's own decision, else, for a question in its article's
        language, the shared pick."""
        if judged_as in self.rankers or judged_as == ACROSS:
            return self.rankers.get(judged_as)
        return self.rankers.get("")

    def reads_titles(self, language: str, across: bool = False) -> bool:
        """Does a first pick that may lead a sentence of ``language``'s article weigh its reading
        under the title (:data:`PICK_ONLY`)? The language's pick, or, where other candidates are
        in another language than the question (``across``: one of them may lead), the pick for
        questions across languages. Elsewhere nothing reads it."""
        rankers = [self.ranker_for(language), self.ranker_for(ACROSS) if across else None]
        return any(r is not None and not PICK_ONLY.isdisjoint(r.features) for r in rankers)

    def calibrated(self, confidence: float, language: str) -> float:
        """The confidence as measured for ``language`` (the pooled calibration elsewhere)."""
        return recalibrated(confidence, self.calibration.get(language, self.calibration[""]))

    def assess(self, question: str, ranked: Sequence[ScoredSentence]) -> Assessment:
        """How likely ``ranked`` (best first, never empty) answers ``question``, and how likely
        its first sentence is right."""
        language = ranked[0].article.language
        same = ranked[0].same_language
        judged_as = language if same else ACROSS  # the key of every per-language table
        expected = self.kinds.expected(question, language)
        rows = candidate_inputs(candidate_signals(question, ranked), expected)
        ranker = self.ranker_for(judged_as)
        first = ranker.best(rows) if ranker else 0
        asked, articles = question_signals(ranked), [item.article.article_id for item in ranked]
        as_ranked = judge_inputs(asked, rows, articles)
        as_led = judge_inputs(asked, leading(rows, first), leading(articles, first))
        own = self.models.get(judged_as)
        confidence = self.calibrated(self.confidence.probability(as_led), judged_as)
        calibrated = judged_as in self.percentages
        return Assessment(
            own.probability(as_led) if own else self.model.probability(as_ranked),
            self.threshold_for(judged_as),
            confidence,
            first,
            calibrated,
            calibrated and confidence >= self.direct.get(judged_as, math.inf),
        )


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
        "titled_similarity": item.titled_similarity,
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


def candidate_signals(question: str, ranked: Sequence[ScoredSentence]) -> list[dict[str, float]]:
    """The signals of the best :data:`CANDIDATES` sentences (``ranked``: best first), with
    what no single score holds: where the sentence stands in its article, whether it brings a
    number the question lacks, and how many of the question's words' letter 4-grams it holds
    (inflections and compounds match there: ``arbeidsledigheten`` holds ``ledig``)."""
    language = ranked[0].article.language
    asked_grams = _grams(question, language)
    asked_numbers = frozenset(_NUMBER.findall(normalize(question, language)))
    asked_names = _names(question) | frozenset(words(question, language))
    named = _name_stems(question)
    in_article: dict[str, float] = {}  # the candidates mostly share a few articles: each read once
    rows = []
    for place, item in enumerate(ranked[:CANDIDATES]):
        row = sentence_signals(question, item, ranked)
        said = normalize(item.text, item.article.language)
        row["names_missing_in_sentence"] = _names_missing(named, item.text)
        article_id = item.article.article_id
        if article_id not in in_article:
            in_article[article_id] = _names_missing(named, item.article.text)
        row["names_missing_in_article"] = in_article[article_id]
        row["place"] = float(place)
        row["position"] = item.start / max(len(item.article.text), 1)
        row["new_number"] = float(bool(frozenset(_NUMBER.findall(said)) - asked_numbers))
        row["new_year"] = float(bool(frozenset(_YEAR.findall(said)) - asked_numbers))
        row["new_name"] = float(bool(_names(item.text) - asked_names))
        row["gram_share"] = (
            len(asked_grams & _grams(item.text, item.article.language)) / len(asked_grams)
            if asked_grams and item.same_language
            else 0.0
        )
        rows.append(row)
    return rows


def candidate_inputs(
    rows: Sequence[Mapping[str, float]], expected: Mapping[str, float]
) -> list[dict[str, float]]:
    """Each candidate's signals beside the best of them (``RELATIVE``): a sentence is chosen
    against the others retrieved for the same question, whatever the language's scale; and how
    well it holds the kind of answer the question asks for (``expected``: AnswerKinds)."""
    best = {name: max(row[name] for row in rows) for name in RELATIVE}
    return [
        {
            **row,
            **{f"below_best_{name}": best[name] - row[name] for name in RELATIVE},
            **{f"fits_{kind}": expected[kind] * row[f"new_{kind}"] for kind in KINDS},
        }
        for row in rows
    ]


def kinds_of(answer: str) -> tuple[bool, ...]:
    """Which of ``KINDS`` a gold answer is (as the candidates' ``new_`` signals see them)."""
    folded = normalize(answer)
    return (
        bool(_NUMBER.search(folded)),
        bool(_YEAR.search(folded)),
        bool(regex.search(r"\p{Lu}", answer)),
    )


def _names(text: str) -> frozenset[str]:
    """Capitalised words that do not open a sentence, casefolded: names, in cased scripts."""
    return frozenset(match.group(1).casefold() for match in _NAME.finditer(text))


def _name_stems(question: str) -> frozenset[str]:
    """The question's names (:data:`_ASKED_NAME`), casefolded, less a two-letter ending when
    long enough to keep four (``Haalands`` finds ``Haaland``; ``Kina`` finds ``Kinas``)."""
    found = (match.group(1).casefold() for match in _ASKED_NAME.finditer(question))
    return frozenset(name[: max(4, len(name) - 2)] for name in found)


def _names_missing(names: frozenset[str], text: str) -> float:
    """The share of ``names`` that open no word of ``text`` (0 for a question without names):
    a question about Kina is not answered by an article that never names it."""
    if not names:
        return 0.0
    folded = text.casefold()
    found = sum(bool(regex.search(rf"(?<!\w){regex.escape(name)}", folded)) for name in names)
    return 1.0 - found / len(names)


def _grams(text: str, language: str) -> frozenset[str]:
    words = [word for word in terms(text, language) if len(word) >= GRAM]
    return frozenset(word[i : i + GRAM] for word in words for i in range(len(word) - GRAM + 1))


def question_signals(ranked: Sequence[ScoredSentence]) -> dict[str, float]:
    """Signals of all the candidates, not of one of them (whichever order they are put in)."""
    similarities = sorted((item.similarity for item in ranked), reverse=True)
    seen = frozenset().union(*(item.terms for item in ranked if item.same_language))
    wanted = ranked[0].wanted
    return {
        "best_support": max(item.support for item in ranked),
        "best_similarity": similarities[0],
        "similarity_spread": similarities[0] - similarities[min(SPREAD, len(similarities)) - 1],
        "missing_everywhere": _missing(wanted, seen) if ranked[0].same_language else 1.0,
        "question_terms": math.log1p(len(wanted)),
    }


def judge_inputs(
    asked: Mapping[str, float], candidates: Sequence[Mapping[str, float]], articles: Sequence[str]
) -> dict[str, float]:
    """The judge's and the confidence's inputs: the question's signals (``asked``), those of the
    best sentence (``top_``), how far it leads the next, and how many articles the best
    :data:`SPREAD` come from. ``candidates`` and ``articles`` are best first."""
    runner_up = candidates[1]["rank"] if len(candidates) > 1 else 0.0
    return {
        **asked,
        **{f"top_{name}": value for name, value in candidates[0].items() if name not in PICK_ONLY},
        "rank_gap": candidates[0]["rank"] - runner_up,
        "articles": float(len(set(articles[:SPREAD]))),
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
    """The sentence's terms with those of the candidates just before and after it, and of any
    that overlaps it (a sentence too long to quote whole, cut at a chunk's edge)."""
    window = item.terms
    for other in ranked:
        overlaps = (
            other.article.article_id == item.article.article_id
            and other.start < item.end
            and item.start < other.end
        )
        if other is not item and (is_beside(item, other) or overlaps):
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
