"""Composition root: builds the real store, embedder and answerer from settings."""

from __future__ import annotations

from bot.answering import Answerer
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


def build_answerer(settings: Settings) -> Answerer:
    embedder = make_embedder(settings)
    store = open_store(settings, embedder)
    return Answerer(store, embedder, settings.retrieval, settings.answer)
