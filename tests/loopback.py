"""Loopback servers for tests and benchmarks: a test's HTTP handler in a background thread, and
a real Chroma server from the chromadb package's own CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

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
