"""Answers written by a chat model that Ollama serves (``llm.backend = "ollama"``)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bot.generation import CHARS_PER_TOKEN, ChatMessage
from bot.server_pool import ServerPool
from config.errors import BackendError
from config.settings import LlmSettings
from ingest.ollama_api import OllamaAPI

log = logging.getLogger(__name__)

# Ollama reports what it evaluated after cutting a prompt; far fewer tokens than the prompt has
# (by at least this factor) means it was cut. Cached prompt prefixes lower the count a little too.
TRUNCATION_FACTOR = 1.5


class _Server:
    """One Ollama server of the pool, and whether the model is loaded there."""

    def __init__(self, api: OllamaAPI, load_timeout: float) -> None:
        self.api = api
        self.cold_client = api.client_with_timeout(load_timeout)
        self.loaded_until = 0.0


class OllamaGenerator:
    """A pulled Ollama model, loaded before the first question and kept warm, on each server of
    ``ollama.url`` (several make a pool: :class:`bot.server_pool.ServerPool`).

    The first request after a (possible) unload waits ``llm.load_timeout_seconds`` for the model to
    load; requests while it is loaded wait ``ollama.timeout_seconds``.
    """

    backend = "ollama"

    def __init__(self, apis: Sequence[OllamaAPI], settings: LlmSettings) -> None:
        self._settings = settings
        self._model = settings.model
        self._context_tokens = settings.num_ctx
        self._pool = ServerPool([_Server(api, settings.load_timeout_seconds) for api in apis])
        self._keep_alive_seconds = _seconds(settings.keep_alive)

    @property
    def description(self) -> str:
        urls = ", ".join(server.api.url for server in self._pool.servers)
        return f"ollama ({self._model} at {urls})"

    @property
    def context_tokens(self) -> int:
        return self._context_tokens

    @property
    def capacity(self) -> int:
        return self._pool.capacity

    def prepare(self) -> None:
        """Checks each server has the model pulled, fits ``num_ctx`` to it, and loads it; a
        server that can't is named and left to the pool to rest (one that can is enough)."""
        problems = []
        for server in self._pool.servers:
            try:
                self._prepare(server)
            except BackendError as exc:
                problems.append(exc)
        if len(problems) == len(self._pool.servers):
            raise BackendError("; ".join(str(problem) for problem in problems)) from problems[0]
        for problem in problems:
            log.warning("%s; the other servers of the pool answer meanwhile", problem)

    def _prepare(self, server: _Server) -> None:
        api = server.api
        if self._model not in api.model_names():
            raise BackendError(
                f"Ollama at {api.url} has no model '{self._model}' — "
                f"run `ollama pull {self._model}`"
            )
        trained = api.trained_context(self._model)
        if trained is not None and trained < self._context_tokens:
            log.warning(
                "llm.num_ctx=%d is more than %s was trained for; using %d",
                self._context_tokens,
                self._model,
                trained,
            )
            self._context_tokens = trained
        timeout = self._settings.load_timeout_seconds
        with api.errors(self._model, "the request to load the model", timeout):
            server.cold_client.chat(model=self._model, messages=[], keep_alive=self._keep_alive())
        server.loaded_until = time.monotonic() + self._keep_alive_seconds

    def count_tokens(self, text: str) -> int:
        return len(text) // CHARS_PER_TOKEN + 1

    def generate(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        schema: Mapping[str, Any] | None = None,
    ) -> Iterator[str]:
        """The reply from the pool's least busy server (:meth:`ServerPool.stream`)."""
        return self._pool.stream(lambda server: self._pieces(server, messages, max_tokens, schema))

    def _pieces(
        self,
        server: _Server,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        schema: Mapping[str, Any] | None,
    ) -> Iterator[str]:
        api = server.api
        warm = time.monotonic() < server.loaded_until
        client = api.client if warm else server.cold_client
        timeout = api.timeout if warm else self._settings.load_timeout_seconds
        options = {
            "num_ctx": self._context_tokens,
            "num_predict": max_tokens,
            "temperature": self._settings.temperature,
        }
        with api.errors(self._model, "a chat request", timeout):
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
        server.loaded_until = time.monotonic() + self._keep_alive_seconds

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
