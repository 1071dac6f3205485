"""The write path: files → articles → chunks → embeddings → store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from config.errors import SourceError
from config.settings import ChunkingSettings
from ingest.chunking import chunk_article
from ingest.dedup import nearest_story, signature
from ingest.embedding import Embedder, Vector
from ingest.fetching import Fetcher
from ingest.reading import find_articles, read_article
from ingest.schema import Article, Chunk
from ingest.store import ChromaStore
from ingest.web import article_from_url

log = logging.getLogger(__name__)

Status = Literal["added", "updated", "unchanged", "duplicate", "failed"]


@dataclass(frozen=True)
class IngestOutcome:
    source: str
    status: Status
    article_id: str = ""
    title: str = ""
    chunks: int = 0
    reason: str = ""  # why it failed, or which article it repeats


@dataclass
class IngestReport:
    outcomes: list[IngestOutcome] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def failed(self) -> list[IngestOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]

    def summary(self) -> str:
        statuses: tuple[Status, ...] = ("added", "updated", "unchanged", "failed")
        counts = [f"{self.count(status)} {status}" for status in statuses]
        if duplicates := self.count("duplicate"):
            counts.insert(3, f"{duplicates} merged as duplicates")
        return ", ".join(counts)


def ingest_files(
    paths: Iterable[Path],
    store: ChromaStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    on_outcome: Callable[[IngestOutcome], None] | None = None,
    *,
    near_duplicate_threshold: float = 1.0,
) -> IngestReport:
    """Ingest every supported file under ``paths``; a file that fails is reported and skipped.

    Each article is stored all or nothing. Errors of the embedder (e.g. Ollama down) stop the run:
    every remaining file would fail the same way.
    """
    store.prune_stale_chunks()
    report = IngestReport()
    for path in find_articles(paths):
        try:
            article = read_article(path)
            outcome = ingest_article(article, store, embedder, chunking, near_duplicate_threshold)
        except SourceError as exc:
            outcome = IngestOutcome(source=str(path), status="failed", reason=str(exc))
        report.outcomes.append(outcome)
        log.info(
            "%s %s (%d chunks)",
            outcome.status,
            outcome.article_id or outcome.source,
            outcome.chunks,
        )
        if on_outcome is not None:
            on_outcome(outcome)
    return report


def ingest_article(
    article: Article,
    store: ChromaStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    near_duplicate_threshold: float = 1.0,
) -> IngestOutcome:
    """Store one article unless the store already holds this exact content or this story.

    Another copy of a stored story (same text, or MinHash similarity at least
    ``near_duplicate_threshold``) is recorded as a duplicate of it, without chunks of its own.
    """
    existing = store.get_article(article.article_id)
    if existing is not None and existing.content_hash == article.content_hash:
        return _outcome(existing, "duplicate" if existing.duplicate_of else "unchanged",
                        existing.chunk_count)  # fmt: skip
    article = replace(article, signature=signature(article.text))
    found = nearest_story(article, store.article_summaries(), near_duplicate_threshold)
    if found is not None:
        original, score = found
        store.put_duplicate(replace(article, duplicate_of=original.article_id))
        log.info("%s repeats %s (similarity %.2f)", article.article_id, original.article_id, score)
        outcome = _outcome(article, "duplicate", 0)
        return replace(outcome, reason=f"same story as {original.title} ({original.source})")
    chunks, embeddings = embed_article(article, embedder, chunking)
    store.put_article(article, chunks, embeddings)
    return _outcome(article, "added" if existing is None else "updated", len(chunks))


def ingest_url(
    url: str,
    fetcher: Fetcher,
    store: ChromaStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    *,
    near_duplicate_threshold: float = 1.0,
) -> IngestOutcome:
    """Fetch, extract and store the article at ``url``; a failure is an outcome, not an error."""
    try:
        article = article_from_url(url, fetcher)
    except SourceError as exc:
        return IngestOutcome(source=url, status="failed", reason=str(exc))
    outcome = ingest_article(article, store, embedder, chunking, near_duplicate_threshold)
    log.info("%s %s (%d chunks)", outcome.status, outcome.article_id, outcome.chunks)
    return outcome


def embed_article(
    article: Article, embedder: Embedder, chunking: ChunkingSettings
) -> tuple[list[Chunk], list[Vector]]:
    chunks = chunk_article(article, chunking.chunk_size, chunking.chunk_overlap)
    return chunks, embedder.embed_documents([chunk.text for chunk in chunks])


def reindex(
    store: ChromaStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    on_article: Callable[[Article], None] | None = None,
) -> int:
    """Re-chunk and re-embed every stored article with the configured model and chunk sizes."""
    articles = store.articles()

    def batches() -> Iterator[tuple[Sequence[Chunk], Sequence[Vector]]]:
        for article in articles:
            yield embed_article(article, embedder, chunking)
            if on_article is not None:
                on_article(article)

    store.replace_all_chunks(embedder.fingerprint, batches())
    return len(articles)


def _outcome(article: Article, status: Status, chunks: int) -> IngestOutcome:
    return IngestOutcome(
        source=article.source,
        status=status,
        article_id=article.article_id,
        title=article.title,
        chunks=chunks,
    )
