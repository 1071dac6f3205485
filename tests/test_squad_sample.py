"""Answers on the public SQuAD v2 sample beside the repo, when it is there (real embedder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation import EvalReport, build_library, evaluate, load_eval_file
from config.settings import load_settings
from ingest.embedding import Embedder
from tests.conftest import SQUAD_SAMPLE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not SQUAD_SAMPLE.is_file(),
        reason=f"the SQuAD v2 sample is not at {SQUAD_SAMPLE} (it lives in ../shared/eval/)",
    ),
]
EVERY = 7  # every 7th question: ~60 answerable, ~120 off-corpus; enough to catch a regression


def test_answerable_questions_are_retrieved_and_answered(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    articles, questions = load_eval_file(SQUAD_SAMPLE)
    settings = load_settings()
    answerer = build_library(articles, tmp_path, settings, real_embedder).answerer()
    report = evaluate(answerer, [q for q in questions if q.answers][::EVERY])
    measures = report.languages["en"].measures()
    assert report.overall.answerable >= 50
    assert (measures["recall@5"] or 0) >= 0.9
    assert (measures["answered"] or 0) >= 0.9
    assert (measures["gold_answer_in_first_quote"] or 0) >= 0.7
    assert measures["quote_validity"] == 1.0


def test_questions_about_articles_not_ingested_are_declined(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    articles, questions = load_eval_file(SQUAD_SAMPLE)
    settings = load_settings()
    report = EvalReport("extractive")
    for index, article in enumerate(articles):
        others = articles[:index] + articles[index + 1 :]
        answerer = build_library(others, tmp_path / str(index), settings, real_embedder).answerer()
        off = [q for q in questions if q.article == article.title][::EVERY]
        report.merge(evaluate(answerer, [], off))
    measures = report.overall.measures()
    assert report.overall.off_corpus >= 100
    assert (measures["abstained_off_corpus"] or 0) >= 0.95
    assert measures["quote_validity"] in (None, 1.0)
