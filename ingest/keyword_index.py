"""The store's keyword index: BM25 over every current chunk, on disk, kept up to date by change.

Chroma 1.5 refuses its own sparse (BM25) index outside its cloud ("Sparse vector indexing is not
enabled in local"), embedded and ``chroma run`` alike, so inquote keeps one beside the store: a
Tantivy index of each chunk's terms (:func:`ingest.terms.terms`, in its article's language) and a
small SQLite table of which version of which article it holds (with what a question's scope
filters on: its libraries and publication day), in
``DATA_DIR/keywords/<chunks collection id>/``.

The store is the source of truth. Every article record carries a ``revision`` (when it was
written), so a process catches its index up with what changed since it last looked — one query
for recently written article records per question, then only the changed articles' chunks — and
never rebuilds it from every chunk, except the first time a data directory meets a store (a new
host in server mode, or a store ingested before revisions existed). Writes update it as they
commit; readers, on this host or another, see a change at their next question. Removals show as
fewer articles than the index holds.

The table keeps each article's record (its metadata, without the text), so ``inquote list`` on
an embedded store reads it alone, without Chroma (:func:`listing`), when the index is known to be
the store's: ``current.json`` names the index a process last brought up to the store, for which
database file, and a mark in the folder says a write is under way or was cut short.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import itertools
import json
import logging
import math
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

import tantivy

from ingest.schema import (
    CHROMA_DATABASE,
    CHROMA_FOLDER,
    Article,
    Chunk,
    Scope,
    day_number,
    library_field,
)
from ingest.sqlite_check import check_database, checked_read_only, quick_check
from ingest.terms import spelled_acronyms, terms

log = logging.getLogger(__name__)

# Each look reads the article records written since this long before the last look, so a write
# whose commit lands a little late (another host, a clock a little behind) is not missed.
LATE_WRITE_NS = 30 * 10**9
# Removals leave no revision behind: they are found by counting articles, this often at most.
COUNT_SECONDS = 30.0
WRITER_HEAP = 50_000_000
GC_EVERY = 20_000  # chunks indexed between full garbage collections (a first look reads many)
PROGRESS_FROM = 20_000  # chunks read from the store: a (re)build this large tells its progress
# Part of the index's folder name: change it when the schema below or ingest.terms changes, and
# every data directory builds its index again.
INDEX_FORMAT = 5
KEYWORDS_FOLDER = "keywords"  # in the data directory: every index of this host, and these two
CURRENT_FILE = "current.json"  # the index last brought up to an embedded store, and its database
WRITE_MARK = "writing"  # there while a write to the store is under way, or after one cut short
KEPT = (CURRENT_FILE, WRITE_MARK)  # files of the folder that are no index's


class Changes(Protocol):
    """What the index reads from the store (``ingest.chroma_collections.ChromaCollections``)."""

    def article_count(self) -> int: ...
    def article_ids(self) -> list[str]: ...
    def articles_since(self, revision: int | None) -> list[Article]: ...
    def chunks_of(self, article_ids: Sequence[str]) -> Iterator[Chunk]: ...


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("terms", tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("chunk_id", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("article_id", tokenizer_name="raw", index_option="basic")
    builder.add_bytes_field("chunk", stored=True)  # the chunk itself, so a hit needs no lookup
    return builder.build()


class KeywordIndex:
    """BM25 search over the chunks of ``store``, kept in ``folder`` (see the module docstring)."""

    def __init__(self, folder: Path, store: Changes, *, writers_update: bool) -> None:
        """``writers_update``: every process that writes the store updates this folder too (an
        embedded store), so a reader need not ask the store what changed."""
        self.folder = folder
        self._store = store
        self._writers_update = writers_update
        self._lock = threading.Lock()
        self._languages: list[str] | None = None
        self._counted = 0.0  # when this process last counted the store's articles (monotonic)
        self._looked = 0  # when this process last looked at the store (time.time_ns())
        self._generation = -1  # the index's generation this process's searcher reads
        self._database: Path | None = None  # an embedded store's database (for_collection)
        self._pointed = False  # whether CURRENT_FILE names this index (written once looked)
        self.indexed = 0  # articles this process (re)indexed or removed: shows it never rebuilds
        (folder / "tantivy").mkdir(parents=True, exist_ok=True)
        self._schema = _schema()
        self._index = tantivy.Index(self._schema, path=str(folder / "tantivy"), reuse=True)
        self._db = sqlite3.connect(folder / "articles.sqlite", check_same_thread=False)
        with self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS articles (article_id TEXT PRIMARY KEY,"
                " content_hash TEXT NOT NULL, language TEXT NOT NULL, libraries TEXT NOT NULL,"
                " published_day INTEGER NOT NULL, duplicate_of TEXT NOT NULL, record TEXT NOT NULL)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
            )

    @classmethod
    def for_collection(
        cls,
        root: Path,
        collection_id: str,
        store: Changes,
        *,
        writers_update: bool,
        database: Path | None = None,
    ) -> KeywordIndex:
        """The index of the chunks collection ``collection_id``; indexes of other collections
        (replaced by ``inquote reindex``) or of another :data:`INDEX_FORMAT` are deleted.
        ``database``: an embedded store's database file (:data:`CURRENT_FILE` names it)."""
        name = f"{collection_id}.{INDEX_FORMAT}"
        root.mkdir(parents=True, exist_ok=True)
        # one process at a time checks the folder and, when damaged, starts it afresh: another
        # would otherwise delete the one being rebuilt, or read it half made
        with _locked(root / f"{name}.lock"):
            for stale in root.iterdir():
                if stale.name.split(".lock")[0] == name or stale.name.startswith(KEPT):
                    continue
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
            folder = root / name
            try:
                index = cls(folder, store, writers_update=writers_update).checked()
            except (ValueError, sqlite3.DatabaseError) as exc:  # what tantivy and SQLite raise
                log.warning(
                    "The keyword index in %s is damaged (%s); rebuilding it from the store",
                    folder,
                    " ".join(str(exc).split())[:200],
                )
                shutil.rmtree(folder, ignore_errors=True)
                index = cls(folder, store, writers_update=writers_update)
        index._database = database
        return index

    def checked(self) -> KeywordIndex:
        """This index, once its files have been read through (its table checked page by page,
        every segment opened): derived data that is damaged is rebuilt, not trusted."""
        try:
            self._index.searcher()
            quick_check(self._db)
        except BaseException:
            self.close()
            raise
        return self

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
    ) -> list[tuple[Chunk, float]]:
        """Up to ``limit`` (chunk, BM25 score) sharing words with ``question``, read in each of
        ``languages``; only chunks of ``article_ids`` when given. Searches the index as it is:
        :meth:`catch_up` first to see the store's latest changes."""
        searcher = self._index.searcher()
        clauses = _question_clauses(self._schema, searcher, question, languages or [""])
        if not clauses or limit <= 0:
            return []
        query = tantivy.Query.boolean_query([(tantivy.Occur.Should, clause) for clause in clauses])
        if article_ids:
            only = tantivy.Query.term_set_query(self._schema, "article_id", list(article_ids))
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), (tantivy.Occur.Must, only)]
            )
        found = searcher.search(query, limit, count=False)
        return [(_chunk(searcher.doc(address)), float(score)) for score, address in found.hits]

    def articles_in(self, scope: Scope, *, originals: bool = True) -> list[str]:
        """The ids of the indexed articles in ``scope``, and (``originals``) of the articles
        those are copies of: a copy has no chunks of its own, its original answers for it. As of
        the last :meth:`catch_up`."""
        where, values = _where(scope)
        with self._lock:
            rows = self._db.execute(
                f"SELECT article_id, duplicate_of FROM articles WHERE {where}", values
            ).fetchall()
        found = dict.fromkeys(
            article_id for row in rows for article_id in row[: 2 if originals else 1] if article_id
        )
        if scope.article_ids:
            return [article_id for article_id in scope.article_ids if article_id in found]
        return list(found)

    def within(self, articles: Sequence[Article], scope: Scope) -> list[Article]:
        """Those of ``articles`` that are in ``scope`` themselves (a copy's original is not),
        in their order; all of them for the whole store."""
        if not scope:
            return list(articles)
        inside = set(self.articles_in(scope, originals=False))
        return [article for article in articles if article.article_id in inside]

    def listed(self, scope: Scope) -> list[Article]:
        """The records of the indexed articles in ``scope`` (a copy's original not included),
        without their text: as of the last :meth:`catch_up`."""
        with self._lock:
            return _listed(self._db, scope)

    def days(self) -> list[int]:
        """The publication days (``20220224``) of the indexed articles, each once."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT published_day FROM articles WHERE published_day > 0"
            ).fetchall()
        return [int(day) for (day,) in rows]

    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """The indexed chunks among ``chunk_ids``, by id (read here, not from the store)."""
        if not chunk_ids:
            return {}
        searcher = self._index.searcher()
        query = tantivy.Query.term_set_query(self._schema, "chunk_id", list(chunk_ids))
        found = searcher.search(query, len(chunk_ids), count=False)
        chunks = (_chunk(searcher.doc(address)) for _, address in found.hits)
        return {chunk.chunk_id: chunk for chunk in chunks}

    def article_count(self) -> int:
        """How many articles the index holds (without looking at the store)."""
        with self._lock:
            return self._count()

    def versions(self, article_ids: Sequence[str]) -> dict[str, str]:
        """The content hash of each indexed article among ``article_ids`` (as of the last
        :meth:`catch_up`; for an embedded store, as of the last write)."""
        with self._lock:
            return {article_id: row[0] for article_id, row in self._held(article_ids).items()}

    def catch_up(
        self,
        written: Sequence[tuple[Article, Sequence[Chunk]]] = (),
        removed: Sequence[str] = (),
    ) -> None:
        """Bring the index up to the store: articles written or removed since it last looked
        (a question's first step; one query to the store when nothing changed).

        ``written``: articles this process has just stored, with their chunks (no need to read
        them back); ``removed``: ids of articles it has just deleted. Removals by other hosts
        are found by counting the articles, at most every :data:`COUNT_SECONDS` (until then
        :meth:`ingest.store.ChromaStore.scored` leaves their chunks out of answers). Several
        processes sharing the data directory take turns.
        """
        with self._lock:
            looking = time.time_ns()
            if written or removed or (self._should_look() and self._changes(self._pending())):
                # another process may have caught up meanwhile
                with _locked(self.folder / "update.lock"):
                    # after its first look, a process on an embedded store need not look: every
                    # writer updates this index too (a bulk ingest would otherwise reread its
                    # last 30 s at every write)
                    looked = self._should_look()
                    changed = self._pending() if looked else []
                    written_by = dict(_by_article(written))
                    self._apply(changed, written_by, removed, looking if looked else 0)
            generation = self._state("generation")
            if generation != self._generation:  # changed here or by another process
                self._index.reload()
                self._generation = generation
                self._languages = None
            self._looked = looking
            if self._database is not None and not self._pointed:
                _point(self.folder, self._database)
                self._pointed = True

    # -- helpers ---------------------------------------------------------------------------

    def _should_look(self) -> bool:
        """Whether to ask the store what changed: always in server mode; on an embedded store,
        once a process, from the last write indexed here (so a writer killed between storing
        articles and indexing them is made good by the next process to open the store)."""
        return not (self._writers_update and self._looked)

    def _pending(self) -> list[Article]:
        """Article records written since this index last looked at the store (every article at
        a first look, or for a store from before revisions)."""
        looked = self._looked or self._state("looked")
        return self._store.articles_since(looked - LATE_WRITE_NS if looked else None)

    def _changes(self, changed: list[Article]) -> bool:
        held = self._held([article.article_id for article in changed])
        if any(held.get(a.article_id) != _row(a) for a in changed):
            return True
        if time.monotonic() - self._counted < COUNT_SECONDS:
            return False
        self._counted = time.monotonic()
        return self._count() != self._store.article_count()

    def _apply(
        self,
        changed: list[Article],
        written: dict[str, tuple[Article, list[Chunk]]],
        removed: Sequence[str],
        looking: int,
    ) -> None:
        """Index ``changed`` and ``written`` articles, drop ``removed`` ones; ``looking``: when
        the store was looked at for ``changed`` (0: it was not)."""
        changed += [article for article, _ in written.values()]
        held = self._held([article.article_id for article in changed])
        relabelled = [a for a in changed if held.get(a.article_id) != _row(a)]
        fresh = {
            a.article_id: a
            for a in relabelled
            if a.article_id not in held or held[a.article_id][0] != a.content_hash
        }
        gone = list(removed)
        if (
            not written
            and not removed
            and (self._count() + len(set(fresh) - set(held)) != self._store.article_count())
        ):
            present = set(self._store.article_ids())
            gone = [row for (row,) in self._db.execute("SELECT article_id FROM articles")
                    if row not in present]  # fmt: skip
        if fresh or gone:
            writer = self._index.writer(WRITER_HEAP, 1)
            for article_id in [*fresh, *gone]:
                writer.delete_documents_by_term("article_id", article_id)
            unread = [i for i, a in fresh.items() if i not in written and a.chunk_count]
            progress = _Progress(sum(fresh[i].chunk_count for i in unread))
            chunks = 0
            # read as they are indexed, never all at once: a first look may meet millions
            for chunk in itertools.chain(
                (c for i in fresh if i in written for c in written[i][1]),
                self._store.chunks_of(unread),
            ):
                chunks += 1
                progress.step()
                if chunks % GC_EVERY == 0:  # the Chroma HTTP client's responses sit in
                    gc.collect()  # reference cycles: freed only by a full collection
                article = fresh[chunk.article_id]
                if chunk.content_hash != article.content_hash:
                    continue  # an older version's, not yet deleted
                document = tantivy.Document()
                document.add_text("terms", " ".join(terms(chunk.text, article.language)))
                document.add_text("chunk_id", chunk.chunk_id)
                document.add_text("article_id", chunk.article_id)
                document.add_bytes("chunk", json.dumps(asdict(chunk)).encode())
                writer.add_document(document)
            writer.commit()
            writer.wait_merging_threads()
            self.indexed += len(fresh) + len(gone)
            log.info(
                "keyword index: %d articles indexed, %d removed (%d chunks)",
                len(fresh),
                len(gone),
                chunks,
            )
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO articles (article_id, language, content_hash, libraries,"
                " published_day, duplicate_of, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(a.article_id, a.language, *_row(a)) for a in relabelled],
            )
            self._db.executemany("DELETE FROM articles WHERE article_id = ?", [(i,) for i in gone])
            # every change before this mark (less the late-write window) is indexed: a look at
            # the store, or a write indexed here (an embedded store has one writer at a time)
            mark = max([looking, *(article.revision for article, _ in written.values())])
            if mark:
                self._db.execute(
                    "INSERT OR REPLACE INTO state VALUES ('looked', ?)",
                    (max(mark, self._state("looked")),),
                )
            if fresh or gone:
                self._db.execute(
                    "INSERT OR REPLACE INTO state VALUES ('generation', ?)",
                    (self._state("generation") + 1,),
                )

    def _held(self, article_ids: Sequence[str]) -> dict[str, tuple[str, str, int, str, str]]:
        """What the table holds of each of ``article_ids``: as :func:`_row` gives it."""
        held: dict[str, tuple[str, str, int, str, str]] = {}
        for start in range(0, len(article_ids), 500):
            part = list(article_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            query = (
                "SELECT article_id, content_hash, libraries, published_day, duplicate_of, record"
                f" FROM articles WHERE article_id IN ({marks})"
            )
            held.update((row[0], tuple(row[1:])) for row in self._db.execute(query, part))
        return held

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def _state(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0


class _Progress:
    """Tells, at every tenth of the way, how far a large (re)build of the index has come."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self._tenth = 1  # the next tenth to tell

    def step(self) -> None:
        self.done += 1
        if self.total >= PROGRESS_FROM and self.done * 10 >= self._tenth * self.total:
            self._tenth += 1
            log.warning(
                "keyword index: %d%% built (%d of %d chunks)",
                100 * self.done // self.total,
                self.done,
                self.total,
            )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes, held on ``path``."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _row(article: Article) -> tuple[str, str, int, str, str]:
    """What the table keeps of an article besides its language: its version (content hash
    first), what its scope filters on, and its record (as stored, less the text and the
    near-duplicate signature)."""
    record = {k: v for k, v in article.metadata().items() if k != "signature"}
    return (
        article.content_hash,
        library_field(article.libraries),
        day_number(article.published),
        article.duplicate_of,
        json.dumps(record, ensure_ascii=False),
    )


def _where(scope: Scope) -> tuple[str, list[str | int]]:
    """The SQL condition on the table for ``scope``'s libraries and days, and its values."""
    conditions: list[str] = []
    values: list[str | int] = []
    if scope.libraries:
        conditions.append(
            "(" + " OR ".join(["instr(libraries, ?) > 0"] * len(scope.libraries)) + ")"
        )
        values += [f",{name}," for name in scope.libraries]
    if scope.since:
        conditions.append("published_day >= ?")
        values.append(day_number(scope.since))
    if scope.until:
        conditions.append("published_day BETWEEN 1 AND ?")
        values.append(day_number(scope.until))
    return " AND ".join(conditions) or "1", values


def _listed(db: sqlite3.Connection, scope: Scope) -> list[Article]:
    where, values = _where(scope)
    rows = db.execute(f"SELECT record FROM articles WHERE {where}", values).fetchall()
    articles = [Article.from_record("", json.loads(record)) for (record,) in rows]
    if scope.article_ids:
        return [article for article in articles if article.article_id in scope.article_ids]
    return articles


def listing(data_dir: Path, scope: Scope) -> list[Article] | None:
    """The records of an embedded store's articles in ``scope`` (see :meth:`KeywordIndex.listed`),
    read from its keyword index alone — without Chroma, whose import takes most of a second —
    when the index is known to be the store's: brought up to the store by a process that opened
    it, for the same database file (a restored or rebuilt store is another), no write under way
    or cut short since, and neither database damaged. Else None: open the store."""
    root = data_dir / KEYWORDS_FOLDER
    try:
        if (root / WRITE_MARK).exists():
            return None
        pointer = json.loads((root / CURRENT_FILE).read_text(encoding="utf-8"))
        database = data_dir / CHROMA_FOLDER / CHROMA_DATABASE
        if pointer["database"] != _identity(database):
            return None
        check_database(database)
        with checked_read_only(root / pointer["index"] / "articles.sqlite") as db:
            return _listed(db, scope)
    except (OSError, ValueError, KeyError, TypeError, sqlite3.DatabaseError):
        return None


@contextlib.contextmanager
def store_write(root: Path) -> Iterator[None]:
    """Marks an embedded store's write (:data:`WRITE_MARK`, on disk before the write begins):
    until it completes, :func:`listing` opens the store. A write that raises or is killed leaves
    the mark, so listing opens the store until the next write completes."""
    root.mkdir(parents=True, exist_ok=True)
    mark = root / WRITE_MARK
    with mark.open("w") as handle:
        os.fsync(handle.fileno())
    _sync_folder(root)
    yield
    mark.unlink(missing_ok=True)


def _point(folder: Path, database: Path) -> None:
    """Writes :data:`CURRENT_FILE`: ``folder`` is the index of the store in ``database``."""
    written = folder.parent / f"{CURRENT_FILE}.{os.getpid()}"
    with contextlib.suppress(OSError):  # a read-only data directory: listing opens the store
        pointer = {"index": folder.name, "database": _identity(database)}
        written.write_text(json.dumps(pointer), encoding="utf-8")
        written.replace(folder.parent / CURRENT_FILE)


def _identity(path: Path) -> list[int]:
    """Which file ``path`` is (a store restored or rebuilt since is another)."""
    found = path.stat()
    return [found.st_dev, found.st_ino]


def _sync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _chunk(document: tantivy.Document) -> Chunk:
    return Chunk(**json.loads(document["chunk"][0]))


def _by_article(
    written: Sequence[tuple[Article, Sequence[Chunk]]],
) -> Iterator[tuple[str, tuple[Article, list[Chunk]]]]:
    for article, chunks in written:
        yield article.article_id, (article, list(chunks))


def _question_clauses(
    schema: tantivy.Schema, searcher: tantivy.Searcher, question: str, languages: Sequence[str]
) -> list[tantivy.Query]:
    """One clause per distinct term of ``question``, read in each language, except that a name
    and its initials are one clause: the better of the name's words and its initials, weighted as
    the name (by BM25's IDF). A chunk writing ``U.S.`` then matches ``United States`` as well as
    one spelling it out, not a third as well."""

    def term(word: str) -> tantivy.Query:
        return tantivy.Query.term_query(schema, "terms", word, index_option="freq")

    def idf(word: str) -> float:
        found = searcher.doc_freq("terms", word)
        return math.log(1 + (searcher.num_docs - found + 0.5) / (found + 0.5))

    names: dict[str, frozenset[str]] = {}
    for code in languages:
        names.update(spelled_acronyms(question, code))
    in_names = set(names).union(*names.values())
    words = dict.fromkeys(word for code in languages for word in terms(question, code))
    clauses = [term(word) for word in words if word not in in_names]
    for initials, spelled in names.items():
        name = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, term(word)) for word in sorted(spelled)]
        )
        weight = sum(idf(word) for word in spelled) / max(idf(initials), 1e-6)
        initials_clause = tantivy.Query.boost_query(term(initials), weight)
        clauses.append(tantivy.Query.disjunction_max_query([name, initials_clause]))
    return clauses
