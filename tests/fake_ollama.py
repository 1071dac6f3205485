"""A loopback HTTP server that speaks the part of Ollama's REST protocol inquote uses.

Embedding models are :class:`FakeEmbedder` s; chat models answer from a script: each entry of
``replies`` is the text of one reply, or a function of the request's messages. Replies stream as
NDJSON in small pieces, like Ollama's. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.generation import CHARS_PER_TOKEN
from tests.conftest import NOT_ANSWERED_JSON, FakeEmbedder, decoded
from tests.loopback import json_api, serving

Reply = str | Callable[[list[dict[str, str]]], str]


@dataclass
class FakeOllama:
    """Scripted Ollama.

    ``status`` forces an error status on every request; ``load_seconds`` delays the first chat
    request, as a cold model load does; ``prompt_eval_count`` overrides the reported prompt size.
    ``reply_seconds`` is how long writing one reply takes; like Ollama with OLLAMA_NUM_PARALLEL,
    at most ``parallel`` replies are written at once and later requests wait their turn.
    ``most_at_once`` records how many were written at once.

    As strict as Ollama where it matters: a reply to a request with a JSON schema in ``format``
    is JSON that schema allows (a script that breaks it fails the test), cut at ``num_predict``
    tokens; ``require_format`` refuses a chat request without a schema.
    """

    models: dict[str, FakeEmbedder] = field(default_factory=dict)
    chat_models: dict[str, list[Reply]] = field(default_factory=dict)
    context_length: int = 8192
    status: int | None = None
    load_seconds: float = 0.0
    prompt_eval_count: int | None = None
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    require_format: bool = False
    reply_seconds: float = 0.0
    parallel: int = 4
    most_at_once: int = 0
    url: str = ""
    _loaded: bool = False
    _at_once: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _writers: threading.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._writers = threading.Semaphore(self.parallel)

    def chats(self) -> list[dict[str, Any]]:
        """Bodies of the chat requests that asked something (not model loads)."""
        return [body for path, body in self.requests if path == "/api/chat" and body["messages"]]

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.requests.append((path, body))
        if self.status is not None:
            return self.status, {"error": "server busy"}
        if path == "/api/tags":
            names = [*self.models, *self.chat_models]
            return 200, {"models": [{"name": name, "model": name} for name in names]}
        if path == "/api/embed":
            model = self.models.get(body.get("model", ""))
            if model is None:
                return _not_found(body)
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            return 200, {"model": body["model"], "embeddings": model.embed_documents(texts)}
        if path == "/api/show":
            if body.get("model") not in self.chat_models:
                return _not_found(body)
            return 200, {"model_info": {"llama.context_length": self.context_length}}
        if path == "/api/chat":
            return self._chat(body)
        return 404, {"error": "404 page not found"}

    def _chat(self, body: dict[str, Any]) -> tuple[int, Any]:
        script = self.chat_models.get(body.get("model", ""))
        if script is None:
            return _not_found(body)
        if not self._loaded:
            time.sleep(self.load_seconds)
            self._loaded = True
        if not body["messages"]:
            return 200, {"model": body["model"], "done": True, "done_reason": "load",
                         "message": {"role": "assistant", "content": ""}}  # fmt: skip
        schema = body.get("format") if isinstance(body.get("format"), dict) else None
        if self.require_format and schema is None:
            return 400, {"error": "this model answers only with a JSON schema in format"}
        reply = script.pop(0) if script else (NOT_ANSWERED_JSON if schema else "")
        written = reply(body["messages"]) if callable(reply) else reply
        num_predict = int(body.get("options", {}).get("num_predict", 10**6))
        try:
            text = decoded(written, schema, CHARS_PER_TOKEN * num_predict)
        except AssertionError as exc:  # the test scripted what no constrained model could write
            return 500, {"error": str(exc)}
        with self._writers:
            with self._lock:
                self._at_once += 1
                self.most_at_once = max(self.most_at_once, self._at_once)
            time.sleep(self.reply_seconds)
            with self._lock:
                self._at_once -= 1
        prompt_size = sum(len(message["content"]) for message in body["messages"]) // 4
        final = {
            "model": body["model"],
            "done": True,
            "done_reason": "stop",
            "message": {"role": "assistant", "content": ""},
            "prompt_eval_count": self.prompt_eval_count or prompt_size,
            "eval_count": len(text.split()),
        }
        if not body.get("stream", True):
            final["message"]["content"] = text
            return 200, final
        pieces = [
            {"model": body["model"], "done": False,
             "message": {"role": "assistant", "content": text[i : i + 7]}}
            for i in range(0, len(text), 7)
        ]  # fmt: skip
        return 200, [*pieces, final]


def _not_found(body: dict[str, Any]) -> tuple[int, dict[str, str]]:
    return 404, {"error": f'model "{body.get("model")}" not found, try pulling it first'}


@contextmanager
def serve(fake: FakeOllama) -> Iterator[FakeOllama]:
    def answer(
        path: str, body: dict[str, Any], _: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        return (*fake.answer(path, body), {})

    def line(part: Any) -> bytes:  # a stream: NDJSON lines
        return json.dumps(part).encode() + b"\n"

    with serving(json_api(answer, "application/x-ndjson", line)) as url:
        fake.url = url
        yield fake
