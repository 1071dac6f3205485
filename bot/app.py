"""Composition root: builds the real store, embedder, LLM backend and answerer from settings."""

from __future__ import annotations

from bot.answering import Answerer
from bot.backends import choose_backend
from bot.generation import Generator
from config.settings import Settings
from ingest.embedding import Embedder, make_embedder
from ingest.store import ChromaStore


def open_store(
    settings: Settings, embedder: Embedder, *, check_fingerprint: bool = True
) -> ChromaStore:
    """The embedded Chroma store under the data directory."""
    return ChromaStore.open_persistent(
        settings.data_dir, embedder.fingerprint, check_fingerprint=check_fingerprint
    )


def build_answerer(settings: Settings) -> tuple[Answerer, str]:
    """The answerer, and one line saying which backend answers and why."""
    embedder = make_embedder(settings)
    choice = choose_backend(settings)
    return answerer_over(open_store(settings, embedder), embedder, settings, choice.generator), (
        choice.summary
    )


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
    )
