"""Composition root: builds the real store, embedder, LLM backend and answerer from settings."""

from __future__ import annotations

from bot.answering import Answerer
from bot.backends import choose_backend
from bot.generation import Generator
from config.settings import Settings
from ingest.embedding import Embedder, make_embedder
from ingest.store import ChromaStore


def open_store(
    settings: Settings, embedder: Embedder, *, check_fingerprint: bool = True, write: bool = False
) -> ChromaStore:
    """The store ``store.mode`` names: embedded under the data directory, or a Chroma server.

    ``write``: this process will change the store; an embedded store then takes its writer lock.
    """
    if settings.store.mode == "server":
        return ChromaStore.open_server(
            settings.store,
            embedder.fingerprint,
            settings.data_dir,
            check_fingerprint=check_fingerprint,
        )
    return ChromaStore.open_persistent(
        settings.data_dir, embedder.fingerprint, check_fingerprint=check_fingerprint, write=write
    )


def build_answerer(settings: Settings, *, write: bool = False) -> tuple[Answerer, str]:
    """The answerer, and one line saying which backend answers and why."""
    embedder = make_embedder(settings)
    store = open_store(settings, embedder, write=write)
    choice = choose_backend(settings)
    return answerer_over(store, embedder, settings, choice.generator), choice.summary


def answerer_over(
    store: ChromaStore, embedder: Embedder, settings: Settings, generator: Generator | None
) -> Answerer:
    """An answerer over ``store`` with the configured retrieval and answer settings."""
    return Answerer(
        store,
        embedder,
        settings.retrieval,
        settings.answer,
        generator=generator,
        max_tokens=settings.llm.max_tokens,
        quote_sentences=settings.llm.quote_sentences,
    )
