"""The store's keyword index: BM25 over every current chunk, on disk, kept up to date by change.

Chroma 1.5 refuses its own sparse (BM25) index outside its cloud ("Sparse vector indexing is not
enabled in local"), embedded and ``chroma run`` alike, so inquote keeps one beside the store: a
Tantivy index of each chunk's terms (:func:`ingest.terms.terms`, in its article's language) and a
small SQLite table of which version of which article it holds, in
``DATA_DIR/keywords/<chunks collection id>/``.

The store is the source of truth. Every article record carries a ``revision`` (when it was
written), so a process catches its index up with what changed since it last looked — one query
for recently written article records per question, then only the changed articles' chunks — and
never rebuilds it from every chunk, except the first time a data directory meets a store (a new
host in server mode, or a store ingested before revisions existed). Writes update it as they
commit; readers, on this host or another, see a change at their next question. Removals show as
fewer articles than the index holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import tantivy

from ingest.schema import Article, Chunk
from ingest.terms import terms

log = logging.getLogger(__name__)

# Article records written this long before the newest one seen are looked at again, so a writer
# whose commit lands a little late (another host, a clock a little behind) is not missed.
LATE_WRITE_NS = 30 * 10**9
WRITER_HEAP = 50_000_000


class Changes(Protocol):
    """What the index reads from the store (``ingest.store.ChromaStore``)."""

    def article_count(self) -> int: ...
    def article_ids(self) -> list[str]: ...
    def articles_since(self, revision: int | None) -> list[Article]: ...
    def chunks_of(self, article_ids: Sequence[str]) -> Iterator[Chunk]: ...


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("terms", tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("article_id", tokenizer_name="raw", index_option="basic")
    return builder.build()


class KeywordIndex:
    """BM25 search over the chunks of ``store``, kept in ``folder`` (see the module docstring)."""

    def __init__(self, folder: Path, store: Changes) -> None:
        self.folder = folder
        self._store = store
        self._lock = threading.Lock()
        self._languages: list[str] | None = None
        self.indexed = 0  # articles this process (re)indexed or removed: shows it never rebuilds
        (folder / "tantivy").mkdir(parents=True, exist_ok=True)
        self._schema = _schema()
        self._index = tantivy.Index(self._schema, path=str(folder / "tantivy"), reuse=True)
        self._db = sqlite3.connect(folder / "articles.sqlite", check_same_thread=False)
        with self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS articles (article_id TEXT PRIMARY KEY,"
                " content_hash TEXT NOT NULL, language TEXT NOT NULL)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
            )

    @classmethod
    def for_collection(cls, root: Path, collection_id: str, store: Changes) -> KeywordIndex:
        """The index of the chunks collection ``collection_id``; other collections' indexes
        under ``root`` (replaced by ``inquote reindex``) are deleted."""
        if root.is_dir():
            for stale in root.iterdir():
                if stale.name != collection_id and stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
        return cls(root / collection_id, store)

    def close(self) -> None:
        self._db.close()

    def languages(self) -> list[str]:
        """The stored articles' languages, the most common first."""
        with self._lock:
            if self._languages is None:
                rows = self._db.execute(
                    "SELECT language FROM articles WHERE language != '' GROUP BY language "
                    "ORDER BY COUNT(*) DESC, language"
                ).fetchall()
                self._languages = [str(code) for (code,) in rows]
            return list(self._languages)

    def search(
        self,
        question: str,
        limit: int,
        languages: Sequence[str] = (),
        article_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Up to ``limit`` (chunk id, BM25 score) sharing words with ``question``, read in each of
        ``languages``; only chunks of ``article_ids`` when given. Searches the index as it is:
        :meth:`catch_up` first to see the store's latest changes."""
        words = list(
            dict.fromkeys(word for code in languages or [""] for word in terms(question, code))
        )
        if not words or limit <= 0:
            return []
        query = tantivy.Query.boolean_query(
            [
                (
                    tantivy.Occur.Should,
                    tantivy.Query.term_query(self._schema, "terms", word, index_option="freq"),
                )
                for word in words
            ]
        )
        if article_ids:
            only = tantivy.Query.term_set_query(self._schema, "article_id", list(article_ids))
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), (tantivy.Occur.Must, only)]
            )
        searcher = self._index.searcher()
        found = searcher.search(query, limit, count=False)
        return [
            (str(searcher.doc(address)["chunk_id"][0]), float(score))
            for score, address in found.hits
        ]

    def catch_up(self, written: Sequence[tuple[Article, Sequence[Chunk]]] = ()) -> None:
        """Bring the index up to the store: articles written or removed since it last looked
        (a question's first step; cheap when nothing changed).

        ``written``: articles this process has just stored, with their chunks (no need to read
        them back). Several processes sharing the data directory take turns.
        """
        with self._lock:
            if not written and not self._changes(self._pending()):
                return
            with self._folder_lock():  # another process may have caught up meanwhile
                self._apply(self._pending(), dict(_by_article(written)))
            self._index.reload()

    # -- helpers ---------------------------------------------------------------------------

    def _pending(self) -> tuple[list[Article], int]:
        """Article records written since the index last looked, and the newest revision."""
        revision = self._state("revision")
        # a first look (or a store from before revisions): every article
        changed = self._store.articles_since(revision - LATE_WRITE_NS if revision else None)
        newest = max([revision, *(article.revision for article in changed)])
        return changed, newest

    def _changes(self, pending: tuple[list[Article], int]) -> bool:
        changed, _ = pending
        held = self._held([article.article_id for article in changed])
        if any(held.get(a.article_id) != a.content_hash for a in changed):
            return True
        return self._count() != self._store.article_count()

    def _apply(
        self, pending: tuple[list[Article], int], written: dict[str, tuple[Article, list[Chunk]]]
    ) -> None:
        changed, newest = pending
        for article, _ in written.values():
            changed.append(article)
            newest = max(newest, article.revision)
        held = self._held([article.article_id for article in changed])
        fresh = {a.article_id: a for a in changed if held.get(a.article_id) != a.content_hash}
        gone: list[str] = []
        if self._count() + len(set(fresh) - set(held)) != self._store.article_count():
            present = set(self._store.article_ids())
            gone = [row for (row,) in self._db.execute("SELECT article_id FROM articles")
                    if row not in present]  # fmt: skip
        if fresh or gone:
            writer = self._index.writer(WRITER_HEAP, 1)
            for article_id in [*fresh, *gone]:
                writer.delete_documents_by_term("article_id", article_id)
            unread = [i for i, a in fresh.items() if i not in written and a.chunk_count]
            chunks = [*(c for i in fresh if i in written for c in written[i][1]),
                      *self._store.chunks_of(unread)]  # fmt: skip
            for chunk in chunks:
                article = fresh[chunk.article_id]
                if chunk.content_hash != article.content_hash:
                    continue  # an older version's, not yet deleted
                document = tantivy.Document()
                document.add_text("terms", " ".join(terms(chunk.text, article.language)))
                document.add_text("chunk_id", chunk.chunk_id)
                document.add_text("article_id", chunk.article_id)
                writer.add_document(document)
            writer.commit()
            writer.wait_merging_threads()
            self.indexed += len(fresh) + len(gone)
            log.info(
                "keyword index: %d articles indexed, %d removed (%d chunks)",
                len(fresh),
                len(gone),
                len(chunks),
            )
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO articles VALUES (?, ?, ?)",
                [(a.article_id, a.content_hash, a.language) for a in fresh.values()],
            )
            self._db.executemany("DELETE FROM articles WHERE article_id = ?", [(i,) for i in gone])
            self._db.execute(
                "INSERT OR REPLACE INTO state VALUES ('revision', ?)",
                (max(newest, self._state("revision"), 1),),
            )
        if fresh or gone:
            self._languages = None

    def _held(self, article_ids: Sequence[str]) -> dict[str, str]:
        held: dict[str, str] = {}
        for start in range(0, len(article_ids), 500):
            part = list(article_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            query = f"SELECT article_id, content_hash FROM articles WHERE article_id IN ({marks})"
            held.update(self._db.execute(query, part).fetchall())
        return held

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def _state(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    @contextlib.contextmanager
    def _folder_lock(self) -> Iterator[None]:
        with (self.folder / "update.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _by_article(
    written: Sequence[tuple[Article, Sequence[Chunk]]],
) -> Iterator[tuple[str, tuple[Article, list[Chunk]]]]:
    for article, chunks in written:
        yield article.article_id, (article, list(chunks))
