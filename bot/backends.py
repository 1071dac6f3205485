"""Which LLM writes the answers: ``llm.backend``; ``auto`` is the OpenAI-compatible server of
``openai.base_url`` when one is set and lists the model, else Ollama when it has the model, else
extractive answers.

``auto`` never picks the embedded model: the only one a pip install can bring, Gemma 3 270M base,
answered 0.35 of the SQuAD sample's answerable questions with the gold answer in a quote for 0.18,
against 0.97 / 0.84 for extractive answers (issue 14; ``python -m benchmarks.llm_answers``), so
installing it must not make answers worse. It answers only when chosen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.generation import Generator
from bot.llamacpp_generator import LlamaCppGenerator, model_file
from bot.ollama_generator import OllamaGenerator
from bot.openai_api import OpenAIAPI
from bot.openai_generator import OpenAIGenerator
from bot.server_pool import ServerPool
from config.errors import BackendError
from config.settings import Settings, server_urls
from ingest.ollama_api import OllamaAPI, not_reachable

log = logging.getLogger(__name__)

# auto only asks Ollama whether it is there for this long; a chosen Ollama gets the full timeouts.
PROBE_SECONDS = 3.0
EMBEDDED_ONLY_WHEN_CHOSEN = "the embedded model answers only when chosen (llm.backend=embedded)"


@dataclass(frozen=True)
class BackendChoice:
    """The generator to use (None: extractive answers) and one line saying which and why."""

    generator: Generator | None
    summary: str


EXTRACTIVE = BackendChoice(None, "answering with extractive sentences (llm.backend=extractive)")


def backend_of(generator: Generator | None) -> BackendChoice:
    """The choice of an LLM built elsewhere (a benchmark's, a test's); None: extractive."""
    return EXTRACTIVE if generator is None else _chosen(generator)


def choose_backend(settings: Settings) -> BackendChoice:
    backend = settings.llm.backend
    if backend == "extractive":
        return EXTRACTIVE
    if backend == "ollama":
        return _chosen(_ollama(settings))
    if backend == "openai":
        return _chosen(openai_generator(settings))
    if backend == "embedded":
        return _chosen(_embedded(settings))
    reasons = []
    if settings.openai.base_url:
        try:
            return _chosen(openai_generator(settings, PROBE_SECONDS))
        except BackendError as exc:
            reasons.append(str(exc).split(" — ")[0])
    probe = OllamaAPI(server_urls(settings.ollama.url)[0], PROBE_SECONDS)
    try:
        if not probe.reachable():
            raise BackendError(not_reachable(probe.url))
        if settings.llm.model in probe.model_names():
            return _chosen(_ollama(settings))
        reasons.append(f"Ollama at {probe.url} has no model '{settings.llm.model}'")
    except BackendError as exc:
        reasons.append(str(exc).split(" — ")[0])
    reasons.append(EMBEDDED_ONLY_WHEN_CHOSEN)
    return BackendChoice(None, "answering with extractive sentences: " + "; ".join(reasons))


def _chosen(generator: Generator) -> BackendChoice:
    return BackendChoice(generator, f"answering with {generator.description}")


def _ollama(settings: Settings) -> OllamaGenerator:
    ollama = settings.ollama
    generator = OllamaGenerator(
        [OllamaAPI(url, ollama.timeout_seconds) for url in server_urls(ollama.url)], settings.llm
    )
    generator.prepare()
    return generator


def openai_generator(settings: Settings, timeout: float | None = None) -> OpenAIGenerator:
    """The ``openai`` backend over every server of ``openai.base_url``, checked for the model
    (``timeout``: for that check; a chosen server gets ``openai.timeout_seconds``)."""
    openai = settings.openai
    if not openai.base_url:
        raise BackendError(
            "llm.backend is openai but openai.base_url is empty — set it to the server's API "
            "address, e.g. INQUOTE_OPENAI__BASE_URL=http://localhost:8000/v1"
        )
    key = openai.api_key.get_secret_value()
    servers = [OpenAIAPI(url, key, openai.timeout_seconds) for url in server_urls(openai.base_url)]
    generator = OpenAIGenerator(ServerPool(servers), settings.llm)
    generator.prepare(timeout)
    return generator


def _embedded(settings: Settings) -> LlamaCppGenerator:
    return LlamaCppGenerator(model_file(settings.llm, settings.data_dir), settings.llm)
