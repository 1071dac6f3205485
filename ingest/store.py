"""The article store: Chroma collections laid out as ``ingest.schema`` describes, and the keyword
index beside them (``ingest.keyword_index``), which every write brings up to date.

Chunks go through LlamaIndex's ``ChromaVectorStore``; whole articles live in a second collection
so every quote can be checked against the full stored text.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import chromadb
import httpx
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError, NotFoundError

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

from config.errors import ArticleNotFoundError, EmbeddingMismatchError, StoreError
from config.settings import StoreSettings
from ingest.chunking import sentence_spans
from ingest.keyword_index import KEYWORDS_FOLDER, KeywordIndex, store_write
from ingest.locking import DataDirLock
from ingest.recent_articles import RecentArticles
from ingest.schema import (
    ARTICLE_VECTOR,
    ARTICLES_COLLECTION,
    CHROMA_DATABASE,
    CHUNKS_COLLECTION,
    REINDEX_COLLECTION,
    Article,
    Chunk,
    EmbeddingFingerprint,
    ScoredChunk,
)
from ingest.sentence_vectors import SENTENCE_VECTORS_FILE, SentenceVectors
from ingest.sources import SOURCES_FILE
from ingest.sqlite_check import check_database

log = logging.getLogger(__name__)

_SPACE = {"hnsw:space": "cosine"}
_PAGE = 2000
FULL_BELOW = 1 << 20  # bytes free under which a disk counts as full (SQLite needs pages to spare)


def unexpected_fault(exc: BaseException, data_dir: Path | None) -> str:
    """One line for an error inquote did not expect: a library's own, or a Rust panic in one.
    A full disk or a damaged store is named as such; anything else with a pointer to ``-v``."""
    path = data_dir / "chroma" if data_dir else None
    module = type(exc).__module__ or ""
    if _disk_full(path) or module.startswith(("chromadb", "sqlite3", "pyo3")):
        return str(store_fault(exc, path))
    detail = " ".join(str(exc).split())[:300]
    if module.startswith(("httpx", "httpcore")) or isinstance(exc, ConnectionError):
        return f"The store server is not reachable ({type(exc).__name__}: {detail})"
    return f"{type(exc).__name__}: {detail} (run with -v for the details)"


def _disk_full(path: Path | None) -> bool:
    """Whether the disk holding ``path`` (or its nearest existing parent) has no room left."""
    while path is not None and not path.exists() and path != path.parent:
        path = path.parent
    try:
        return path is not None and shutil.disk_usage(path).free < FULL_BELOW
    except OSError:
        return False


def store_fault(exc: BaseException, path: Path | None, doing: str = "") -> StoreError:
    """One line for a store that can't be used: what is wrong and what to do about it."""
    text = str(exc).lower()
    where = f" at {path}" if path else ""
    errno = getattr(exc, "errno", None)
    if errno == 28 or "disk is full" in text or "no space" in text or _disk_full(path):
        message = f"The disk holding the store{where} is full: free some space, then try again"
    elif (
        "readonly" in text
        or "read-only" in text
        or "permission denied" in text
        or errno
        in {
            1,
            13,
            30,
        }
    ):
        message = (
            f"The store{where} is not writable ({exc}). Chroma opens its store for writing even "
            "to read it, so a read-only store can't be served: give this user write access, or "
            "copy the data directory somewhere writable (`cp -r DIR COPY`) and point --data-dir "
            "at the copy"
        )
    elif "not a database" in text or "malformed" in text or "corrupt" in text:
        noted = path is not None and (path.parent / SOURCES_FILE).is_file()
        message = f"The store{where} is damaged ({exc}): " + (
            "build it again from its sources (`inquote reindex --from-sources`, which keeps it "
            "aside), or restore a backup (`inquote restore DIR`)"
            if noted
            else f"move it aside (`mv {path or 'chroma'} {path or 'chroma'}.damaged`) and "
            "ingest the articles again"
        )
    elif "locked" in text:
        message = f"The store{where} is locked by another process ({exc}): try again shortly"
    else:
        message = f"The store{where} cannot be used: {exc}"
    return StoreError(f"{doing}: {message}" if doing else message)


class ChromaStore:
    """Articles and their embedded chunks in Chroma."""

    def __init__(
        self,
        client: Any,
        fingerprint: EmbeddingFingerprint,
        keywords: Path,
        *,
        check_fingerprint: bool = True,
    ) -> None:
        """``keywords``: the local folder that holds this host's keyword indexes."""
        self._client = client
        self._lock: DataDirLock | None = None
        self._keywords_root = keywords
        self._keywords: KeywordIndex | None = None
        self.sentence_vectors = SentenceVectors(
            keywords.parent / SENTENCE_VECTORS_FILE, fingerprint
        )
        self._embedded = False  # set by open_persistent: then every writer is on this host
        self._path: Path | None = None  # an embedded store's folder, for messages
        self._recent = RecentArticles()  # an embedded store's last articles read
        self.fingerprint = fingerprint
        try:
            self._finish_interrupted_reindex()
            self._articles = self._collection(ARTICLES_COLLECTION, dict(_SPACE))
            self._chunks = self._collection(
                CHUNKS_COLLECTION, {**_SPACE, **fingerprint.as_metadata()}
            )
        except ChromaError as exc:
            raise StoreError(f"Cannot open the Chroma collections: {exc}") from exc
        self.stored_fingerprint = EmbeddingFingerprint.from_metadata(self._chunks.metadata)
        if check_fingerprint and self.stored_fingerprint != fingerprint:
            stored, configured = _describe(self.stored_fingerprint), _describe(fingerprint)
            raise EmbeddingMismatchError(
                f"This store was built with the embedding model {stored}, but {configured} is "
                "configured. Run `inquote reindex` to re-embed every article with the configured "
                "model, or set embedding.backend/embedding.ollama_model back to the store's model."
            )

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
        lock = DataDirLock(data_dir) if write else None
        if lock is not None:
            try:
                lock.acquire()
            except OSError as exc:
                raise store_fault(exc, data_dir / "chroma") from exc
        settings = ChromaSettings(anonymized_telemetry=False)
        path = data_dir / "chroma"
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
        store._path = path
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
            self._keywords = KeywordIndex.for_collection(
                self._keywords_root,
                str(self._chunks.id),
                self,
                writers_update=self._embedded,
                database=self._path / CHROMA_DATABASE if self._path else None,
            )
        return self._keywords

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
        found = self._articles.get(ids=[article_id], include=["documents", "metadatas"])
        if not found["ids"]:
            return None
        return Article.from_record(found["documents"][0], found["metadatas"][0])

    def articles(self) -> list[Article]:
        """Every stored article, by title."""
        found = list(self._iter_records(self._articles, ["documents", "metadatas"]))
        articles = [Article.from_record(document, metadata) for _, document, metadata in found]
        return sorted(articles, key=lambda article: (article.title.lower(), article.article_id))

    def article_summaries(self) -> list[Article]:
        """Every stored article's metadata, without its text (cheap: for listing and dedup)."""
        found = self._iter_records(self._articles, ["metadatas"])
        return [Article.from_record("", metadata) for _, _, metadata in found]

    def article_count(self) -> int:
        return int(self._articles.count())

    def article_ids(self) -> list[str]:
        return [record_id for record_id, _, _ in self._iter_records(self._articles, [])]

    def articles_since(self, revision: int | None) -> list[Article]:
        """The metadata of articles written after ``revision`` (every article for None)."""
        if revision is None:
            return self.article_summaries()
        found = self._articles.get(where={"revision": {"$gt": revision}}, include=["metadatas"])
        return [Article.from_record("", metadata) for metadata in found["metadatas"]]

    def chunk_count(self) -> int:
        return int(self._chunks.count())

    def query(
        self, embedding: Sequence[float], top_k: int, article_ids: Sequence[str] | None = None
    ) -> list[ScoredChunk]:
        """The ``top_k`` chunks nearest to ``embedding``, best first, stale versions left out."""
        found = self._chunks.query(
            query_embeddings=[list(embedding)],
            n_results=top_k,
            where=_only(article_ids),
            include=["documents", "metadatas", "distances"],
        )
        records = zip(found["ids"][0], found["documents"][0], found["metadatas"][0], strict=True)
        chunks = [_chunk_from_record(*record) for record in records]
        similarities = [1.0 - distance for distance in found["distances"][0]]  # cosine distance
        return self.scored(
            [(c.chunk_id, s) for c, s in zip(chunks, similarities, strict=True)], chunks
        )

    def nearest(
        self, embedding: Sequence[float], top_k: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ids and cosine similarities of the ``top_k`` chunks nearest to ``embedding`` (to
        fuse with other rankings before reading any text: see :meth:`scored`)."""
        found = self._chunks.query(
            query_embeddings=[list(embedding)],
            n_results=top_k,
            where=_only(article_ids),
            include=["distances"],
        )
        return [
            (chunk_id, 1.0 - distance)
            for chunk_id, distance in zip(found["ids"][0], found["distances"][0], strict=True)
        ]

    def holds_chunks_of(self, article: Article) -> bool:
        """Whether every chunk ``article``'s record counts is stored for its version."""
        where = {
            "$and": [{"article_id": article.article_id}, {"content_hash": article.content_hash}]
        }
        found = self._chunks.get(where=where, include=[])
        return article.chunk_count > 0 and len(found["ids"]) == article.chunk_count

    def chunks_of(self, article_ids: Sequence[str]) -> Iterator[Chunk]:
        """Every stored chunk of ``article_ids`` (stale versions' too, until they are deleted)."""
        for start in range(0, len(article_ids), 100):
            where = _only(article_ids[start : start + 100])
            found = self._chunks.get(where=where, include=["documents", "metadatas"])
            for record in zip(found["ids"], found["documents"], found["metadatas"], strict=True):
                yield _chunk_from_record(*record)

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
        if unread:
            records = self._chunks.get(ids=unread, include=["documents", "metadatas"])
            for record in zip(
                records["ids"], records["documents"], records["metadatas"], strict=True
            ):
                known[record[0]] = _chunk_from_record(*record)
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
        """Store articles and their chunks in one write each way (a bulk ingest writes many at
        once), each replacing its earlier version, each all or nothing.

        New chunks are written first under version-specific ids, then the article records (each
        its article's commit point), then old versions' chunks are deleted. A failure at any
        step leaves readers seeing, for each article, either its old version or its new one; a
        write that fails before its commit deletes the chunks it added, and those a killed
        process leaves behind (ignored by readers) go with the article's next write.
        """
        for _, chunks, embeddings in entries:
            if len(chunks) != len(embeddings) or not chunks:
                raise ValueError("an article needs one embedding per chunk and at least one chunk")
            self._check_dimension(embeddings)
        if not entries:
            return
        nodes = [
            _node_from_chunk(chunk, embedding)
            for _, chunks, embeddings in entries
            for chunk, embedding in zip(chunks, embeddings, strict=True)
        ]
        revision = time.time_ns()
        records = [
            replace(article, chunk_count=len(chunks), revision=revision)
            for article, chunks, _ in entries
        ]
        stale = [
            {"$and": [{"article_id": r.article_id}, {"content_hash": {"$ne": r.content_hash}}]}
            for r in records
        ]
        ids = [record.article_id for record in records]
        with self._writing():
            committed = False
            try:
                _vector_store(self._chunks).add(nodes)
                self._articles.upsert(
                    ids=ids,
                    documents=[record.text for record in records],
                    metadatas=[record.metadata() for record in records],
                    embeddings=[ARTICLE_VECTOR] * len(records),
                )
                committed = True
                self._chunks.delete(where=stale[0] if len(stale) == 1 else {"$or": stale})
            except ChromaError as exc:
                if not committed:  # the new chunks are no version's: take them back
                    with contextlib.suppress(ChromaError):
                        self._chunks.delete(ids=[node.node_id for node in nodes])
                named = ", ".join(ids[:3]) + (" …" if len(ids) > 3 else "")
                raise store_fault(exc, self._path, f"Writing article {named} failed") from exc
            if self._keeps_keywords():
                written = zip(records, entries, strict=True)
                self.keywords.catch_up([(record, chunks) for record, (_, chunks, _) in written])

    def put_duplicate(self, article: Article) -> None:
        """Record ``article`` as another copy of ``article.duplicate_of``: no chunks of its own."""
        with self._writing():
            record = replace(article, chunk_count=0, revision=time.time_ns())
            try:
                self._articles.upsert(
                    ids=[article.article_id],
                    documents=[article.text],
                    metadatas=[record.metadata()],
                    embeddings=[ARTICLE_VECTOR],
                )
                self._chunks.delete(where={"article_id": article.article_id})
            except ChromaError as exc:
                raise store_fault(
                    exc, self._path, f"Writing article {article.article_id} failed"
                ) from exc
            if self._keeps_keywords():
                self.keywords.catch_up([(record, ())])

    def set_libraries(self, article: Article, libraries: tuple[str, ...]) -> Article:
        """Records that ``article`` (as stored) is in ``libraries``; its text and chunks stay."""
        with self._writing():
            record = replace(article, libraries=libraries, revision=time.time_ns())
            try:
                self._articles.update(ids=[article.article_id], metadatas=[record.metadata()])
            except ChromaError as exc:
                raise store_fault(
                    exc, self._path, f"Writing article {article.article_id} failed"
                ) from exc
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
            self._articles.delete(ids=[article_id])
            self._chunks.delete(where={"article_id": article_id})
            if self._keeps_keywords():
                self.keywords.catch_up(removed=[article_id])
        spans = sentence_spans(article.text, language=article.language)
        self.sentence_vectors.forget(article.text[start:end] for start, end in spans)
        return article

    def replace_all_chunks(
        self,
        fingerprint: EmbeddingFingerprint,
        batches: Iterator[tuple[Sequence[Chunk], Sequence[Sequence[float]]]],
    ) -> None:
        """Re-embedding: fill a fresh collection with ``batches``, then swap it in for the old one.

        Until the swap the old chunks keep serving; a swap cut short is finished on the next open.
        """
        with self._writing():
            with contextlib.suppress(NotFoundError, ValueError):
                self._client.delete_collection(REINDEX_COLLECTION)
            fresh = self._client.create_collection(
                REINDEX_COLLECTION,
                metadata={**_SPACE, **fingerprint.as_metadata()},
                embedding_function=None,
            )
            vectors = _vector_store(fresh)
            self.fingerprint = fingerprint
            counts: dict[str, int] = {}
            for chunks, embeddings in batches:
                self._check_dimension(embeddings)
                pairs = zip(chunks, embeddings, strict=True)
                vectors.add([_node_from_chunk(chunk, vector) for chunk, vector in pairs])
                for chunk in chunks:
                    counts[chunk.article_id] = counts.get(chunk.article_id, 0) + 1
            self._client.delete_collection(CHUNKS_COLLECTION)
            self._finish_interrupted_reindex()
            self._chunks = self._client.get_collection(CHUNKS_COLLECTION, embedding_function=None)
            self.stored_fingerprint = fingerprint
            for article_id, count in counts.items():
                self._articles.update(ids=[article_id], metadatas=[{"chunk_count": count}])
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

    def _collection(self, name: str, metadata: dict[str, Any]) -> Any:
        """The named collection; created with ``metadata`` only when new (never overwritten)."""
        try:
            return self._client.get_collection(name, embedding_function=None)
        except NotFoundError:
            return self._client.get_or_create_collection(
                name, metadata=metadata, embedding_function=None
            )

    def _finish_interrupted_reindex(self) -> None:
        names = {collection.name for collection in self._client.list_collections()}
        if REINDEX_COLLECTION in names and CHUNKS_COLLECTION not in names:
            self._client.get_collection(REINDEX_COLLECTION).modify(name=CHUNKS_COLLECTION)

    def _check_dimension(self, embeddings: Sequence[Sequence[float]]) -> None:
        for embedding in embeddings:
            if len(embedding) != self.fingerprint.dimension:
                raise StoreError(
                    f"An embedding has {len(embedding)} dimensions; the store expects "
                    f"{self.fingerprint.dimension} ({self.fingerprint.model})"
                )

    def _current_articles(self, article_ids: list[str]) -> dict[str, Article]:
        """The stored articles by id. An embedded store keeps the last ones read in memory and
        serves them again while the keyword index, which every writer updates in the same write,
        still holds that version; the others are read."""
        found: dict[str, Article] = {}
        if self._embedded and self._keywords is not None:
            found = self._recent.get(self._keywords.versions(article_ids).items())
        read = self._articles_by_id([i for i in article_ids if i not in found])
        if self._embedded:
            self._recent.keep(read.values())
        return found | read

    def _articles_by_id(self, article_ids: list[str]) -> dict[str, Article]:
        if not article_ids:
            return {}
        found = self._articles.get(ids=article_ids, include=["documents", "metadatas"])
        return {
            record_id: Article.from_record(document, metadata)
            for record_id, document, metadata in zip(
                found["ids"], found["documents"], found["metadatas"], strict=True
            )
        }

    @staticmethod
    def _iter_records(
        collection: Any, include: list[str]
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        offset = 0
        while True:
            page = collection.get(include=include, limit=_PAGE, offset=offset)
            if not page["ids"]:
                return
            documents = page.get("documents") or [""] * len(page["ids"])
            metadatas = page.get("metadatas") or [{}] * len(page["ids"])
            yield from zip(page["ids"], documents, metadatas, strict=True)
            offset += len(page["ids"])


def _only(article_ids: Sequence[str] | None) -> dict[str, Any] | None:
    return {"article_id": {"$in": list(article_ids)}} if article_ids else None


def _describe(fingerprint: EmbeddingFingerprint | None) -> str:
    if fingerprint is None:
        return "(unknown)"
    return f"'{fingerprint.model}' ({fingerprint.dimension} dimensions)"


def _vector_store(collection: Any) -> ChromaVectorStore:
    """LlamaIndex's writer for a chunks collection. Imported for writes only: reading queries
    Chroma directly, so a question does not pay for importing LlamaIndex."""
    from llama_index.vector_stores.chroma import ChromaVectorStore  # noqa: PLC0415

    return ChromaVectorStore(chroma_collection=collection)


def _node_from_chunk(chunk: Chunk, embedding: Sequence[float]) -> BaseNode:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode  # noqa: PLC0415

    node = TextNode(
        id_=chunk.chunk_id,
        text=chunk.text,
        embedding=list(embedding),
        metadata=chunk.metadata(),
        start_char_idx=chunk.start,
        end_char_idx=chunk.end,
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.article_id)
    return node


def _chunk_from_record(chunk_id: str, text: str, metadata: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        article_id=str(metadata["article_id"]),
        content_hash=str(metadata["content_hash"]),
        index=int(metadata["index"]),
        start=int(metadata["start"]),
        end=int(metadata["end"]),
        text=text,
    )


def _major(version: str) -> str:
    """The API generation of a Chroma version.

    Chroma 1.x servers report their API version (1.0.0), not their package's, and speak to every
    1.x client; 0.x servers speak another API. docker-compose.yml also pins the server image to the
    exact client version.
    """
    return version.split(".", maxsplit=1)[0]
