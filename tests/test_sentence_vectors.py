"""Sentence vectors kept beside the store: a sentence any process embedded is never embedded
again; removed with its article, emptied for another model, started afresh when damaged."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest

from config.settings import Settings
from ingest.chunking import sentence_spans
from ingest.pipeline import Ingestor
from ingest.schema import Article, EmbeddingFingerprint
from ingest.sentence_vectors import SENTENCE_VECTORS_FILE, SentenceVectors, readings
from ingest.store import ChromaStore
from tests.conftest import FakeEmbedder, answerer_over

QUESTION = "Who deciphered the hieroglyphs?"


def ask_in_a_new_process(settings: Settings, embedder: FakeEmbedder) -> list[str]:
    """What a fresh process (its own store and answerer) answers; returns the quotes."""
    store = ChromaStore.open_persistent(settings.data_dir, embedder.fingerprint)
    try:
        answer = answerer_over(store, embedder, settings, None).ask(QUESTION)
    finally:
        store.close()
    return [quote.text for quote in answer.quotes]


@pytest.fixture
def stored(seeds_copy: Path, settings: Settings, fake_embedder: FakeEmbedder) -> FakeEmbedder:
    store = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint, write=True)
    Ingestor(store, fake_embedder, settings).add_paths([seeds_copy])
    store.close()
    return fake_embedder


def test_a_sentence_one_process_embedded_is_not_embedded_by_the_next(
    stored: FakeEmbedder, settings: Settings
) -> None:
    before = stored.document_calls
    first = ask_in_a_new_process(settings, stored)
    assert stored.document_calls == before + 1  # the retrieved chunks' sentences, once
    second = ask_in_a_new_process(settings, stored)
    assert stored.document_calls == before + 1  # read from the data directory
    assert second == first
    assert any("Champollion" in quote for quote in first)


def sentences(article: Article) -> list[str]:
    return [article.text[start:end] for start, end in sentence_spans(article.text)]


def test_a_removed_article_takes_its_sentences_along(
    stored: FakeEmbedder, settings: Settings
) -> None:
    store = ChromaStore.open_persistent(settings.data_dir, stored.fingerprint, write=True)
    # every sentence read alone and under its title, as a language whose pick weighs titles is
    answerer_over(store, stored, settings, None).gather(QUESTION, every_title=True)
    [rosetta] = [a for a in store.articles() if a.title.startswith("The Rosetta Stone")]
    titled = [readings(rosetta.title, sentence)[1] for sentence in sentences(rosetta)]
    assert store.sentence_vectors.get(sentences(rosetta))  # its quoted sentences were kept
    assert store.sentence_vectors.get(titled)  # ... and their readings under its title
    store.remove_article(rosetta.article_id)
    assert store.sentence_vectors.get(sentences(rosetta)) == {}
    assert store.sentence_vectors.get(titled) == {}
    store.close()


def test_another_model_or_a_damaged_file_starts_afresh_and_still_answers(
    stored: FakeEmbedder, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    ask_in_a_new_process(settings, stored)
    path = settings.data_dir / SENTENCE_VECTORS_FILE
    store = ChromaStore.open_persistent(settings.data_dir, stored.fingerprint)
    [rosetta] = [a for a in store.articles() if a.title.startswith("The Rosetta Stone")]
    store.close()
    other = EmbeddingFingerprint("fake/other-model", stored.fingerprint.dimension)
    for fingerprint, kept in (
        (stored.fingerprint, True),
        (other, False),
        (stored.fingerprint, False),
    ):
        with contextlib.closing(SentenceVectors(path, fingerprint)) as vectors:
            assert bool(vectors.get(sentences(rosetta))) is kept  # emptied for another model
    path.write_bytes(b"not a database" * 500)
    before = stored.document_calls
    with caplog.at_level(logging.WARNING):
        quotes = ask_in_a_new_process(settings, stored)
    assert "is damaged" in caplog.text
    assert any("Champollion" in quote for quote in quotes)
    assert stored.document_calls == before + 1  # embedded again, and kept again
    ask_in_a_new_process(settings, stored)
    assert stored.document_calls == before + 1
