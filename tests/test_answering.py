"""Extractive answers over the seeds, with the real embedder and a real Chroma store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answerability import shipped_judge
from bot.answering import EMPTY_STORE, NOT_ANSWERED, Answerer
from config.errors import QuestionError
from config.settings import Settings, load_settings
from ingest.embedding import Embedder
from ingest.pipeline import Ingestor
from ingest.schema import Scope
from ingest.sentence_vectors import readings
from ingest.store import ChromaStore
from tests.conftest import SEEDS, FakeEmbedder, assert_quotes_verbatim

ANSWERABLE = [
    ("What did Putin recognise as independent?", "Donetsk and Lugansk"),
    ("Which gas pipeline certification did Germany suspend?", "Nord Stream 2"),
    ("What did Lavrov call the threat of sanctions?", "predictable"),
    ("Which company owned the molasses tank?", "Purity Distilling Company"),
    ("How fast did the wave of molasses move?", "56 kilometres per hour"),
    ("Who first stepped onto the Moon?", "Armstrong"),
    ("Who deciphered the hieroglyphs?", "Champollion"),
]
OFF_TOPIC = [
    "Who won the 2018 FIFA World Cup?",
    "What is the boiling point of water at sea level?",
    "How do I bake sourdough bread?",
    "What is the capital of Australia?",
    "Which programming language did Guido van Rossum create?",
    "How many moons does Jupiter have?",
    "What is the recommended dose of ibuprofen for adults?",
    "When did the Berlin Wall fall?",
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Answerer:
    config = load_settings(overrides={"data_dir": str(tmp_path_factory.mktemp("seeded"))})
    store = ChromaStore.open_persistent(config.data_dir, real_embedder.fingerprint)
    Ingestor(store, real_embedder, config).add_paths([SEEDS])
    return Answerer(store, store.keywords, real_embedder, config.retrieval, config.answer)


@pytest.mark.parametrize(("question", "expected"), ANSWERABLE)
def test_answers_are_quotes_that_hold_the_answer(
    seeded: Answerer, question: str, expected: str
) -> None:
    answer = seeded.ask(question)
    assert not answer.abstained, answer.text
    assert answer.backend == "extractive"
    assert 1 <= len(answer.quotes) <= 3
    assert any(expected in quote.text for quote in answer.quotes)
    assert_quotes_verbatim(seeded, answer.quotes)
    for number, quote in enumerate(answer.quotes, 1):
        assert f"{quote.text} [{number}]" in answer.text


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_declined_with_the_closest_passages(
    seeded: Answerer, question: str
) -> None:
    answer = seeded.ask(question)
    assert answer.abstained
    assert answer.text == NOT_ANSWERED
    assert answer.quotes  # the closest passages, for the reader to judge
    assert_quotes_verbatim(seeded, answer.quotes)


def test_an_article_filter_keeps_to_that_article(seeded: Answerer) -> None:
    rosetta = next(a for a in seeded.articles() if "Rosetta" in a.title)
    answer = seeded.ask(
        "Who deciphered the hieroglyphs?", scope=Scope(article_ids=(rosetta.article_id,))
    )
    assert not answer.abstained
    assert {quote.article_id for quote in answer.quotes} == {rosetta.article_id}
    elsewhere = seeded.ask(
        "What did Putin recognise?", scope=Scope(article_ids=(rosetta.article_id,))
    )
    assert elsewhere.abstained


def test_an_empty_store_says_how_to_add_articles(tmp_path: Path, real_embedder) -> None:
    config = load_settings(overrides={"data_dir": str(tmp_path)})
    store = ChromaStore.open_persistent(config.data_dir, real_embedder.fingerprint)
    answer = Answerer(store, store.keywords, real_embedder, config.retrieval, config.answer).ask(
        "Anything?"
    )
    assert answer.abstained
    assert answer.text == EMPTY_STORE
    assert answer.quotes == ()


def test_json_contract(seeded: Answerer) -> None:
    data = seeded.ask("  Who deciphered   the hieroglyphs?\n").as_json()
    contract = ["question", "answer", "abstained", "quotes", "backend"]
    assert list(data) == [
        *contract,
        "probability",
        "answerable",
        "confidence",
        "calibrated",
        "claims",
    ]
    assert 0 <= data["probability"] <= 1
    # Extractive claims say nothing of their own: each is one quote, by its number.
    assert data["claims"] == [
        {"text": "", "quotes": [n]} for n in range(1, len(data["quotes"]) + 1)
    ]
    assert data["question"] == "Who deciphered the hieroglyphs?"
    assert isinstance(data["abstained"], bool)
    for quote in data["quotes"]:
        assert list(quote) == ["text", "article_id", "title", "source", "start", "end"]


WORDS = (
    "Putin", "Lavrov", "sanctions", "NATO", "Donbas", "Moscow", "molasses", "Boston", "tank",
    "Moon", "Apollo", "Armstrong", "Rosetta", "stone", "hieroglyphs", "Champollion", "who",
    "what", "when", "why", "how", "did", "the", "of", "a", "in", "is", "was", "“", "”", "'", "?",
)  # fmt: skip


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.sampled_from(WORDS) | st.text(max_size=12), min_size=1, max_size=14).map(" ".join)
)
def test_whatever_is_asked_every_quote_is_verbatim(seeded: Answerer, question: str) -> None:
    if not question.strip() or any("\ud800" <= char <= "\udfff" for char in question):
        with pytest.raises(QuestionError):
            seeded.ask(question)
        return
    answer = seeded.ask(question)
    assert_quotes_verbatim(seeded, answer.quotes)
    assert answer.abstained or answer.quotes


def test_a_sentence_is_read_under_its_article_title_as_well(
    seeded: Answerer, real_embedder: Embedder
) -> None:
    """A sentence that names its subject only by the article's title ("Eagle landed …" in the
    Apollo 11 article) is closer to the question read under the title: the judge's picks see
    that reading, the ranking the sentence alone. English, whose answers keep the ranking's
    first, is read so only when training gathers every signal."""
    question = "When did Apollo 11 land on the Moon?"
    assert not shipped_judge().reads_titles("en")
    assert all(item.titled_similarity == item.similarity for item in seeded.gather(question).ranked)
    ranked = seeded.gather(question, every_title=True).ranked
    eagle = next(item for item in ranked if item.text.startswith("Eagle landed"))
    asked = real_embedder.embed_query(question)
    alone, titled = real_embedder.embed_documents(readings(eagle.article.title, eagle.text))
    assert eagle.similarity == pytest.approx(np.dot(asked, alone))
    assert eagle.titled_similarity == pytest.approx(np.dot(asked, titled))
    assert eagle.titled_similarity > eagle.similarity + 0.05


def test_a_repeated_question_embeds_no_sentence_again(
    fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    Ingestor(fake_store, fake_embedder, settings).add_paths([SEEDS])
    answerer = Answerer(
        fake_store, fake_store.keywords, fake_embedder, settings.retrieval, settings.answer
    )
    first = answerer.ask("Who deciphered the hieroglyphs?")
    calls = fake_embedder.document_calls
    again = answerer.ask("Who deciphered the hieroglyphs?")
    assert fake_embedder.document_calls == calls
    assert again.text == first.text
    assert again.timings["retrieve"] > 0
