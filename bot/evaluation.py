"""``inquote eval``: answer quality and speed on a question set, through the real pipeline.

Question sets are SQuAD v2 JSON (``data[].paragraphs[].qas[]``, each article's paragraphs joined)
or JSON Lines of ``{"question", "answers", "article"}`` (``answers`` a list of strings, empty for
questions the article does not answer; ``article`` the article's text, or its title when a SQuAD
file gives the texts).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.answer import Answer
from bot.answering import Answerer
from bot.app import Library
from config.errors import SourceError
from config.settings import Settings
from ingest.embedding import Embedder
from ingest.language import detect_language
from ingest.schema import WHOLE_STORE, Scope
from ingest.terms import content_terms, normalize

RECALL_AT = (1, 5, 10)
ANSWERED_TARGETS = (0.95, 0.90, 0.85)  # unanswerable declined, had this share been answered
CHANCE_DRAWS = 200  # outcomes drawn for the ECE that chance alone gives
# Measures as the tables name them, in their order.
COLUMNS = {
    "answered": "answered",
    "gold_answer_in_quote": "gold in a quote",
    "gold_answer_in_first_quote": "gold in first quote",
    "gold_in_first_lenient": "gold in first (lenient)",
    "quotes_per_answer": "quotes / answer",
    "first_quote_chars": "first quote, chars",
    "quote_validity": "quotes verbatim",
    "abstained_unanswerable": "unanswerable declined",
    "abstained_off_corpus": "off-corpus declined",
    "off_corpus_gold": "off-corpus answered, gold in first quote",
    "recall@1": "recall@1",
    "recall@5": "recall@5",
    "question_language_matches": "question language = article's",
    "judge_auc": "judge AUC",
    "declined_over_own_evidence": "declined, gold in first passage shown",
    "calibration_error": "confidence ECE",
    "chance_calibration_error": "ECE by chance",
    "direct_share": 'said "answer this"',
    "direct_right": "right when said",
    **{f"declined_at_{t:.2f}": f"declined at {t:.2f} answered" for t in ANSWERED_TARGETS},
}
# What comparing backends is about: answers, not retrieval (the same for every backend).
BACKEND_COLUMNS = (
    "answered",
    "gold_answer_in_quote",
    "gold_answer_in_first_quote",
    "abstained_unanswerable",
    "abstained_off_corpus",
)
STAGES = ("retrieve", "generate", "verify")


@dataclass(frozen=True)
class EvalArticle:
    title: str
    text: str


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    answers: tuple[str, ...]  # empty: the article does not answer it
    article: str  # title
    language: str = ""  # the article's, as ingest detects it


def load_eval_file(path: Path) -> tuple[list[EvalArticle], list[EvalQuestion]]:
    """The articles and questions of a SQuAD v2 JSON or a JSON Lines file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read it ({exc.strerror})") from exc
    try:
        if path.suffix.lower() == ".jsonl":
            articles, questions = _from_jsonl(
                [json.loads(line) for line in raw.splitlines() if line.strip()]
            )
        else:
            articles, questions = _from_squad(json.loads(raw))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SourceError(f"{path}: not a SQuAD v2 or question JSONL file ({exc})") from exc
    languages = {article.title: detect_language(article.text) for article in articles}
    return articles, [replace(q, language=languages.get(q.article, "")) for q in questions]


def page_title(name: str) -> str:
    """A SQuAD article's title, a Wikipedia page's name, as the page shows it: words, not
    ``Computational_complexity_theory`` (answering reads each sentence under its title)."""
    return name.replace("_", " ")


def _from_squad(data: dict[str, Any]) -> tuple[list[EvalArticle], list[EvalQuestion]]:
    articles, questions = [], []
    for entry in data["data"]:
        title = page_title(str(entry["title"]))
        articles.append(EvalArticle(title, "\n\n".join(p["context"] for p in entry["paragraphs"])))
        for paragraph in entry["paragraphs"]:
            for qa in paragraph["qas"]:
                golds = () if qa.get("is_impossible") else tuple(a["text"] for a in qa["answers"])
                questions.append(EvalQuestion(qa["question"], golds, title))
    return articles, questions


def _from_jsonl(rows: list[dict[str, Any]]) -> tuple[list[EvalArticle], list[EvalQuestion]]:
    titles: dict[str, str] = {}
    questions = []
    for row in rows:
        text = str(row["article"])
        title = titles.setdefault(text, str(row.get("title") or f"article {len(titles) + 1}"))
        answers = tuple(a if isinstance(a, str) else a["text"] for a in row.get("answers", []))
        questions.append(EvalQuestion(str(row["question"]), answers, title))
    return [EvalArticle(title, text) for text, title in titles.items()], questions


def build_library(
    articles: Sequence[EvalArticle], folder: Path, settings: Settings, embedder: Embedder
) -> Library:
    """A data directory under ``folder`` holding ``articles``, ingested as files by the real
    pipeline, with ``settings`` otherwise."""
    texts = folder / "articles"
    texts.mkdir(parents=True)
    for index, article in enumerate(articles):
        name = re.sub(r"[^\w-]+", "_", article.title)[:80] or f"article-{index}"
        (texts / f"{index:04d}-{name}.txt").write_text(article.text, encoding="utf-8")
    at = settings.model_copy(update={"data_dir": folder / "data"})
    writing = Library(at, write=True, embedder=embedder)
    try:
        writing.ingestor().add_paths([texts])
    finally:
        writing.close()  # its writer lock: the questions only read
    return Library(at, embedder=embedder)


@dataclass
class Tally:
    """Counts over one group of questions (a language, or all of them)."""

    answerable: int = 0
    ranks: list[int | None] = field(default_factory=list)
    answered: int = 0
    gold_in_quote: int = 0
    gold_in_first: int = 0
    gold_in_first_lenient: int = 0
    quotes_in_answers: int = 0
    first_quote_chars: int = 0  # summed over answers
    quotes_shown: int = 0
    quotes_verbatim: int = 0
    unanswerable: int = 0
    unanswerable_abstained: int = 0
    off_corpus: int = 0
    off_corpus_abstained: int = 0
    # off-corpus, answered, the first quote holding the question's own gold answer: a store
    # split by article title keeps other articles on the same story (NorQuAD news)
    off_corpus_gold: int = 0
    language_checked: int = 0
    language_matched: int = 0
    # (answerable?, the judge's probability) per question
    judged: list[tuple[bool, float]] = field(default_factory=list)
    # (the answer's confidence, its first quote holds a gold answer, called direct) per answer
    answers: list[tuple[float, bool, bool]] = field(default_factory=list)
    declined_over_own_evidence: int = 0  # answerable, declined, gold in the first passage shown

    def measures(self) -> dict[str, float | None]:
        found = [rank for rank in self.ranks if rank is not None]
        result: dict[str, float | None] = {
            f"recall@{k}": _share(sum(rank < k for rank in found), self.answerable)
            for k in RECALL_AT
        }
        result["mrr@10"] = _share(sum(1 / (rank + 1) for rank in found), self.answerable)
        result["answered"] = _share(self.answered, self.answerable)
        result["gold_answer_in_quote"] = _share(self.gold_in_quote, self.answerable)
        result["gold_answer_in_first_quote"] = _share(self.gold_in_first, self.answerable)
        result["gold_in_first_lenient"] = _share(self.gold_in_first_lenient, self.answerable)
        result["quotes_per_answer"] = (
            self.quotes_in_answers / self.answered if self.answered else None
        )
        result["first_quote_chars"] = (
            self.first_quote_chars / self.answered if self.answered else None
        )
        result["quote_validity"] = _share(self.quotes_verbatim, self.quotes_shown)
        result["abstained_unanswerable"] = _share(self.unanswerable_abstained, self.unanswerable)
        result["abstained_off_corpus"] = _share(self.off_corpus_abstained, self.off_corpus)
        result["off_corpus_gold"] = float(self.off_corpus_gold) if self.off_corpus else None
        result["question_language_matches"] = _share(self.language_matched, self.language_checked)
        result["judge_auc"] = roc_auc(self.judged)
        result["declined_over_own_evidence"] = (
            float(self.declined_over_own_evidence) if self.answerable else None
        )
        stated = [(p, ok) for p, ok, _ in self.answers]
        result["calibration_error"] = calibration_error(stated)
        result["chance_calibration_error"] = chance_calibration_error(stated)
        direct = [ok for _, ok, said in self.answers if said]
        result["direct_share"] = _share(len(direct), len(self.answers))
        result["direct_right"] = _share(sum(direct), len(direct))
        for target in ANSWERED_TARGETS:
            result[f"declined_at_{target:.2f}"] = declined_at(self.judged, target)
        return result

    def counts(self) -> dict[str, int]:
        return {
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "off_corpus": self.off_corpus,
            "quotes_shown": self.quotes_shown,
        }


def _share(part: float, whole: int) -> float | None:
    return part / whole if whole else None


def roc_auc(judged: Sequence[tuple[bool, float]]) -> float | None:
    """How often an answerable question outscores an unanswerable one (ties: half)."""
    positive = np.sort([score for answerable, score in judged if answerable])
    negative = np.array([score for answerable, score in judged if not answerable])
    if not len(positive) or not len(negative):
        return None
    below = np.searchsorted(positive, negative, side="left")
    at_or_below = np.searchsorted(positive, negative, side="right")
    wins = (len(positive) - at_or_below).sum() + 0.5 * (at_or_below - below).sum()
    return float(wins / (len(positive) * len(negative)))


def reliability(
    answers: Sequence[tuple[float, bool]], bins: int = 10
) -> list[tuple[str, int, float]]:
    """Answers by bins of confidence: (bin, count, share right), for bins holding any."""
    rows = []
    for low in range(bins):
        members = [ok for p, ok in answers if min(int(p * bins), bins - 1) == low]
        if members:
            rows.append((f"{low / bins:.1f}-{(low + 1) / bins:.1f}", len(members), _mean(members)))
    return rows


def calibration_error(answers: Sequence[tuple[float, bool]], bins: int = 10) -> float | None:
    """Expected calibration error: the mean gap, weighted by count, between the confidence and
    the share right over bins of confidence."""
    if not answers:
        return None
    total = 0.0
    for low in range(bins):
        members = [(p, ok) for p, ok in answers if _bin(p, bins) == low]
        if members:
            gap = _mean([p for p, _ in members]) - _mean([ok for _, ok in members])
            total += len(members) * abs(gap)
    return total / len(answers)


def chance_calibration_error(answers: Sequence[tuple[float, bool]], bins: int = 10) -> float | None:
    """The ECE that as many answers show when each is right exactly as often as it says: the
    mean over :data:`CHANCE_DRAWS` draws of their outcomes. An ECE near it is what chance alone
    gives a perfect calibration on so few answers (about 0.08 on 150, 0.02 on 2,000).

    A bin's weighted gap is its summed confidence less its answers right, so the bins are found
    once and every draw is one product."""
    if not answers:
        return None
    stated = np.array([probability for probability, _ in answers])
    members = np.eye(bins)[[_bin(probability, bins) for probability, _ in answers]]
    drawn = np.random.default_rng(0).random((CHANCE_DRAWS, len(stated))) < stated
    gaps = (stated - drawn) @ members  # per draw and bin
    return float(np.mean(np.abs(gaps).sum(axis=1))) / len(stated)


def _bin(probability: float, bins: int) -> int:
    return min(int(probability * bins), bins - 1)


def _mean(values: Sequence[float | bool]) -> float:
    return sum(values) / len(values)


def answering_threshold(scores: Sequence[float], answered: float) -> float:
    """The highest of ``scores`` (not empty) at or above which ``answered`` of them lie."""
    ordered = sorted(scores, reverse=True)
    return ordered[max(math.ceil(answered * len(ordered)) - 1, 0)]


def declined_at(judged: Sequence[tuple[bool, float]], answered: float) -> float | None:
    """The share of unanswerable questions declined by the probability threshold that answers
    ``answered`` of the answerable ones; None when that threshold is 0 (nothing is declined)."""
    positive = [score for ok, score in judged if ok]
    negative = [score for ok, score in judged if not ok]
    if not positive or not negative:
        return None
    threshold = answering_threshold(positive, answered)
    if threshold <= 0:
        return None
    return sum(score < threshold for score in negative) / len(negative)


@dataclass
class EvalReport:
    """Measures over every question, and per language of the articles asked about."""

    backend: str
    overall: Tally = field(default_factory=Tally)
    languages: dict[str, Tally] = field(default_factory=dict)
    timings: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def merge(self, other: EvalReport) -> None:
        """Adds ``other``'s counts and timings to this report's."""
        for language, tally in [("", other.overall), *other.languages.items()]:
            mine = self.overall if not language else self.tallies(language)[1]
            for name in Tally.__dataclass_fields__:
                setattr(mine, name, getattr(mine, name) + getattr(tally, name))
        for stage, seconds in other.timings.items():
            self.timings[stage] += seconds

    def tallies(self, language: str) -> tuple[Tally, Tally]:
        return self.overall, self.languages.setdefault(language or "?", Tally())

    def measures(self) -> dict[str, float | None]:
        """The overall measures plus stage timings (p50/p95, ms)."""
        result = self.overall.measures()
        for stage, seconds in self.timings.items():
            result[f"{stage}_p50_ms"] = _percentile(seconds, 50)
            result[f"{stage}_p95_ms"] = _percentile(seconds, 95)
        return result

    def as_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "counts": self.overall.counts(),
            "measures": self.measures(),
            "languages": {
                language: {"counts": tally.counts(), "measures": tally.measures()}
                for language, tally in sorted(self.languages.items())
            },
        }

    def table(self) -> str:
        """Markdown: a row per article language (and one for all), then the timings."""
        rows = [*sorted(self.languages.items()), ("all", self.overall)]
        lines = [
            f"| language ({self.backend}) | questions (answerable / unanswerable / off) | "
            + " | ".join(COLUMNS.values())
            + " |",
            "|---" * (len(COLUMNS) + 2) + "|",
        ]
        for language, tally in rows:
            sizes = f"{tally.answerable} / {tally.unanswerable} / {tally.off_corpus}"
            lines.append(f"| {language} | {sizes} | " + _cells(tally, COLUMNS) + " |")
        lines += ["", "| stage | p50 ms | p95 ms |", "|---|---|---|"]
        for stage, seconds in self.timings.items():
            p50, p95 = _percentile(seconds, 50), _percentile(seconds, 95)
            if p50 is not None and p95 is not None:
                lines.append(f"| {stage} | {p50:.1f} | {p95:.1f} |")
        return "\n".join(lines)


def backend_table(runs: Mapping[str, tuple[EvalReport, float] | str]) -> str:
    """Backends side by side on the same questions (all languages together): each backend's
    report and seconds per question, or why it could not run."""
    columns = {key: COLUMNS[key] for key in BACKEND_COLUMNS}
    lines = [
        "| backend | " + " | ".join(columns.values()) + " | seconds / question |",
        "|---" * (len(columns) + 2) + "|",
    ]
    for name, run in runs.items():
        if isinstance(run, str):
            lines.append(f"| {name} | {run} |" + " |" * len(columns))
        else:
            report, seconds = run
            lines.append(f"| {name} | " + _cells(report.overall, columns) + f" | {seconds:.2f} |")
    return "\n".join(lines)


def _cells(tally: Tally, columns: Mapping[str, str]) -> str:
    """A table row's measures, in ``columns`` order (``-`` where there was nothing to measure)."""
    measures = tally.measures()
    return " | ".join("-" if measures[key] is None else f"{measures[key]:.3f}" for key in columns)


def _percentile(seconds: list[float], percent: int) -> float | None:
    if not seconds:
        return None
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, math.ceil(percent / 100 * len(ordered)) - 1)]


def evaluate(
    answerer: Answerer,
    questions: Sequence[EvalQuestion],
    off_corpus: Sequence[EvalQuestion] = (),
    progress: Callable[[], None] | None = None,
    scope: Scope = WHOLE_STORE,
) -> EvalReport:
    """Asks every question through ``answerer`` (of the articles in ``scope``); off-corpus
    questions should all be declined.

    Results are grouped by the language of the article each question is about. Gold answers
    are matched exactly (what inquote is tuned by) and, for the first quote, leniently too:
    every content term of the answer, stemmed, in the quote (inflected answers in Russian,
    German or Arabic differ from the text by their endings).
    """
    report = EvalReport(answerer.backend)
    for item in questions:
        tallies = report.tallies(item.language)
        answer = _ask(answerer, item, report, tallies, scope)
        quotes = [] if answer.abstained else answer.quotes
        for tally in tallies:
            tally.judged.append((bool(item.answers), answer.answerable or 0.0))
            if not answer.abstained and answer.probability is not None and quotes:
                right = bool(item.answers) and _holds(quotes[0].text, item.answers)
                tally.answers.append((answer.probability, right, answer.direct))
            if not item.answers:
                tally.unanswerable += 1
                tally.unanswerable_abstained += answer.abstained
                continue
            tally.answerable += 1
            tally.answered += not answer.abstained
            tally.declined_over_own_evidence += bool(
                answer.abstained and answer.quotes and _holds(answer.quotes[0].text, item.answers)
            )
            tally.quotes_in_answers += len(quotes)
            tally.first_quote_chars += len(quotes[0].text) if quotes else 0
            tally.gold_in_quote += any(_holds(quote.text, item.answers) for quote in quotes)
            tally.gold_in_first += bool(quotes) and _holds(quotes[0].text, item.answers)
            tally.gold_in_first_lenient += bool(quotes) and _holds_lenient(
                quotes[0].text, item.answers, item.language
            )
        if item.answers:
            hits = answerer.retrieve(item.question, max(RECALL_AT))
            ranks = [i for i, hit in enumerate(hits) if _holds(hit.chunk.text, item.answers)]
            for tally in tallies:
                tally.ranks.append(ranks[0] if ranks else None)
        if progress:
            progress()
    for item in off_corpus:
        tallies = report.tallies(item.language)
        answer = _ask(answerer, item, report, tallies, scope)
        gold = bool(not answer.abstained and answer.quotes) and _holds(
            answer.quotes[0].text, item.answers
        )
        for tally in tallies:
            tally.off_corpus += 1
            tally.off_corpus_abstained += answer.abstained
            tally.off_corpus_gold += gold
        if progress:
            progress()
    return report


def _ask(
    answerer: Answerer,
    item: EvalQuestion,
    report: EvalReport,
    tallies: Sequence[Tally],
    scope: Scope,
) -> Answer:
    answer = answerer.ask(item.question, scope=scope)
    language = next(iter(answerer.question_languages(item.question)), "")
    for stage in STAGES:
        if stage in answer.timings:
            report.timings[stage].append(answer.timings[stage])
    for quote in answer.quotes:
        article = answerer.get_article(quote.article_id)
        verbatim = bool(article and article.text[quote.start : quote.end] == quote.text)
        for tally in tallies:
            tally.quotes_shown += 1
            tally.quotes_verbatim += verbatim
    for tally in tallies:
        tally.language_checked += 1
        tally.language_matched += language == item.language
    return answer


def _holds(text: str, answers: Sequence[str]) -> bool:
    return any(answer in text for answer in answers)


def _holds_lenient(text: str, answers: Sequence[str], language: str) -> bool:
    """Every content term of some answer is among the text's (or its folded form is in it)."""
    folded = normalize(text, language)
    words = content_terms(text, language)
    for answer in answers:
        wanted = content_terms(answer, language)
        exact = normalize(answer, language).strip()
        if (wanted and wanted <= words) or (exact and exact in folded):
            return True
    return False


@dataclass
class FeedbackReport:
    """How the current code does on answers users voted on: a 👎 answer should now change or
    abstain, a 👍 one should stay as it was."""

    down: int = 0
    down_changed: int = 0
    up: int = 0
    up_kept: int = 0

    def as_json(self) -> dict[str, float | int]:
        return {
            "down": self.down,
            "down_changed_or_abstained": self.down_changed,
            "up": self.up,
            "up_kept": self.up_kept,
        }

    def table(self) -> str:
        def share(part: int, whole: int) -> str:
            return f"{part / whole:.3f}" if whole else "-"

        return "\n".join(
            [
                "| feedback | answers | as wished | share |",
                "|---|---|---|---|",
                f"| 👎 changed or abstained | {self.down} | {self.down_changed} | "
                f"{share(self.down_changed, self.down)} |",
                f"| 👍 kept | {self.up} | {self.up_kept} | {share(self.up_kept, self.up)} |",
            ]
        )


def load_feedback(path: Path) -> list[dict[str, Any]]:
    """The JSON Lines `inquote feedback --json` writes."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{path}: not the output of `inquote feedback --json` ({exc})") from exc


def evaluate_feedback(answerer: Answerer, records: Sequence[dict[str, Any]]) -> FeedbackReport:
    """Asks each voted question again, from the libraries it was asked in."""
    report = FeedbackReport()
    for record in records:
        libraries = str(record.get("libraries", "*"))
        scope = Scope(libraries=tuple(n for n in libraries.split(",") if n and n != "*"))
        answer = answerer.ask(str(record["standalone"]), scope=scope)
        before = record.get("quotes") or []
        first = "" if record.get("abstained") or not before else str(before[0]["text"])
        now = "" if answer.abstained or not answer.quotes else answer.quotes[0].text
        if record.get("vote") == "down":
            report.down += 1
            report.down_changed += answer.abstained or now != first
        elif record.get("vote") == "up":
            report.up += 1
            report.up_kept += now == first
    return report
