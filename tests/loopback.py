"""Loopback servers for tests and benchmarks: a test's HTTP handler in a background thread, and
a real Chroma server from the chromadb package's own CLI."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import httpx


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[str]:
    """Serves ``handler`` until the block ends; yields the base URL."""
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    # A short poll interval: shutdown() waits for the next poll, and tests start many servers.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# A fake API: (path, JSON body, lower-cased headers) → (status, reply, extra headers). A reply
# that is a list is streamed, one framed part at a time; a str is an HTML page; else JSON.
Api = Callable[[str, dict[str, Any], dict[str, str]], tuple[int, Any, dict[str, str]]]


def json_api(
    answer: Api, stream_type: str, frame: Callable[[Any], bytes], end: bytes = b""
) -> type[BaseHTTPRequestHandler]:
    """A handler for a JSON API whose streamed replies are ``stream_type``, each part written as
    ``frame`` makes it and flushed, then ``end``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(*answer(self.path, {}, self._headers()))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            self._reply(*answer(self.path, body, self._headers()))

        def _headers(self) -> dict[str, str]:
            return {name.lower(): value for name, value in self.headers.items()}

        def _reply(self, status: int, body: Any, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if isinstance(body, list):
                self.send_header("Content-Type", stream_type)
                self.end_headers()
                for part in body:
                    self.wfile.write(frame(part))
                    self.wfile.flush()
                self.wfile.write(end)
                return
            is_text = isinstance(body, str)
            data = body.encode() if is_text else json.dumps(body).encode()
            self.send_header("Content-Type", "text/html" if is_text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ChromaServer(NamedTuple):
    port: int
    pid: int


@contextmanager
def chroma_server(folder: Path, start_seconds: float = 60) -> Iterator[ChromaServer]:
    """``chroma run`` on ``folder`` at a free loopback port, answering its heartbeat, until the
    block ends; fails if it does not answer within ``start_seconds``."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    command = [
        str(chroma),
        "run",
        "--path",
        str(folder),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + start_seconds
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("the Chroma server did not start")
        yield ChromaServer(port, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)


def server_env(port: int) -> dict[str, str]:
    """The settings that point inquote at a Chroma server on ``port``."""
    return {
        "INQUOTE_STORE__MODE": "server",
        "INQUOTE_STORE__HOST": "127.0.0.1",
        "INQUOTE_STORE__PORT": str(port),
    }
