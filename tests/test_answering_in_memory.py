"""Answering needs only the read path's ports (``bot.ports``): the answerer runs on an
in-memory double of the store and of the keyword index, with no Chroma behind it."""

from __future__ import annotations

import pytest

from bot.answering import Answerer
from config.settings import load_settings
from ingest.embedding import Embedder
from ingest.reading import find_articles, read_article
from ingest.schema import Scope
from tests.conftest import SEEDS, assert_quotes_verbatim
from tests.memory_store import MemoryKeywords, MemoryStore


@pytest.fixture(scope="module")
def in_memory(real_embedder: Embedder) -> tuple[Answerer, MemoryStore, MemoryKeywords]:
    settings = load_settings()
    articles = [read_article(path) for path in find_articles([SEEDS])]
    store = MemoryStore(articles, real_embedder, settings.chunking)
    keywords = MemoryKeywords(store)
    answerer = Answerer(store, keywords, real_embedder, settings.retrieval, settings.answer)
    return answerer, store, keywords


def test_an_answer_from_memory_quotes_its_article_verbatim(
    in_memory: tuple[Answerer, MemoryStore, MemoryKeywords],
) -> None:
    answerer, store, keywords = in_memory
    looked = keywords.catch_ups
    answer = answerer.ask("Who deciphered the hieroglyphs?")
    assert keywords.catch_ups == looked + 1  # catching up is the question's first, one step
    assert not answer.abstained
    assert "Champollion" in answer.quotes[0].text
    assert_quotes_verbatim(store, answer.quotes)


def test_a_question_the_articles_do_not_answer_is_declined_in_memory_too(
    in_memory: tuple[Answerer, MemoryStore, MemoryKeywords],
) -> None:
    answerer, store, _ = in_memory
    answer = answerer.ask("Who won the 2018 FIFA World Cup?")
    assert answer.abstained
    assert_quotes_verbatim(store, answer.quotes)  # the closest passages, verbatim as well


def test_a_scope_and_a_summary_read_through_the_ports(
    in_memory: tuple[Answerer, MemoryStore, MemoryKeywords],
) -> None:
    answerer, store, _ = in_memory
    rosetta = next(a for a in store.articles.values() if "Rosetta" in a.title)
    elsewhere = Scope(article_ids=tuple(i for i in store.articles if i != rosetta.article_id))
    assert not answerer.reads(elsewhere, rosetta.article_id)
    outside = answerer.ask("Who deciphered the hieroglyphs?", scope=elsewhere)
    assert all(quote.article_id != rosetta.article_id for quote in outside.quotes)
    summary = answerer.summary(rosetta)
    assert summary.quotes
    assert all(quote.article_id == rosetta.article_id for quote in summary.quotes)
    assert_quotes_verbatim(store, summary.quotes)
