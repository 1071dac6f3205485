"""Answers written by a chat model that Ollama serves (``llm.backend = "ollama"``)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bot.generation import ChatMessage
from config.errors import BackendError
from config.settings import LlmSettings
from ingest.ollama_api import OllamaAPI

log = logging.getLogger(__name__)

# Ollama's tokenizers average about four characters of English per token; budget with three so
# an estimate never undercounts a prompt into silent truncation.
CHARS_PER_TOKEN = 3
# Ollama reports what it evaluated after cutting a prompt; far fewer tokens than the prompt has
# (by at least this factor) means it was cut. Cached prompt prefixes lower the count a little too.
TRUNCATION_FACTOR = 1.5


class OllamaGenerator:
    """A pulled Ollama model, loaded before the first question and kept warm.

    The first request after a (possible) unload waits ``llm.load_timeout_seconds`` for the model to
    load; requests while it is loaded wait ``ollama.timeout_seconds``.
    """

    backend = "ollama"

    def __init__(self, api: OllamaAPI, settings: LlmSettings) -> None:
        self._api = api
        self._settings = settings
        self._model = settings.model
        self._context_tokens = settings.num_ctx
        self._cold_client = api.client_with_timeout(settings.load_timeout_seconds)
        self._keep_alive_seconds = _seconds(settings.keep_alive)
        self._loaded_until = 0.0

    @property
    def description(self) -> str:
        return f"ollama ({self._model} at {self._api.url})"

    @property
    def context_tokens(self) -> int:
        return self._context_tokens

    def prepare(self) -> None:
        """Checks the model is pulled, fits ``num_ctx`` to it, and loads it."""
        if self._model not in self._api.model_names():
            raise BackendError(
                f"Ollama at {self._api.url} has no model '{self._model}' — "
                f"run `ollama pull {self._model}`"
            )
        trained = self._api.trained_context(self._model)
        if trained is not None and trained < self._context_tokens:
            log.warning(
                "llm.num_ctx=%d is more than %s was trained for; using %d",
                self._context_tokens,
                self._model,
                trained,
            )
            self._context_tokens = trained
        timeout = self._settings.load_timeout_seconds
        with self._api.errors(self._model, "the request to load the model", timeout):
            self._cold_client.chat(model=self._model, messages=[], keep_alive=self._keep_alive())
        self._loaded_until = time.monotonic() + self._keep_alive_seconds

    def count_tokens(self, text: str) -> int:
        return len(text) // CHARS_PER_TOKEN + 1

    def generate(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        schema: Mapping[str, Any] | None = None,
    ) -> Iterator[str]:
        warm = time.monotonic() < self._loaded_until
        client = self._api.client if warm else self._cold_client
        timeout = self._api.timeout if warm else self._settings.load_timeout_seconds
        options = {
            "num_ctx": self._context_tokens,
            "num_predict": max_tokens,
            "temperature": self._settings.temperature,
        }
        with self._api.errors(self._model, "a chat request", timeout):
            parts = client.chat(
                model=self._model,
                messages=[dict(message) for message in messages],
                stream=True,
                format=dict(schema) if schema else None,  # Ollama decodes to fit the schema
                options=options,
                keep_alive=self._keep_alive(),
            )
            for part in parts:
                if part.message.content:
                    yield part.message.content
                if part.done:
                    self._check_truncation(messages, part.prompt_eval_count)
        self._loaded_until = time.monotonic() + self._keep_alive_seconds

    def _keep_alive(self) -> str | float:
        keep_alive = self._settings.keep_alive
        return float(keep_alive) if re.fullmatch(r"-?\d+(\.\d+)?", keep_alive) else keep_alive

    def _check_truncation(self, messages: Sequence[ChatMessage], evaluated: int | None) -> None:
        sent = sum(len(message["content"]) for message in messages) // 4
        if evaluated and sent > TRUNCATION_FACTOR * evaluated:
            log.warning(
                "Ollama cut the prompt to fit its context: it read %d tokens of about %d — "
                "raise llm.num_ctx (now %d)",
                evaluated,
                sent,
                self._context_tokens,
            )


def _seconds(duration: str) -> float:
    """Seconds in an Ollama ``keep_alive`` ("30m", "1h", "90", "-1" for ever); 0 if unreadable."""
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)([smh]?)", duration.strip())
    if match is None:
        return 0.0
    value = float(match.group(1))
    if value < 0:
        return float("inf")
    return value * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
