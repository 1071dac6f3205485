"""Asks the development questions through the real read path and keeps what the models learn from.

One JSON line per question: its set, language and kind (``answerable``, ``unanswerable`` as its
data set marks it, ``removed`` when the half of its article holding the answer was taken out,
``off-corpus`` when asked of a store without its topic), ``elsewhere`` when asked across
languages of a store built for it (``QuestionSet.elsewhere``), the signals of all the candidate
sentences (:func:`bot.answerability.question_signals`), those of the best
:data:`~bot.answerability.CANDIDATES` (:func:`~bot.answerability.candidate_signals`) with whether
each holds a gold answer and whether the quote it would lead does
(:func:`bot.extractive.lead_passage`), and whether the passage an abstention would show first
holds one.
Nothing here depends on the shipped judge, so the models can be refitted from these lines alone.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from benchmarks.languages import off_corpus_folds
from bot.answerability import ACROSS, candidate_signals, question_signals
from bot.answering import Answerer
from bot.backends import EXTRACTIVE
from bot.evaluation import EvalArticle, EvalQuestion, build_library
from bot.extractive import lead_passage
from config.settings import Settings
from ingest.embedding import Embedder
from training.question_sets import QuestionSet, in_topic_unanswerable


def asked(answerer: Answerer, item: EvalQuestion, kind: str, name: str) -> dict[str, Any] | None:
    """What one question retrieves, as a training line; None when nothing was retrieved."""
    evidence = answerer.gather(item.question, every_title=True)
    if not evidence.ranked:
        return None
    rows = candidate_signals(item.question, evidence.ranked)
    shown = evidence.closest_passages()[0].chunk.text
    return {
        "set": name,
        "article": item.article,
        "language": item.language,
        "kind": kind,
        "question": item.question,
        "answers": list(item.answers),
        "question_signals": question_signals(evidence.ranked),
        "candidates": [
            {
                "signals": row,
                "article": candidate.article.article_id,
                "gold": any(gold in candidate.text for gold in item.answers),
                # in the quote shown were it to lead (bot.extractive.lead_passage)
                "quote_gold": any(
                    gold in lead_passage(candidate, evidence.ranked).text for gold in item.answers
                ),
            }
            for row, candidate in zip(rows, evidence.ranked, strict=False)
        ],
        "shown_gold": any(gold in shown for gold in item.answers),
    }


def ask_set(
    questions: QuestionSet, folder: Path, settings: Settings, embedder: Embedder
) -> Iterator[dict[str, Any]]:
    """Every ``every``-th question of the set over all its articles, and the questions from
    elsewhere; in-topic ones whose answer was taken out; then off-corpus ones over the other half
    of the topics."""
    every = questions.every
    answerer = _answerer(questions.articles, folder / "all", settings, embedder)
    for item in questions.questions[::every]:
        kind = "answerable" if item.answers else "unanswerable"
        yield from _lines(answerer, item, kind, questions.name)
    for item in questions.elsewhere:
        kind = "answerable" if item.answers else "off-corpus"
        for line in _lines(answerer, item, kind, questions.name):
            yield {**line, "elsewhere": True}
    if not questions.questions:
        return
    kept, removed = in_topic_unanswerable(questions.articles, questions.questions)
    answerer = _answerer(kept, folder / "halved", settings, embedder)
    for item in removed[:: 2 * every]:
        yield from _lines(answerer, item, "removed", questions.name)
    for side, (kept, off) in enumerate(off_corpus_folds(questions.articles, questions.questions)):
        answerer = _answerer(kept, folder / f"fold-{side}", settings, embedder)
        for item in off[:: 2 * every]:
            yield from _lines(answerer, item, "off-corpus", questions.name)


def write_signals(
    sets: list[QuestionSet], out: TextIO, settings: Settings, embedder: Embedder
) -> int:
    """Every set asked, a JSON line per question written to ``out`` as it comes; the count."""
    count = 0
    for questions in sets:
        with tempfile.TemporaryDirectory() as tmp:
            for line in ask_set(questions, Path(tmp), settings, embedder):
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                count += 1
        out.flush()
        print(f"{questions.name}: {count} questions asked so far", flush=True)
    return count


def _answerer(
    articles: list[EvalArticle], folder: Path, settings: Settings, embedder: Embedder
) -> Answerer:
    return build_library(articles, folder, settings, embedder).answerer(EXTRACTIVE)


def _lines(answerer: Answerer, item: EvalQuestion, kind: str, name: str) -> list[dict[str, Any]]:
    line = asked(answerer, item, kind, name)
    # A question across languages whose best sentence is in a language the question may be in
    # (another topic's article, in a store of many languages) is judged as that language's
    # question: it teaches nothing about questions across languages.
    if line and item.language == ACROSS and line["candidates"][0]["signals"]["same_language"]:
        return []
    return [line] if line else []
