"""A loopback server speaking the part of the OpenAI chat-completions API inquote uses, as strict
as the servers it stands for: an API key when it has one (401 otherwise), a known model (404),
``response_format`` ``json_schema`` decoded to fit (a scripted reply the schema refuses fails the
test) or refused the way llama-cpp-python's server refuses it (500 naming the format), replies
streamed as server-sent events ending in ``[DONE]``. Every request is recorded with its headers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.generation import CHARS_PER_TOKEN
from tests.conftest import NOT_ANSWERED_JSON, decoded
from tests.fake_ollama import Reply
from tests.loopback import json_api, serving


@dataclass
class FakeOpenAI:
    models: dict[str, list[Reply]] = field(default_factory=dict)
    api_key: str = ""
    refuse_json_schema: bool = False
    status: int | None = None  # forced on every request
    retry_after: str = ""
    not_json: bool = False  # answers like a web page, not an API
    reply_seconds: float = 0.0
    streams: bool = True  # False: the whole completion as one JSON object, as some servers do
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    url: str = ""
    most_at_once: int = 0
    _at_once: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def chats(self) -> list[dict[str, Any]]:
        return [body for path, body, _ in self.requests if path == "/v1/chat/completions"]

    def answer(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append((path, body, headers))
        if self.not_json:
            return 200, "<html><body>Welcome to nginx!</body></html>", {}
        if self.status is not None:
            extra = {"Retry-After": self.retry_after} if self.retry_after else {}
            return self.status, _error("the server is overloaded", "server_error"), extra
        if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, _error("Incorrect API key provided", "invalid_request_error"), {}
        if path == "/v1/models":
            listed = [{"id": name, "object": "model", "owned_by": "me"} for name in self.models]
            return 200, {"object": "list", "data": listed}, {}
        if path == "/v1/chat/completions":
            return self._chat(body)
        return 404, _error(f"no route {path}", "invalid_request_error"), {}

    def _chat(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        script = self.models.get(body.get("model", ""))
        if script is None:
            return 404, _error(f"The model `{body.get('model')}` does not exist", "model"), {}
        response_format = body.get("response_format") or {"type": "text"}
        kind = response_format.get("type")
        if kind == "json_schema" and self.refuse_json_schema:
            message = "Input should be 'text' or 'json_object' (input: 'json_schema')"
            return 500, _error(message, "internal_server_error"), {}
        schema = (
            response_format["json_schema"]["schema"]
            if kind == "json_schema" and response_format["json_schema"].get("strict")
            else None
        )
        reply = script.pop(0) if script else NOT_ANSWERED_JSON
        written = reply(body["messages"]) if callable(reply) else reply
        max_chars = CHARS_PER_TOKEN * int(body.get("max_tokens") or 10**6)
        try:
            text = decoded(written, schema, max_chars)
        except AssertionError as exc:  # the test scripted what no constrained model could write
            return 500, _error(str(exc), "server_error"), {}
        with self._lock:
            self._at_once += 1
            self.most_at_once = max(self.most_at_once, self._at_once)
        time.sleep(self.reply_seconds)
        with self._lock:
            self._at_once -= 1
        if not self.streams:
            whole = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": whole, "finish_reason": "stop"}
            return 200, {"id": "chatcmpl-1", "object": "chat.completion", "choices": [choice]}, {}
        chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body["model"]}
        events = [
            {**chunk, "choices": [{"index": 0, "delta": {"content": text[i : i + 7]}}]}
            for i in range(0, len(text), 7)
        ]
        events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        return 200, events, {}


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@contextmanager
def serve(fake: FakeOpenAI) -> Iterator[FakeOpenAI]:
    def event(part: Any) -> bytes:  # server-sent events, ended by [DONE]
        return b"data: " + json.dumps(part).encode() + b"\n\n"

    with serving(json_api(fake.answer, "text/event-stream", event, b"data: [DONE]\n\n")) as url:
        fake.url = url
        yield fake
