"""Questions in another language than every stored article, about topics none of them holds,
are declined: a store of Norwegian news asked SQuAD's English questions, when both samples are
beside the repo (real embedder, the shipped judge)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation import build_library, evaluate, load_eval_file
from config.settings import load_settings
from ingest.embedding import Embedder
from tests.conftest import SQUAD_SAMPLE

NORQUAD_SAMPLE = SQUAD_SAMPLE.with_name("norquad-news-sample.json")
EVERY = 4  # of SQuAD's questions: ~200

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (SQUAD_SAMPLE.is_file() and NORQUAD_SAMPLE.is_file()),
        reason=f"the SQuAD v2 and NorQuAD samples are not in {SQUAD_SAMPLE.parent}",
    ),
]


def test_english_questions_of_a_norwegian_store_about_other_topics_are_declined(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    articles, own = load_eval_file(NORQUAD_SAMPLE)
    _, english = load_eval_file(SQUAD_SAMPLE)
    answerer = build_library(articles, tmp_path, load_settings(), real_embedder).answerer()
    report = evaluate(answerer, [q for q in own if q.answers], english[::EVERY])
    measures = report.overall.measures()
    assert report.overall.off_corpus >= 200
    # before the judge of questions across languages learned to decline: 0.815
    assert (measures["abstained_off_corpus"] or 0) >= 0.95
    assert (measures["answered"] or 0) >= 0.9  # the store's own questions still answered
    assert measures["quote_validity"] == 1.0
