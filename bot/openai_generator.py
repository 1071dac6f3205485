"""Answers written by a chat model an OpenAI-compatible server serves (``llm.backend = "openai"``).

The answer schema goes as ``response_format`` ``json_schema`` with ``strict``: the server decodes
to fit it, as Ollama does with ``format``. A server that refuses that format (llama-cpp-python's
takes ``json_object`` with a ``schema`` instead) is asked for ``json_object`` with the schema
beside it, said once; whatever it writes is then held to the schema by the verifier, which keeps
only well-formed claims whose quotes it finds in the articles.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bot.generation import CHARS_PER_TOKEN, ChatMessage
from bot.openai_api import OpenAIAPI, SchemaRefused
from bot.server_pool import ServerPool
from config.errors import BackendError
from config.settings import LlmSettings

log = logging.getLogger(__name__)


class OpenAIGenerator:
    backend = "openai"

    def __init__(self, pool: ServerPool[OpenAIAPI], settings: LlmSettings) -> None:
        self._pool = pool
        self._settings = settings
        self._json_schema = True  # until a server refuses it

    @property
    def description(self) -> str:
        urls = ", ".join(server.url for server in self._pool.servers)
        return f"openai ({self._settings.model} at {urls})"

    @property
    def context_tokens(self) -> int:
        return self._settings.num_ctx

    @property
    def capacity(self) -> int:
        return self._pool.capacity

    def prepare(self, timeout: float | None = None) -> None:
        """Checks that some server of the pool lists the model (those that don't are named);
        ``timeout``: a quick probe's, for each server."""
        model = self._settings.model
        problems = []
        for server in self._pool.servers:
            try:
                listed = server.model_ids(timeout)
            except BackendError as exc:
                problems.append(str(exc))
                continue
            if model in listed:
                return
            shown = ", ".join(sorted(listed)[:5]) or "none"
            problems.append(
                f"The server at {server.url} has no model '{model}' (it lists {shown}) — "
                "set llm.model to one it lists"
            )
        raise BackendError("; ".join(problems))

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
        server: OpenAIAPI,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        schema: Mapping[str, Any] | None,
    ) -> Iterator[str]:
        body: dict[str, Any] = {
            "model": self._settings.model,
            "messages": [dict(message) for message in messages],
            "max_tokens": max_tokens,
            "temperature": self._settings.temperature,
            "stream": True,
        }
        if schema is None:
            yield from server.chat(body)
            return
        if self._json_schema:
            strict = {"name": "answer", "schema": dict(schema), "strict": True}
            try:
                yield from server.chat(
                    {**body, "response_format": {"type": "json_schema", "json_schema": strict}}
                )
                return
            except SchemaRefused:
                self._json_schema = False
                log.warning(
                    "%s does not take a json_schema response format: asking for json_object "
                    "with the schema beside it; the verifier keeps only well-formed claims",
                    server.url,
                )
        format_ = {"type": "json_object", "schema": dict(schema)}
        yield from server.chat({**body, "response_format": format_})
