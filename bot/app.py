"""Composition root: builds the real store, embedder, LLM backend and answerer from settings."""

from __future__ import annotations

from pathlib import Path

from bot.answering import Answerer
from bot.backends import choose_backend
from bot.generation import Generator
from config.errors import StoreError
from config.settings import Settings
from ingest.embedding import Embedder, make_embedder
from ingest.sources import SOURCES_FILE
from ingest.store import CHROMA_DATABASE, ChromaStore


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
    if not write:
        _check_there_is_a_store(settings.data_dir)
    return ChromaStore.open_persistent(
        settings.data_dir, embedder.fingerprint, check_fingerprint=check_fingerprint, write=write
    )


def _check_there_is_a_store(data_dir: Path) -> None:
    """A command that only reads must not make a new, empty store: a mistyped --data-dir or a
    deleted database would look like a store that holds nothing."""
    folder = data_dir / "chroma"
    if (folder / CHROMA_DATABASE).is_file():
        return
    rebuild = (
        ", or build it again from its sources (`inquote reindex --from-sources`)"
        if (data_dir / SOURCES_FILE).is_file()
        else ""
    )
    if folder.is_dir() and any(folder.iterdir()):
        raise StoreError(
            f"The store's database {folder / CHROMA_DATABASE} is missing: restore a backup "
            f"(`inquote restore DIR`){rebuild}, or move {folder} aside and ingest the articles "
            "again"
        )
    if rebuild:
        raise StoreError(f"The store in {data_dir} is gone: restore a backup{rebuild}")
    raise StoreError(
        f"There is no store in {data_dir} yet: add articles with `inquote ingest PATH`, or "
        "point --data-dir (INQUOTE_DATA_DIR) at the data directory you meant"
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
