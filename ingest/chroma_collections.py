"""Chroma's side of the store: the two collections ``ingest.schema`` lays out, read and written.

Chunks go through LlamaIndex's ``ChromaVectorStore``; whole articles live in a second collection
so every quote can be checked against the full stored text. This module knows Chroma and nothing
beside it: the keyword index, the kept sentence vectors and the cache of recent articles are
``ingest.store.ChromaStore``'s, the façade every reader and writer uses.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chromadb.errors import ChromaError, NotFoundError

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

from config.errors import EmbeddingMismatchError, StoreError
from ingest.schema import (
    ARTICLE_VECTOR,
    ARTICLES_COLLECTION,
    CHROMA_FOLDER,
    CHUNKS_COLLECTION,
    REINDEX_COLLECTION,
    Article,
    Chunk,
    EmbeddingFingerprint,
)
from ingest.sources import SOURCES_FILE

# Neighbours the HNSW graph explores per query. With Chroma's default, 100, the 20 nearest chunks
# hybrid retrieval asks for missed some of the true 20 on 27-33 of 285 NorQuAD dev questions (a
# store of 1,283 chunks), differently from one process to the next (18 questions): the same store
# gave other answers. At 400 every question got the exact nearest 40, in every process.
SEARCH_EF = 400
_SPACE = {"hnsw:space": "cosine", "hnsw:search_ef": SEARCH_EF}
_PAGE = 2000
FULL_BELOW = 1 << 20  # bytes free under which a disk counts as full (SQLite needs pages to spare)


def unexpected_fault(exc: BaseException, data_dir: Path | None) -> str:
    """One line for an error inquote did not expect: a library's own, or a Rust panic in one.
    A full disk or a damaged store is named as such; anything else with a pointer to ``-v``."""
    path = data_dir / CHROMA_FOLDER if data_dir else None
    module = type(exc).__module__ or ""
    if _disk_full(path) or module.startswith(("chromadb", "sqlite3", "pyo3")):
        return str(store_fault(exc, path))
    detail = " ".join(str(exc).split())[:300]
    if module.startswith(("httpx", "httpcore")) or isinstance(exc, ConnectionError):
        return f"The store server is not reachable ({type(exc).__name__}: {detail})"
    return f"{type(exc).__name__}: {detail} (run with -v for the details)"


def _searched_wide(collection: Any) -> Any:
    """``collection``, searched with :data:`SEARCH_EF` if it was made with less (a store made
    before it; Chroma lets the setting change). A store opened read-only keeps its own."""
    hnsw = (collection.configuration_json or {}).get("hnsw") or {}
    if hnsw.get("ef_search", SEARCH_EF) < SEARCH_EF:
        with contextlib.suppress(ChromaError):
            collection.modify(configuration={"hnsw": {"ef_search": SEARCH_EF}})
    return collection


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


class ChromaCollections:
    """Articles and their embedded chunks in a Chroma client's collections."""

    def __init__(
        self,
        client: Any,
        fingerprint: EmbeddingFingerprint,
        *,
        check_fingerprint: bool = True,
    ) -> None:
        self._client = client
        self.path: Path | None = None  # an embedded store's folder, for messages
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

    @property
    def chunks_id(self) -> str:
        """The current chunks collection's id (``inquote reindex`` makes a new one)."""
        return str(self._chunks.id)

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

    def query_chunks(
        self, embedding: Sequence[float], top_k: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The ``top_k`` chunks nearest to ``embedding`` and their cosine similarities, best
        first (stale versions' included: :meth:`ingest.store.ChromaStore.scored` drops them)."""
        found = self._chunks.query(
            query_embeddings=[list(embedding)],
            n_results=top_k,
            where=_only(article_ids),
            include=["documents", "metadatas", "distances"],
        )
        records = zip(found["ids"][0], found["documents"][0], found["metadatas"][0], strict=True)
        chunks = [_chunk_from_record(*record) for record in records]
        similarities = [1.0 - distance for distance in found["distances"][0]]  # cosine distance
        return list(zip(chunks, similarities, strict=True))

    def nearest(
        self, embedding: Sequence[float], top_k: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ids and cosine similarities of the ``top_k`` chunks nearest to ``embedding``, to
        fuse with other rankings before reading any text (``ingest.store.ChromaStore.scored``)."""
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

    def chunks_by_id(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """The stored chunks among ``chunk_ids``, by id."""
        if not chunk_ids:
            return {}
        records = self._chunks.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        found = zip(records["ids"], records["documents"], records["metadatas"], strict=True)
        return {record[0]: _chunk_from_record(*record) for record in found}

    def articles_by_id(self, article_ids: list[str]) -> dict[str, Article]:
        if not article_ids:
            return {}
        found = self._articles.get(ids=article_ids, include=["documents", "metadatas"])
        return {
            record_id: Article.from_record(document, metadata)
            for record_id, document, metadata in zip(
                found["ids"], found["documents"], found["metadatas"], strict=True
            )
        }

    # -- writing ---------------------------------------------------------------------------

    def put_articles(
        self, entries: Sequence[tuple[Article, Sequence[Chunk], Sequence[Sequence[float]]]]
    ) -> list[Article]:
        """Store articles and their chunks in one write each way (a bulk ingest writes many at
        once), each replacing its earlier version, each all or nothing; the records written.

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
            return []
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
            raise store_fault(exc, self.path, f"Writing article {named} failed") from exc
        return records

    def put_duplicate(self, article: Article) -> Article:
        """Record ``article`` as another copy of ``article.duplicate_of``: no chunks of its own;
        the record written."""
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
                exc, self.path, f"Writing article {article.article_id} failed"
            ) from exc
        return record

    def set_libraries(self, article: Article, libraries: tuple[str, ...]) -> Article:
        """Records that ``article`` (as stored) is in ``libraries``; its text and chunks stay."""
        record = replace(article, libraries=libraries, revision=time.time_ns())
        try:
            self._articles.update(ids=[article.article_id], metadatas=[record.metadata()])
        except ChromaError as exc:
            raise store_fault(
                exc, self.path, f"Writing article {article.article_id} failed"
            ) from exc
        return record

    def remove_article(self, article_id: str) -> None:
        """Delete an article's record and its chunks."""
        self._articles.delete(ids=[article_id])
        self._chunks.delete(where={"article_id": article_id})

    def replace_all_chunks(
        self,
        fingerprint: EmbeddingFingerprint,
        batches: Iterator[tuple[Sequence[Chunk], Sequence[Sequence[float]]]],
    ) -> None:
        """Re-embedding: fill a fresh collection with ``batches``, then swap it in for the old one.

        Until the swap the old chunks keep serving; a swap cut short is finished on the next open.
        """
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

    # -- helpers ---------------------------------------------------------------------------

    def _collection(self, name: str, metadata: dict[str, Any]) -> Any:
        """The named collection; created with ``metadata`` only when new (never overwritten)."""
        try:
            return _searched_wide(self._client.get_collection(name, embedding_function=None))
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
