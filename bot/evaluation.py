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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.answering import Answer, Answerer
from config.errors import SourceError
from config.settings import Settings
from ingest.embedding import Embedder
from ingest.pipeline import ingest_files
from ingest.store import ChromaStore

RECALL_AT = (1, 5, 10)
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


def load_eval_file(path: Path) -> tuple[list[EvalArticle], list[EvalQuestion]]:
    """The articles and questions of a SQuAD v2 JSON or a JSON Lines file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read it ({exc.strerror})") from exc
    try:
        if path.suffix.lower() == ".jsonl":
            return _from_jsonl([json.loads(line) for line in raw.splitlines() if line.strip()])
        return _from_squad(json.loads(raw))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SourceError(f"{path}: not a SQuAD v2 or question JSONL file ({exc})") from exc


def _from_squad(data: dict[str, Any]) -> tuple[list[EvalArticle], list[EvalQuestion]]:
    articles, questions = [], []
    for entry in data["data"]:
        title = str(entry["title"])
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


def build_store(
    articles: Sequence[EvalArticle], folder: Path, settings: Settings, embedder: Embedder
) -> ChromaStore:
    """A store under ``folder`` holding ``articles``, ingested as files by the real pipeline."""
    texts = folder / "articles"
    texts.mkdir(parents=True)
    for index, article in enumerate(articles):
        name = re.sub(r"[^\w-]+", "_", article.title)[:80] or f"article-{index}"
        (texts / f"{index:04d}-{name}.txt").write_text(article.text, encoding="utf-8")
    store = ChromaStore.open_persistent(folder / "data", embedder.fingerprint)
    ingest_files([texts], store, embedder, settings.chunking)
    return store


@dataclass
class EvalReport:
    backend: str
    answerable: int = 0
    ranks: list[int | None] = field(default_factory=list)
    answered: int = 0
    gold_in_quote: int = 0
    quotes_shown: int = 0
    quotes_verbatim: int = 0
    unanswerable: int = 0
    unanswerable_abstained: int = 0
    off_corpus: int = 0
    off_corpus_abstained: int = 0
    timings: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def measures(self) -> dict[str, float | int | None]:
        found = [rank for rank in self.ranks if rank is not None]
        n = self.answerable or 1
        result: dict[str, float | int | None] = {
            f"recall@{k}": sum(rank < k for rank in found) / n for k in RECALL_AT
        }
        result["mrr@10"] = sum(1 / (rank + 1) for rank in found) / n
        result["answered"] = self.answered / n
        result["gold_answer_in_quote"] = self.gold_in_quote / n
        result["quote_validity"] = (
            self.quotes_verbatim / self.quotes_shown if self.quotes_shown else None
        )
        result["abstained_unanswerable"] = (
            self.unanswerable_abstained / self.unanswerable if self.unanswerable else None
        )
        result["abstained_off_corpus"] = (
            self.off_corpus_abstained / self.off_corpus if self.off_corpus else None
        )
        for stage, seconds in self.timings.items():
            result[f"{stage}_p50_ms"] = _percentile(seconds, 50)
            result[f"{stage}_p95_ms"] = _percentile(seconds, 95)
        return result

    def as_json(self) -> dict[str, Any]:
        counts = {
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "off_corpus": self.off_corpus,
            "quotes_shown": self.quotes_shown,
        }
        return {"backend": self.backend, "counts": counts, "measures": self.measures()}

    def table(self) -> str:
        names = {
            "answered": f"answerable questions answered (n={self.answerable})",
            "gold_answer_in_quote": "gold answer in a shown quote",
            "quote_validity": f"quotes that are exact article text (n={self.quotes_shown})",
            "abstained_unanswerable": f"abstained, unanswerable (n={self.unanswerable})",
            "abstained_off_corpus": f"abstained, off-corpus (n={self.off_corpus})",
        }
        lines = [f"| measure ({self.backend}) | value |", "|---|---|"]
        for key, value in self.measures().items():
            shown = (
                "-" if value is None else f"{value:.1f}" if key.endswith("_ms") else f"{value:.3f}"
            )
            lines.append(f"| {names.get(key, key)} | {shown} |")
        return "\n".join(lines)


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
) -> EvalReport:
    """Asks every question through ``answerer``; off-corpus questions should all be declined."""
    report = EvalReport(answerer.backend)
    for item in questions:
        answer = _ask(answerer, item.question, report)
        if item.answers:
            report.answerable += 1
            hits = answerer.retriever.retrieve(
                item.question, answerer.embedder.embed_query(item.question), max(RECALL_AT)
            )
            ranks = [i for i, hit in enumerate(hits) if _holds(hit.chunk.text, item.answers)]
            report.ranks.append(ranks[0] if ranks else None)
            report.answered += not answer.abstained
            report.gold_in_quote += not answer.abstained and any(
                _holds(quote.text, item.answers) for quote in answer.quotes
            )
        else:
            report.unanswerable += 1
            report.unanswerable_abstained += answer.abstained
        if progress:
            progress()
    for item in off_corpus:
        report.off_corpus += 1
        report.off_corpus_abstained += _ask(answerer, item.question, report).abstained
        if progress:
            progress()
    return report


def _ask(answerer: Answerer, question: str, report: EvalReport) -> Answer:
    answer = answerer.ask(question)
    for stage in STAGES:
        if stage in answer.timings:
            report.timings[stage].append(answer.timings[stage])
    for quote in answer.quotes:
        article = answerer.store.get_article(quote.article_id)
        report.quotes_shown += 1
        report.quotes_verbatim += bool(
            article and article.text[quote.start : quote.end] == quote.text
        )
    return answer


def _holds(text: str, answers: Sequence[str]) -> bool:
    return any(answer in text for answer in answers)
