"""The write path as one service: sources → articles → chunks → embeddings → store.

Every front-end (CLI, Telegram, ``inquote eval``, benchmarks) adds articles through an
:class:`Ingestor` built from the settings, so chunk sizes, near-duplicate merging and fetch limits
are always the configured ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from config.errors import ArticleNotFoundError, SourceError
from config.settings import Settings
from ingest.chunking import chunk_article
from ingest.dedup import Stories, signature
from ingest.embedding import Embedder, Vector
from ingest.feeds import Feed, poll_feed
from ingest.fetching import Fetcher
from ingest.keyword_index import LATE_WRITE_NS
from ingest.outcomes import IngestOutcome, IngestReport, Status
from ingest.reading import find_articles, read_article
from ingest.schema import DEFAULT_LIBRARY, Article, Chunk
from ingest.sources import SourceLog
from ingest.store import ChromaStore
from ingest.web import article_from_url

log = logging.getLogger(__name__)

WRITE_BATCH = 32  # articles per store write in a bulk ingest


class Ingestor:
    """Adds, updates, removes and re-embeds the articles of one store.

    Each article is stored all or nothing; a source that fails is an outcome, not an error.
    Every article goes into a library (``library``: the default one unless named); an article
    already stored joins that library too, and keeps its others. Errors of the embedder (e.g.
    Ollama down) do raise: every remaining source would fail the same way.
    """

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        settings: Settings,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self._chunking = settings.chunking
        self._limits = settings.ingest
        self._near_duplicate = settings.dedup.near_duplicate_threshold
        self._fetcher = fetcher or Fetcher(settings.fetch)
        self._stories: Stories | None = None  # what add_article's articles may repeat
        self._stories_at = 0  # when they were last brought up to date (time.time_ns())
        self._stories_lock = threading.Lock()
        self.sources = SourceLog(settings.data_dir)  # what `reindex --from-sources` reads
        if not self.sources.path.exists():  # a store from before the log: its articles, once
            self.sources.stored(store.article_summaries())

    def add_paths(
        self,
        paths: Iterable[Path],
        on_outcome: Callable[[IngestOutcome], None] | None = None,
        library: str = DEFAULT_LIBRARY,
    ) -> IngestReport:
        """Every supported file under ``paths``; a file that fails is reported and skipped.

        Articles are embedded and written :data:`WRITE_BATCH` at a time (one embedding call and
        one store write cost about as much for one small article as for many), each still all or
        nothing; an outcome is reported once its article is written. An embedder or store error
        stops the run: the batches written before it stay, the one it hit is not written.
        """
        report = IngestReport()
        stored = {article.article_id: article for article in self.store.article_summaries()}
        known = Stories(stored.values())  # what a new one may repeat, this run's too
        pending: list[_Chunked] = []
        this_run: set[str] = set()

        def tell(outcome: IngestOutcome) -> None:
            report.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        def write() -> None:
            for outcome in self._write(pending):
                tell(outcome)
            pending.clear()

        for path in find_articles(paths, self._limits.follow_symlinks):
            article = self._read(path)
            if isinstance(article, IngestOutcome):
                tell(article)
                continue
            written = article.article_id in this_run  # stored by this run: whole, or failed
            existing = stored.get(article.article_id)
            prepared = self._prepare(article, existing, known, library, written)
            if isinstance(prepared, _Chunked):
                pending.append(prepared)
                stored[prepared.article.article_id] = prepared.article
                this_run.add(prepared.article.article_id)
                known.add(prepared.article)
                if len(pending) >= WRITE_BATCH:
                    write()
                continue
            if isinstance(prepared, _Repeat) and pending:
                write()  # its original may be waiting to be written
            tell(self._finish(prepared))
        if pending:
            write()
        return report

    def add_document(
        self, path: Path, source: str | None = None, library: str = DEFAULT_LIBRARY
    ) -> IngestOutcome:
        """The article in the file at ``path`` (``source``: what to call it instead of the path)."""
        article = self._read(path, source)
        if isinstance(article, IngestOutcome):
            return article
        return self.add_article(article, library)

    def _read(self, path: Path, source: str | None = None) -> Article | IngestOutcome:
        return _parsed(source or str(path), lambda: read_article(path, source, self._limits))

    def add_url(
        self, url: str, library: str = DEFAULT_LIBRARY, published: str = ""
    ) -> IngestOutcome:
        """Fetch, extract and store the article at ``url`` (``published``: its day, as a feed
        entry gives it, for a page that does not say)."""
        article = _parsed(url, lambda: article_from_url(url, self._fetcher, self._limits))
        if isinstance(article, IngestOutcome):
            return article
        return self.add_article(replace(article, published=article.published or published), library)

    def add_feed(
        self, feed: Feed, on_outcome: Callable[[IngestOutcome], None] | None = None
    ) -> list[IngestOutcome]:
        """The new entries of ``feed`` (into its library); raises SourceError when the feed
        itself is unreadable."""

        def add_entry(url: str, published: str) -> IngestOutcome:
            outcome = self.add_url(url, feed.library, published)
            if on_outcome is not None:
                on_outcome(outcome)
            return outcome

        return poll_feed(feed, self._fetcher, add_entry)

    def add_article(self, article: Article, library: str = DEFAULT_LIBRARY) -> IngestOutcome:
        """Store one article unless the store already holds this exact content or this story.

        Another copy of a stored story (same text, or MinHash similarity at least
        ``dedup.near_duplicate_threshold``) is recorded as a duplicate of it, without chunks of
        its own.
        """
        with self._stories_lock:
            existing = self.store.get_article(article.article_id)
            prepared = self._prepare(article, existing, self._known_stories(), library)
            if isinstance(prepared, _Repeat) and not self.store.get_article(
                prepared.original.article_id
            ):  # its original was removed since it was read: read the stories again
                self._stories = None
                prepared = self._prepare(article, existing, self._known_stories(), library)
        if isinstance(prepared, _Chunked):
            [outcome] = self._write([prepared])
            return outcome
        return self._finish(prepared)

    def remove(self, article_id: str, library: str | None = None) -> Article:
        """Delete an article and its chunks, or (``library``) take it out of that library only:
        an article in no library is deleted. Returns the article as it was."""
        if library is not None:
            article = self.store.get_article(article_id)
            if article is not None and library in article.libraries:
                kept = tuple(name for name in article.libraries if name != library)
                if kept:
                    self.sources.stored([self.store.set_libraries(article, kept)])
                    return article
            elif article is not None:
                raise ArticleNotFoundError(
                    f"Article '{article_id}' is not in the {library} library (it is in "
                    f"{', '.join(article.libraries)})"
                )
        removed = self.store.remove_article(article_id)
        self.sources.removed(article_id)
        return removed

    def reindex(self, on_article: Callable[[Article], None] | None = None) -> int:
        """Re-chunk and re-embed every stored article with the configured model and chunk sizes."""
        articles = self.store.articles()

        def batches() -> Iterator[tuple[Sequence[Chunk], Sequence[Vector]]]:
            for article in articles:
                chunks = self._chunks(article)
                yield chunks, self.embedder.embed_documents([chunk.text for chunk in chunks])
                if on_article is not None:
                    on_article(article)

        self.store.replace_all_chunks(self.embedder.fingerprint, batches())
        return len(articles)

    def _known_stories(self) -> Stories:
        """Every stored story: read once by this ingestor (a feed watcher, the bot), then only
        the articles written since (by article revision), not the whole store every time."""
        looking = time.time_ns()
        if self._stories is None:
            self._stories = Stories(self.store.article_summaries())
        else:
            for stored in self.store.articles_since(self._stories_at - LATE_WRITE_NS):
                self._stories.add(stored)
        self._stories_at = looking
        return self._stories

    def _prepare(
        self,
        article: Article,
        existing: Article | None,
        known: Stories,
        library: str,
        written: bool = False,
    ) -> _Chunked | _Repeat | IngestOutcome:
        """What storing ``article`` in ``library`` takes: nothing (unchanged, or only joining the
        library), a duplicate record, or chunks (``existing``: the stored version of its id, its
        metadata is enough; ``written``: by this run, so its chunks need no count)."""
        kept = existing.libraries if existing is not None else ()
        article = replace(article, libraries=tuple(dict.fromkeys((*kept, library))))
        if existing is not None and existing.content_hash == article.content_hash:
            if library not in existing.libraries:
                existing = self.store.set_libraries(existing, article.libraries)
                self.sources.stored([existing])
            if existing.duplicate_of:
                return _outcome(existing, "duplicate", 0)
            if written or self.store.holds_chunks_of(existing):
                return _outcome(existing, "unchanged", existing.chunk_count)
            # its record was written but its chunks were not all kept (a disk that filled
            # under Chroma): write it again rather than call it unchanged
            log.info("%s: its stored chunks are incomplete; storing it again", article.source)
        article = replace(article, signature=signature(article.text))
        found = known.nearest(article, self._near_duplicate)
        if found is not None:
            original, score = found
            return _Repeat(replace(article, duplicate_of=original.article_id), original, score)
        return _Chunked(article, self._chunks(article), "added" if existing is None else "updated")

    def _write(self, batch: Sequence[_Chunked]) -> list[IngestOutcome]:
        """Embeds the batch's chunks in one call and writes its articles in one store write."""
        texts = [chunk.text for chunked in batch for chunk in chunked.chunks]
        vectors = iter(self.embedder.embed_documents(texts))
        entries = [(c.article, c.chunks, [next(vectors) for _ in c.chunks]) for c in batch]
        self.store.put_articles(entries)
        self.sources.stored(c.article for c in batch)
        for chunked in batch:
            log.info("%s %s", chunked.status, chunked.article.article_id)
        return [_outcome(c.article, c.status, len(c.chunks)) for c in batch]

    def _finish(self, prepared: _Repeat | IngestOutcome) -> IngestOutcome:
        """Writes a duplicate's record; an outcome of nothing to write passes through."""
        if isinstance(prepared, IngestOutcome):
            log.info("%s %s", prepared.status, prepared.article_id)
            return prepared
        article, original = prepared.article, prepared.original
        self.store.put_duplicate(article)
        self.sources.stored([article])
        log.info("%s repeats %s (similarity %.2f)", article.article_id, original.article_id,
                 prepared.score)  # fmt: skip
        outcome = _outcome(article, "duplicate", 0)
        return replace(outcome, reason=f"same story as {original.title} ({original.source})")

    def _chunks(self, article: Article) -> list[Chunk]:
        chunking = self._chunking
        return chunk_article(
            article, chunking.chunk_size, chunking.chunk_overlap, self.embedder.count_tokens
        )


@dataclass(frozen=True)
class _Chunked:
    """An article chunked, to be embedded and written."""

    article: Article
    chunks: list[Chunk]
    status: Status  # "added" or "updated", once written


@dataclass(frozen=True)
class _Repeat:
    """An article that repeats a stored story: recorded as its duplicate, no chunks."""

    article: Article
    original: Article
    score: float


def _parsed(source: str, parse: Callable[[], Article]) -> Article | IngestOutcome:
    """The boundary around every parser: whatever one raises fails this source alone.

    Reading, fetching and extracting only ever fail the source at hand (a damaged PDF, a page in
    an unknown charset, a parser's own bug), so any exception becomes a failed outcome naming
    it; storing and embedding are outside, and their errors still stop the run.
    """
    try:
        return parse()
    except SourceError as exc:
        reason = str(exc)
    except Exception as exc:
        log.info("could not read %s", source, exc_info=True)
        reason = f"{source}: could not be read ({type(exc).__name__}: {exc})"
    return IngestOutcome(source=source, status="failed", reason=" ".join(reason.split()))


def _outcome(article: Article, status: Status, chunks: int) -> IngestOutcome:
    return IngestOutcome(
        source=article.source,
        status=status,
        article_id=article.article_id,
        title=article.title,
        chunks=chunks,
    )
