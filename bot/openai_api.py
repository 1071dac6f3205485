"""One OpenAI-compatible chat server (vLLM, llama.cpp's ``llama-server``, LM Studio, LocalAI,
text-generation-inference, Ollama under ``/v1``), spoken to with httpx: its models, and a chat
completion streamed as server-sent events. Every failure is one :class:`BackendError` that says
what to do.

httpx, not the ``openai`` package: two endpoints need no SDK, and httpx is imported already.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import httpx

from config.errors import BackendError

log = logging.getLogger(__name__)


class SchemaRefused(BackendError):
    """The server does not take a ``json_schema`` response format."""


def not_reachable(url: str) -> str:
    return (
        f"No OpenAI-compatible server is reachable at {url} — start it (e.g. "
        "`python -m llama_cpp.server --model FILE.gguf`, `vllm serve MODEL`) or fix openai.base_url"
    )


class OpenAIAPI:
    """One server. A connection per request: one more round trip beside seconds of generation,
    and no pooled socket left open when the process is done with the backend."""

    def __init__(self, url: str, api_key: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _client(self, timeout: float | None = None) -> httpx.Client:
        seconds = timeout or self.timeout
        return httpx.Client(
            base_url=self.url,
            headers=self._headers,
            timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)),
        )

    def model_ids(self, timeout: float | None = None) -> set[str]:
        """The models the server lists at ``/models`` (``timeout``: a quick probe's)."""
        with self.errors("", "the model list", timeout), self._client(timeout) as client:
            response = client.get("/models")
            self._check(response, "", "the model list")
            listed = _json(response, self.url, "the model list").get("data")
        if not isinstance(listed, list):
            raise BackendError(
                f"The server at {self.url} lists no models at /models — is openai.base_url the "
                "API's address (usually ending in /v1)?"
            )
        return {str(entry.get("id")) for entry in listed if isinstance(entry, dict)}

    def chat(self, body: Mapping[str, Any]) -> Iterator[str]:
        """The reply's text, piece by piece, as the server streams it (``body`` asks to)."""
        model = str(body.get("model", ""))
        with (
            self.errors(model, "a chat request"),
            self._client() as client,
            client.stream("POST", "/chat/completions", json=dict(body)) as response,
        ):
            if response.status_code >= HTTPStatus.BAD_REQUEST:
                response.read()
                if _refuses_schema(response):
                    raise SchemaRefused(f"{self.url} refused a json_schema response format")
            self._check(response, model, "a chat request")
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                yield _whole_reply(response, self.url)  # a server that does not stream
                return
            for line in response.iter_lines():
                data = line.removeprefix("data:").strip() if line.startswith("data:") else ""
                if not data or data == "[DONE]":
                    continue
                try:
                    event = json.loads(data)
                except json.JSONDecodeError as exc:
                    raise _not_json(self.url, "a chat request") from exc
                for choice in event.get("choices") or ():
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield str(piece)

    @contextmanager
    def errors(self, model: str, doing: str, timeout: float | None = None) -> Iterator[None]:
        """Turns transport failures into one :class:`BackendError` that says what to do."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise BackendError(
                f"The server at {self.url} did not answer {doing} within "
                f"{timeout or self.timeout:g} s — "
                "raise openai.timeout_seconds"
            ) from exc
        except httpx.TransportError as exc:
            raise BackendError(not_reachable(self.url)) from exc

    def _check(self, response: httpx.Response, model: str, doing: str) -> None:
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST:
            return
        if status in {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}:
            raise BackendError(
                f"The server at {self.url} refused the API key ({status}) — set the right one "
                "in INQUOTE_OPENAI__API_KEY"
            )
        if status == HTTPStatus.NOT_FOUND:
            raise BackendError(
                f"The server at {self.url} has no model '{model}' or no such path ({status}) — "
                f"check llm.model against its /models list, and that openai.base_url ends in /v1"
                if model
                else f"The server at {self.url} has no /models ({status}) — check that "
                "openai.base_url is the API's address, usually ending in /v1"
            )
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            after = response.headers.get("retry-after", "")
            raise BackendError(
                f"The server at {self.url} is limiting requests (429) — try again "
                + (f"in {after} s" if after else "shortly")
            )
        raise BackendError(
            f"The server at {self.url} answered {status} to {doing}: {_message(response)}"
        )


def _json(response: httpx.Response, url: str, doing: str) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError as exc:
        raise _not_json(url, doing) from exc
    if not isinstance(value, dict):
        raise _not_json(url, doing)
    return value


def _whole_reply(response: httpx.Response, url: str) -> str:
    """The text of a chat completion answered in one piece."""
    response.read()
    choices = _json(response, url, "a chat request").get("choices") or [{}]
    return str((choices[0].get("message") or {}).get("content") or "")


def _not_json(url: str, doing: str) -> BackendError:
    return BackendError(
        f"The server at {url} answered {doing} with something that is not JSON — is "
        "openai.base_url the API's address (usually ending in /v1)?"
    )


def _message(response: httpx.Response) -> str:
    """The error a server gave, on one line and short."""
    try:
        error = response.json().get("error")
        text = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        text = response.text
    return " ".join(str(text or response.reason_phrase).split())[:300]


def _refuses_schema(response: httpx.Response) -> bool:
    """Whether an error says the server does not take the ``json_schema`` response format
    (llama-cpp-python's server: 500 "Input should be 'text' or 'json_object'")."""
    text = response.text.lower()
    return "json_schema" in text or ("response_format" in text and "json_object" in text)
