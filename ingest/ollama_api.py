"""Ollama's REST API through the official ``ollama`` client, failing with errors a user can act on.

Both the embedder (write path) and the answer generator (read path) talk to Ollama through
:class:`OllamaAPI`, so a dead server, a missing model or a busy server reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from http import HTTPStatus
from typing import TYPE_CHECKING

import httpx

from config.errors import BackendError

if TYPE_CHECKING:
    import ollama


def not_reachable(url: str) -> str:
    return (
        f"Ollama is not reachable at {url} — start it with `ollama serve` "
        "or `docker compose up -d ollama`"
    )


class OllamaAPI:
    """One Ollama server: a client per timeout, and the translation of its failures.

    The ``ollama`` package is imported when a client is first needed (0.1 s of a cold start that
    would otherwise pay it just to learn that no Ollama runs).
    """

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    @cached_property
    def client(self) -> ollama.Client:
        return self.client_with_timeout(self.timeout)

    def reachable(self) -> bool:
        """Whether anything answers at the URL (asked without the client library)."""
        try:
            httpx.get(self.url, timeout=self.timeout)
        except httpx.HTTPError:
            return False
        return True

    def client_with_timeout(self, read_timeout: float) -> ollama.Client:
        """A client that waits ``read_timeout`` seconds for each piece of a response."""
        import ollama  # noqa: PLC0415

        return ollama.Client(
            host=self.url, timeout=httpx.Timeout(read_timeout, connect=min(read_timeout, 10.0))
        )

    def model_names(self) -> set[str]:
        """Names of the models the server has pulled, with and without their ``:latest`` tag."""
        with self.errors("", "the model list", self.timeout):
            listed = self.client.list().models
        names = {entry.model or "" for entry in listed}
        return names | {name.removesuffix(":latest") for name in names}

    def trained_context(self, model: str) -> int | None:
        """The context length ``model`` was trained for, as ``/api/show`` reports it."""
        with self.errors(model, "a model description", self.timeout):
            info = self.client.show(model).modelinfo or {}
        return next((int(v) for k, v in info.items() if k.endswith(".context_length") and v), None)

    @contextmanager
    def errors(self, model: str, doing: str, timeout: float) -> Iterator[None]:
        """Turns the client's exceptions into one :class:`BackendError` that says what to do."""
        import ollama  # noqa: PLC0415

        try:
            yield
        except ollama.ResponseError as exc:
            if exc.status_code == HTTPStatus.NOT_FOUND and model:
                raise BackendError(
                    f"Ollama at {self.url} has no model '{model}' — run `ollama pull {model}`"
                ) from exc
            busy = exc.status_code == HTTPStatus.SERVICE_UNAVAILABLE
            hint = " — it is busy; try again shortly" if busy else ""
            raise BackendError(
                f"Ollama at {self.url} answered {exc.status_code} to {doing}: {exc.error}{hint}"
            ) from exc
        except httpx.TimeoutException as exc:
            raise BackendError(
                f"Ollama at {self.url} did not answer {doing} within {timeout:g} s — "
                "raise ollama.timeout_seconds (or llm.load_timeout_seconds for cold loads)"
            ) from exc
        except (ConnectionError, httpx.TransportError) as exc:
            raise BackendError(not_reachable(self.url)) from exc
