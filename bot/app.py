"""The composition root: :class:`Library` builds, once, what a process needs of a data directory
from settings — the embedder, the store (with the writer lock when it writes), the LLM backend —
and hands out the answerer and the ingestor. Every command, the bot, eval, training and the
benchmarks get them here.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answerability import Judge
from bot.answering import Answerer
from bot.backends import BackendChoice, choose_backend
from config.errors import StoreError
from config.settings import Settings
from ingest.embedding import Embedder, make_embedder
from ingest.schema import CHROMA_DATABASE, CHROMA_FOLDER
from ingest.sources import SOURCES_FILE
from ingest.store import ChromaStore

if TYPE_CHECKING:
    from ingest.keyword_index import KeywordIndex
    from ingest.pipeline import Ingestor


class Library:
    """One data directory's parts, each built on first use.

    ``write``: this process changes the store (an embedded store takes its writer lock);
    ``answering``: it answers questions (else it ingests: the embedder's thread profile differs);
    ``embedder``/``store``: parts built elsewhere (a benchmark's shared model, a fold's store).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        write: bool = False,
        answering: bool = True,
        check_fingerprint: bool = True,
        embedder: Embedder | None = None,
        store: ChromaStore | None = None,
    ) -> None:
        self.settings = settings
        self._write = write
        self._answering = answering
        self._check_fingerprint = check_fingerprint
        if embedder is not None:
            self.embedder = embedder
        if store is not None:
            self.store = store

    @cached_property
    def embedder(self) -> Embedder:
        return make_embedder(self.settings, answering=self._answering)

    @cached_property
    def store(self) -> ChromaStore:
        return _open_store(
            self.settings,
            self.embedder,
            check_fingerprint=self._check_fingerprint,
            write=self._write,
        )

    @property
    def keywords(self) -> KeywordIndex:
        """The keyword index of the store's chunks (opened on first use, replaced by a reindex);
        catching it up is the reader's step."""
        return self.store.keywords

    @cached_property
    def backend(self) -> BackendChoice:
        """The LLM backend ``llm.backend`` chooses, and one line saying which and why."""
        return choose_backend(self.settings)

    def answerer(
        self, backend: BackendChoice | None = None, *, judge: Judge | None = None
    ) -> Answerer:
        """An answerer over the store (``backend``: instead of the one ``llm.backend`` chooses;
        ``judge``: instead of the shipped one, as training checks a judge it has just fitted)."""
        chosen = backend or self.backend
        return Answerer(
            self.store,
            self.keywords,
            self.embedder,
            self.settings.retrieval,
            self.settings.answer,
            generator=chosen.generator,
            max_tokens=self.settings.llm.max_tokens,
            quote_sentences=self.settings.llm.quote_sentences,
            judge=judge,
        )

    def ingestor(self) -> Ingestor:
        # the write path (readers of HTML, PDF, feeds) is imported only by what writes
        from ingest.pipeline import Ingestor  # noqa: PLC0415

        return Ingestor(self.store, self.embedder, self.settings)

    def close(self) -> None:
        """Releases the store (its writer lock, its index files), if it was opened."""
        if "store" in self.__dict__:
            self.store.close()


def _open_store(
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
    folder = data_dir / CHROMA_FOLDER
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
