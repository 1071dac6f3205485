"""A loopback HTTP server that speaks the part of Ollama's REST protocol inquote uses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import FakeEmbedder


@dataclass
class FakeOllama:
    """Scripted Ollama: serves ``models``; ``status`` forces an error status on every request."""

    models: dict[str, FakeEmbedder] = field(default_factory=dict)
    status: int | None = None
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.requests.append((path, body))
        if self.status is not None:
            return self.status, {"error": "server busy"}
        if path == "/api/tags":
            return 200, {"models": [{"name": name, "model": name} for name in self.models]}
        if path == "/api/embed":
            model = self.models.get(body.get("model", ""))
            if model is None:
                return 404, {
                    "error": f'model "{body.get("model")}" not found, try pulling it first'
                }
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            return 200, {"model": body["model"], "embeddings": model.embed_documents(texts)}
        return 404, {"error": "404 page not found"}


@contextmanager
def serve(fake: FakeOllama) -> Iterator[FakeOllama]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(*fake.answer(self.path, {}))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            self._reply(*fake.answer(self.path, json.loads(self.rfile.read(length) or b"{}")))

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
