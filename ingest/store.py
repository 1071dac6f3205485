"""The article store: Chroma's collections (``ingest.chroma_collections``) with what every write
keeps beside them — the keyword index (``ingest.keyword_index``) — and what readers keep of them:
sentence vectors (``ingest.sentence_vectors``) and the articles read last
(``ingest.recent_articles``). Readers and writers use this façade; a write goes to Chroma, then
to the keyword index, in one call.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import chromadb
import httpx
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError

from config.errors import ArticleNotFoundError, StoreError
from config.settings import StoreSettings
from ingest.chroma_collections import ChromaCollections, store_fault
from ingest.chunking import sentence_spans
from ingest.keyword_index import KEYWORDS_FOLDER, KeywordIndex, store_write
from ingest.locking import DataDirLock
from ingest.recent_articles import RecentArticles
from ingest.schema import (
    CHROMA_DATABASE,
    CHROMA_FOLDER,
    Article,
    Chunk,
    EmbeddingFingerprint,
    ScoredChunk,
)
from ingest.sentence_vectors import SENTENCE_VECTORS_FILE, SentenceVectors, readings
from ingest.sqlite_check import check_database

log = logging.getLogger(__name__)


class ChromaStore:
    """Articles and their embedded chunks in Chroma, with the keyword index every write updates."""

    def __init__(
        self,
        client: Any,
        fingerprint: EmbeddingFingerprint,
        keywords: Path,
        *,
        check_fingerprint: bool = True,
    ) -> None:
        """``keywords``: the local folder that holds this host's keyword indexes."""
        self._chroma = ChromaCollections(client, fingerprint, check_fingerprint=check_fingerprint)
        self._lock: DataDirLock | None = None
        self._keywords_root = keywords
        self._keywords: KeywordIndex | None = None
        self.sentence_vectors = SentenceVectors(
            keywords.parent / SENTENCE_VECTORS_FILE, fingerprint
        )
        self._embedded = False  # set by open_persistent: then every writer is on this host
        self._recent = RecentArticles()  # an embedded store's last articles read

    @classmethod
    def open_persistent(
        cls,
        data_dir: Path,
        fingerprint: EmbeddingFingerprint,
        *,
        check_fingerprint: bool = True,
        write: bool = False,
    ) -> ChromaStore:
        """The embedded store under ``data_dir`` (created on first use).

        ``write`` takes the data directory's writer lock for the life of the process.
        """
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the data directory {data_dir} ({exc.strerror}); "
                "choose another with --data-dir or INQUOTE_DATA_DIR"
            ) from exc
        path = data_dir / CHROMA_FOLDER
        lock = DataDirLock(data_dir) if write else None
        if lock is not None:
            try:
                lock.acquire()
            except OSError as exc:
                raise store_fault(exc, path) from exc
        settings = ChromaSettings(anonymized_telemetry=False)
        try:
            check_database(path / CHROMA_DATABASE)
            client = chromadb.PersistentClient(path=str(path), settings=settings)
            store = cls(
                client, fingerprint, data_dir / KEYWORDS_FOLDER, check_fingerprint=check_fingerprint
            )
        except StoreError as exc:
            if isinstance(exc.__cause__, ChromaError | OSError):
                raise store_fault(exc.__cause__, path) from exc
            raise
        except Exception as exc:
            raise store_fault(exc, path) from exc
        store._lock = lock  # held as long as the store is
        store._embedded = True
        store._chroma.path = path
        return store

    @classmethod
    def open_server(
        cls,
        store: StoreSettings,
        fingerprint: EmbeddingFingerprint,
        data_dir: Path,
        *,
        check_fingerprint: bool = True,
        client_version: str = chromadb.__version__,
    ) -> ChromaStore:
        """A Chroma server's store; refused when the server's version differs from the client's.

        ``data_dir``: this host's data directory, which keeps its keyword index of the store.
        """
        token = store.auth_token.get_secret_value()
        headers = {"Authorization": f"Bearer {token}"} if token else None
        settings = ChromaSettings(anonymized_telemetry=False)
        try:
            client = chromadb.HttpClient(
                host=store.host, port=store.port, ssl=store.ssl, headers=headers, settings=settings
            )
            server_version = str(client.get_version())
        except (ValueError, ChromaError, httpx.HTTPError) as exc:
            raise StoreError(
                f"The Chroma server at {store.url} is not reachable ({exc}) — start it with "
                "`docker compose up -d chroma` or `chroma run --path DIR --port "
                f"{store.port}`, or set store.mode = embedded"
            ) from exc
        if _major(server_version) != _major(client_version):
            raise StoreError(
                f"The Chroma server at {store.url} runs version {server_version}, but inquote "
                f"uses the chromadb {client_version} client; run the server image "
                f"chromadb/chroma:{client_version} (as docker-compose.yml does)"
            )
        return cls(
            client, fingerprint, data_dir / KEYWORDS_FOLDER, check_fingerprint=check_fingerprint
        )

    @property
    def keywords(self) -> KeywordIndex:
        """The keyword index of the current chunks collection (opened on first use)."""
        if self._keywords is None:
            path = self._chroma.path
            self._keywords = KeywordIndex.for_collection(
                self._keywords_root,
                self._chroma.chunks_id,
                self._chroma,
                writers_update=self._embedded,
                database=path / CHROMA_DATABASE if path else None,
            )
        return self._keywords

    @property
    def fingerprint(self) -> EmbeddingFingerprint:
        """The embedding model this store's vectors are written with."""
        return self._chroma.fingerprint

    @property
    def stored_fingerprint(self) -> EmbeddingFingerprint | None:
        """The embedding model the stored chunks were made with (None: not recorded)."""
        return self._chroma.stored_fingerprint

    def close(self) -> None:
        """Releases the writer lock, if this store holds it, the keyword index and the sentence
        vectors."""
        self.sentence_vectors.close()
        if self._keywords is not None:
            self._keywords.close()
            self._keywords = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- reading ---------------------------------------------------------------------------

    def get_article(self, article_id: str) -> Article | None:
        return self._chroma.get_article(article_id)

    def articles(self) -> list[Article]:
        """Every stored article, by title."""
        return self._chroma.articles()

    def article_summaries(self) -> list[Article]:
        """Every stored article's metadata, without its text (cheap: for dedup)."""
        return self._chroma.article_summaries()

    def article_count(self) -> int:
        return self._chroma.article_count()

    def articles_since(self, revision: int | None) -> list[Article]:
        """The metadata of articles written after ``revision`` (every article for None)."""
        return self._chroma.articles_since(revision)

    def chunk_count(self) -> int:
        return self._chroma.chunk_count()

    def holds_chunks_of(self, article: Article) -> bool:
        """Whether every chunk ``article``'s record counts is stored for its version."""
        return self._chroma.holds_chunks_of(article)

    def chunks_of(self, article_ids: Sequence[str]) -> Iterator[Chunk]:
        """Every stored chunk of ``article_ids`` (stale versions' too, until they are deleted)."""
        return self._chroma.chunks_of(article_ids)

    def query(
        self, embedding: Sequence[float], top_k: int, article_ids: Sequence[str] | None = None
    ) -> list[ScoredChunk]:
        """The ``top_k`` chunks nearest to ``embedding``, best first, stale versions left out."""
        found = self._chroma.query_chunks(embedding, top_k, article_ids)
        return self.scored(
            [(chunk.chunk_id, score) for chunk, score in found], [c for c, _ in found]
        )

    def nearest(
        self, embedding: Sequence[float], top_k: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ids and cosine similarities of the ``top_k`` chunks nearest to ``embedding`` (to
        fuse with other rankings before reading any text: see :meth:`scored`)."""
        return self._chroma.nearest(embedding, top_k, article_ids)

    def scored(
        self, found: Sequence[tuple[str, float]], chunks: Sequence[Chunk] = ()
    ) -> list[ScoredChunk]:
        """The chunks ``found`` (id, score) in that order, with their current articles; chunks
        gone or of an older version are left out. ``chunks``: those already read (the rest are
        read by id)."""
        known = {chunk.chunk_id: chunk for chunk in chunks}
        unread = [chunk_id for chunk_id, _ in found if chunk_id not in known]
        if unread and self._keywords is not None:  # the keyword index keeps each chunk
            known.update(self._keywords.chunks(unread))
            unread = [chunk_id for chunk_id in unread if chunk_id not in known]
        known.update(self._chroma.chunks_by_id(unread))
        hits = [(known[chunk_id], score) for chunk_id, score in found if chunk_id in known]
        articles = self._current_articles(sorted({chunk.article_id for chunk, _ in hits}))
        return [
            ScoredChunk(chunk, score, article)
            for chunk, score in hits
            if (article := articles.get(chunk.article_id)) is not None
            and article.content_hash == chunk.content_hash  # else left by an interrupted write
        ]

    # -- writing ---------------------------------------------------------------------------

    def put_articles(
        self, entries: Sequence[tuple[Article, Sequence[Chunk], Sequence[Sequence[float]]]]
    ) -> None:
        """Store articles and their chunks, each replacing its earlier version, each all or
        nothing (:meth:`ingest.chroma_collections.ChromaCollections.put_articles`), and index
        them."""
        if not entries:
            return
        with self._writing():
            records = self._chroma.put_articles(entries)
            if self._keeps_keywords():
                written = zip(records, entries, strict=True)
                self.keywords.catch_up([(record, chunks) for record, (_, chunks, _) in written])

    def put_duplicate(self, article: Article) -> None:
        """Record ``article`` as another copy of ``article.duplicate_of``: no chunks of its own."""
        with self._writing():
            record = self._chroma.put_duplicate(article)
            if self._keeps_keywords():
                self.keywords.catch_up([(record, ())])

    def set_libraries(self, article: Article, libraries: tuple[str, ...]) -> Article:
        """Records that ``article`` (as stored) is in ``libraries``; its text and chunks stay."""
        with self._writing():
            record = self._chroma.set_libraries(article, libraries)
            if self._keeps_keywords():
                self.keywords.catch_up([(record, ())])
        return record

    def remove_article(self, article_id: str) -> Article:
        """Delete an article and its chunks; returns what was removed."""
        article = self.get_article(article_id)
        if article is None:
            raise ArticleNotFoundError(
                f"No article with id '{article_id}' — `inquote list` shows the stored ids"
            )
        with self._writing():
            self._chroma.remove_article(article_id)
            if self._keeps_keywords():
                self.keywords.catch_up(removed=[article_id])
        spans = sentence_spans(article.text, language=article.language)
        self.sentence_vectors.forget(
            text
            for start, end in spans
            for text in readings(article.title, article.text[start:end])
        )
        return article

    def replace_all_chunks(
        self,
        fingerprint: EmbeddingFingerprint,
        batches: Iterator[tuple[Sequence[Chunk], Sequence[Sequence[float]]]],
    ) -> None:
        """Re-embedding into a fresh chunks collection swapped in for the old one
        (:meth:`ingest.chroma_collections.ChromaCollections.replace_all_chunks`), and its index."""
        with self._writing():
            self._chroma.replace_all_chunks(fingerprint, batches)
            if self._keywords is not None:  # the old collection's index
                self._keywords.close()
                self._keywords = None
            if self._embedded:
                self.keywords.catch_up()  # indexes the new collection for this data directory

    # -- helpers ---------------------------------------------------------------------------

    def _writing(self) -> contextlib.AbstractContextManager[None]:
        """A write, marked for ``inquote list`` (:func:`ingest.keyword_index.store_write`) on
        an embedded store: there it reads the keyword index alone."""
        return store_write(self._keywords_root) if self._embedded else contextlib.nullcontext()

    def _keeps_keywords(self) -> bool:
        """Whether a write updates this process's keyword index: always for an embedded store
        (its readers rely on writers), and in server mode once this process reads it (the bot).
        An ingest on another host builds none: readers catch up from the store."""
        return self._embedded or self._keywords is not None

    def _current_articles(self, article_ids: list[str]) -> dict[str, Article]:
        """The stored articles by id. An embedded store keeps the last ones read in memory and
        serves them again while the keyword index, which every writer updates in the same write,
        still holds that version; the others are read."""
        found: dict[str, Article] = {}
        if self._embedded and self._keywords is not None:
            found = self._recent.get(self._keywords.versions(article_ids).items())
        read = self._chroma.articles_by_id([i for i in article_ids if i not in found])
        if self._embedded:
            self._recent.keep(read.values())
        return found | read


def _major(version: str) -> str:
    """The API generation of a Chroma version.

    Chroma 1.x servers report their API version (1.0.0), not their package's, and speak to every
    1.x client; 0.x servers speak another API. docker-compose.yml also pins the server image to the
    exact client version.
    """
    return version.split(".", maxsplit=1)[0]
