"""A loopback fake of the Telegram Bot API: scripted updates in, recorded calls out.

python-telegram-bot talks to it over real HTTP (``telegram.base_url`` points here), so handlers,
PTB's request stack and our formatting are tested together. ``fail`` queues a failure for the
next call of a method: an error reply (status and description, e.g. 429 with ``retry_after``) or a
delay in seconds before the real answer (a timeout, from the client's side). ``hold`` makes every
call of a method hang until the server stops, as a process killed mid-send would see it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.loopback import serving

TOKEN = "123456:TEST-token-never-logged"
BOT_ID = 123456
BOT_USERNAME = "inquote_test_bot"


@dataclass
class FakeTelegram:
    updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    fail: dict[str, list[tuple[int, str, dict[str, Any]] | float]] = field(default_factory=dict)
    hold: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    held: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""
    _next_message_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    def called(self, method: str) -> list[dict[str, Any]]:
        """Parameters of the calls of ``method`` that were answered successfully."""
        return [params for name, params in self.calls if name == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.called(method)) >= count:
                return self.called(method)
            time.sleep(0.05)
        raise AssertionError(f"{method} called {len(self.called(method))} times, not {count}")

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method in self.hold:
            with self._lock:
                self.held.append((method, params))
            self._stopping.wait()
            return 500, {"ok": False, "error_code": 500, "description": "server stopped"}
        with self._lock:
            queued = self.fail.get(method)
            failure = queued.pop(0) if queued else None
        if isinstance(failure, float):
            time.sleep(failure)
        elif failure is not None:
            status, description, parameters = failure
            reply = {"ok": False, "error_code": status, "description": description}
            return status, {**reply, **({"parameters": parameters} if parameters else {})}
        result = self._result(method, params)
        with self._lock:
            self.calls.append((method, params))
        return 200, {"ok": True, "result": result}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "inquote",
                "username": BOT_USERNAME,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method == "getUpdates":
            offset = int(params.get("offset", 0) or 0)
            deadline = time.monotonic() + min(float(params.get("timeout", 0) or 0), 0.5)
            while True:
                with self._lock:
                    ready = [u for u in self.updates if u["update_id"] >= offset]
                if ready or time.monotonic() >= deadline:
                    return ready
                time.sleep(0.05)
        if method in {"sendMessage", "editMessageText"}:
            with self._lock:
                self._next_message_id += 1
                message_id = int(params.get("message_id") or self._next_message_id)
            return {"message_id": message_id, "date": int(time.time()),
                    "chat": {"id": int(params["chat_id"]), "type": "private"},
                    "text": params.get("text", "")}  # fmt: skip
        if method == "getFile":
            file_id = params["file_id"]
            return {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(self.files[file_id]),
                "file_path": f"documents/{file_id}",
            }
        return True


def text_update(
    update_id: int,
    text: str,
    *,
    user_id: int = 42,
    chat_id: int | None = None,
    chat_type: str = "private",
    reply_to: int | None = None,
    entities: list[dict[str, Any]] | None = None,
    document: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An update carrying one message, shaped as the Bot API sends it."""
    chat = {"id": chat_id if chat_id is not None else user_id, "type": chat_type}
    if chat_type != "private":
        chat["title"] = "A group"
    message: dict[str, Any] = {
        "message_id": update_id * 10,
        "date": int(time.time()),
        "chat": chat,
        "from": {"id": user_id, "is_bot": False, "first_name": "Reader"},
    }
    if document is not None:
        message["document"] = document
    else:
        message["text"] = text
    if text.startswith("/") and document is None:
        command = text.split(maxsplit=1)[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    if entities:
        message["entities"] = entities
    if reply_to is not None:
        message["reply_to_message"] = {
            "message_id": reply_to, "date": int(time.time()), "chat": chat,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "inquote"}, "text": "…",
        }  # fmt: skip
    return {"update_id": update_id, "message": message}


@contextmanager
def serve(fake: FakeTelegram) -> Iterator[FakeTelegram]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._route({})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length).decode() if length else ""
            if self.headers.get("Content-Type", "").startswith("application/json"):
                params = json.loads(body or "{}")
            else:
                params = {key: values[-1] for key, values in parse_qs(body).items()}
            self._route(params)

        def _route(self, params: dict[str, Any]) -> None:
            prefix = f"/file/bot{TOKEN}/documents/"
            if unquote(self.path).startswith(prefix):
                data = fake.files[unquote(self.path)[len(prefix) :]]
                self._send(200, data, "application/octet-stream")
                return
            method = self.path.rsplit("/", 1)[-1]
            if not self.path.startswith(f"/bot{TOKEN}/"):
                self._send(401, json.dumps({"ok": False, "error_code": 401,
                                            "description": "Unauthorized"}).encode())  # fmt: skip
                return
            status, reply = fake.answer(method, params)
            self._send(status, json.dumps(reply).encode())

        def _send(self, status: int, data: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)  # a client cancelled a long poll: nothing to deliver

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        fake.url = url
        try:
            yield fake
        finally:
            fake._stopping.set()  # let held requests end, so the server can stop
