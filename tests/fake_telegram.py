"""A loopback fake of the Telegram Bot API: scripted updates in, recorded calls out.

python-telegram-bot talks to it over real HTTP (``telegram.base_url`` points here), so handlers,
PTB's request stack and our formatting are tested together. It is as strict as Telegram where that
matters to a bot: ``getUpdates`` with an ``offset`` confirms every earlier update, which is then
gone for good; an edit needs a message the bot sent and still exists, and new text; a chat in
``blocked`` answers 403 and one in ``missing_chats`` 400 "chat not found".

``fail`` queues a failure for the next call of a method: an error reply (status and description,
e.g. 429 with ``retry_after``) or a delay in seconds before the real answer (a timeout, from the
client's side: the message arrives). ``hold`` maps a method to how many of its calls succeed; the
later ones hang until the server stops, unanswered and undone, as a process killed mid-send would
see them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
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
    hold: dict[str, int] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    missing_chats: set[int] = field(default_factory=set)
    messages: dict[tuple[int, int], str] = field(default_factory=dict)  # the chats' bot messages
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    replied_to: dict[int, int] = field(default_factory=dict)  # bot message -> message it answers
    sent_at: dict[int, float] = field(default_factory=dict)  # bot message -> when it was sent
    changed_at: dict[int, float] = field(default_factory=dict)  # ... and last sent or edited
    held: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    queries: set[str] = field(default_factory=set)  # callback queries sent to the bot
    answered_queries: set[str] = field(default_factory=set)
    url: str = ""
    _next_message_id: int = 1000
    _admitted: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
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
        with self.lock:
            holding = method in self.hold and self._admitted[method] >= self.hold[method]
            if holding:
                self.held.append((method, params))
            else:
                self._admitted[method] += 1
        if holding:
            self._stopping.wait()
            return 500, {"ok": False, "error_code": 500, "description": "server stopped"}
        with self.lock:
            queued = self.fail.get(method)
            failure = queued.pop(0) if queued else None
        if isinstance(failure, float):
            time.sleep(failure)
        elif failure is not None:
            return _error(*failure)
        with self.lock:
            refused = self._refused(method, params)
            late = self._refused_callback(params) if method == "answerCallbackQuery" else None
        if refused is not None:
            return _error(*refused)
        if late is not None:
            return late
        result = self._result(method, params)
        with self.lock:
            self.calls.append((method, params))
            if method in {"sendMessage", "editMessageText"}:
                self._note(method, params, int(result["message_id"]))
        return 200, {"ok": True, "result": result}

    def _note(self, method: str, params: dict[str, Any], message_id: int) -> None:
        now = time.monotonic()
        self.changed_at[message_id] = now
        if method == "sendMessage":
            self.sent_at[message_id] = now
            reply = params.get("reply_parameters")
            if reply:
                reply = json.loads(reply) if isinstance(reply, str) else reply
                self.replied_to[message_id] = int(reply["message_id"])

    def _refused(
        self, method: str, params: dict[str, Any]
    ) -> tuple[int, str, dict[str, Any]] | None:
        """Telegram's own refusals: blocked users, unknown chats, edits of nothing."""
        if "chat_id" not in params:
            return None
        chat = int(params["chat_id"])
        if chat in self.blocked:
            return 403, "Forbidden: bot was blocked by the user", {}
        if chat in self.missing_chats:
            return 400, "Bad Request: chat not found", {}
        key = (chat, int(params.get("message_id", 0)))
        if method in {"editMessageText", "deleteMessage"} and key not in self.messages:
            target = "edit" if method == "editMessageText" else "delete"
            return 400, f"Bad Request: message to {target} not found", {}
        if method == "editMessageText" and self.messages[key] == params.get("text"):
            return 400, "Bad Request: message is not modified: specified new message content "\
                "and reply markup are exactly the same as a current content", {}  # fmt: skip
        return None

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
            limit = int(params.get("limit", 100) or 100)
            deadline = time.monotonic() + min(float(params.get("timeout", 0) or 0), 0.5)
            while True:
                with self.lock:
                    if offset:  # confirmed: Telegram forgets them
                        self.updates[:] = [u for u in self.updates if u["update_id"] >= offset]
                    ready = self.updates[:limit]
                if ready or time.monotonic() >= deadline:
                    return ready
                time.sleep(0.05)
        if method == "deleteMessage":
            with self.lock:
                del self.messages[(int(params["chat_id"]), int(params["message_id"]))]
            return True
        if method in {"sendMessage", "editMessageText"}:
            with self.lock:
                self._next_message_id += 1
                message_id = int(params.get("message_id") or self._next_message_id)
                self.messages[(int(params["chat_id"]), message_id)] = params.get("text", "")
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

    def _refused_callback(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """As Telegram: a callback query is answered once, and only one it sent."""
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self.queries or query_id in self.answered_queries:
            return _error(400, "Bad Request: query is too old and response timeout expired or "
                          "query ID is invalid", {})  # fmt: skip
        self.answered_queries.add(query_id)
        return None


def callback_update(
    fake: FakeTelegram, update_id: int, data: str, *, user_id: int, message_id: int,
    chat_id: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """An update carrying a press of an inline button under the bot's message ``message_id``."""
    query_id = f"q{update_id}"
    fake.queries.add(query_id)
    chat = {"id": chat_id if chat_id is not None else user_id, "type": "private"}
    message = {"message_id": message_id, "date": int(time.time()), "chat": chat, "text": "…",
               "from": {"id": BOT_ID, "is_bot": True, "first_name": "inquote"}}  # fmt: skip
    sender = {"id": user_id, "is_bot": False, "first_name": "Reader"}
    query = {"id": query_id, "from": sender, "message": message, "chat_instance": "1", "data": data}
    return {"update_id": update_id, "callback_query": query}


def _error(status: int, description: str, parameters: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    reply = {"ok": False, "error_code": status, "description": description}
    return status, {**reply, **({"parameters": parameters} if parameters else {})}


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
