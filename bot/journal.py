"""The Telegram bot's memory on disk (SQLite): updates not yet handled, and conversations.

An update is written here before Telegram learns it arrived and finished after it was handled, so
a crash or restart loses none (pending ones are handled at the next start) and a redelivered update
is not handled twice. Conversations and the answers users can reply to survive restarts too.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, cast

from bot.answer import Answer, Turn
from bot.quotes import Quote
from ingest.sqlite_check import check_file, quick_check

_SCHEMA = """
CREATE TABLE IF NOT EXISTS updates (
    update_id INTEGER PRIMARY KEY, raw TEXT, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, replies TEXT NOT NULL DEFAULT '[]',
    received REAL NOT NULL, finished REAL
);
CREATE TABLE IF NOT EXISTS conversations (key TEXT PRIMARY KEY, turns TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    chat_id INTEGER NOT NULL, message_id INTEGER NOT NULL, turn TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
CREATE TABLE IF NOT EXISTS since (key TEXT PRIMARY KEY, day TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    update_id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, message_id INTEGER NOT NULL,
    turn TEXT NOT NULL, libraries TEXT NOT NULL, vote TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '', at REAL
);
CREATE TABLE IF NOT EXISTS digests (
    chat_id INTEGER PRIMARY KEY, revision INTEGER NOT NULL DEFAULT 0,
    daily TEXT NOT NULL DEFAULT ''
);
"""
Status = Literal["pending", "answered", "done", "failed"]
JOURNAL_FILE = "telegram.sqlite3"  # in the data directory
log = logging.getLogger(__name__)


def journal_damage(path: Path) -> str | None:
    """What is wrong with the journal at ``path`` (None: nothing, or there is none yet)."""
    if not path.exists():
        return None
    try:
        check_file(path)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class Question:
    update_id: int
    chat_id: int
    user_id: int
    message_id: int
    text: str
    reply_to: int | None = None  # the bot message this question replies to


class Journal:
    """One SQLite file under the data directory; safe to use from several threads.

    Every update is recorded (:meth:`record`) before Telegram is told it arrived, and finished
    (:meth:`finish`) once handled: ``answered`` for a question, ``done`` for anything else,
    ``failed`` when given up. A finished update keeps no text. The messages sent for an update
    are remembered as they go out (:meth:`add_reply`), so a retry edits them instead of sending
    them again.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            quick_check(self._db)
        except sqlite3.DatabaseError:
            self._db.close()
            raise
        self._lock = threading.Lock()
        self._carry_over_questions()

    @classmethod
    def open(cls, path: Path) -> Journal:
        """The journal at ``path``; a damaged one is moved aside (kept, named with the time)
        and a fresh one started: the bot must not crash at every start over its own file."""
        try:
            return cls(path)
        except sqlite3.DatabaseError as exc:
            kept = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            for suffix in ("", "-wal", "-shm"):
                damaged = path.with_name(path.name + suffix)
                if damaged.exists():
                    damaged.replace(kept.with_name(kept.name + suffix))
            log.warning(
                "The Telegram journal %s was damaged (%s): kept as %s, a new one started; "
                "questions it held unanswered are lost",
                path,
                exc,
                kept,
            )
            return cls(path)

    def _carry_over_questions(self) -> None:
        """Moves an older journal's ``questions`` into ``updates``; pending ones stay pending."""
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if "questions" not in tables:
            return
        rows = self._db.execute(
            "SELECT update_id, chat_id, user_id, message_id, text, status, received FROM questions"
        ).fetchall()
        self._db.execute("BEGIN")
        for update_id, chat, user, message_id, text, status, received in rows:
            message = {
                "message_id": message_id, "date": int(received), "text": text,
                "chat": {"id": chat, "type": "private" if chat == user else "group"},
                "from": {"id": user, "is_bot": False, "first_name": "?"},
            }  # fmt: skip
            done = status == "done"
            self._db.execute(
                "INSERT OR IGNORE INTO updates (update_id, raw, status, received) "
                "VALUES (?, ?, ?, ?)",
                (
                    update_id,
                    None if done else json.dumps({"update_id": update_id, "message": message}),
                    "answered" if done else "pending",
                    received,
                ),
            )
        self._db.execute("DROP TABLE questions")
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def record(self, update_id: int, raw: str) -> bool:
        """Records an update as it arrives; False when it arrived before (a redelivery)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO updates (update_id, raw, received) VALUES (?, ?, ?)",
                (update_id, raw, time.time()),
            )
            return cursor.rowcount == 1

    def pending(self) -> list[tuple[int, str]]:
        """Updates recorded and not finished, oldest first, with their JSON."""
        with self._lock:
            rows = self._db.execute(
                "SELECT update_id, raw FROM updates WHERE status = 'pending' ORDER BY update_id"
            ).fetchall()
        return [(int(update_id), str(raw)) for update_id, raw in rows]

    def start(self, update_id: int) -> int | None:
        """Counts one more attempt at a pending update: their number, or None if it is finished."""
        with self._lock:
            row = self._db.execute(
                "UPDATE updates SET attempts = attempts + 1 WHERE update_id = ? "
                "AND status = 'pending' RETURNING attempts",
                (update_id,),
            ).fetchone()
        return int(row[0]) if row else None

    def finish(self, update_id: int, status: Status) -> None:
        """Ends a pending update (a finished one keeps its status) and forgets its text."""
        with self._lock:
            self._db.execute(
                "UPDATE updates SET status = ?, raw = NULL, finished = ? "
                "WHERE update_id = ? AND status = 'pending'",
                (status, time.time(), update_id),
            )

    def status(self, update_id: int) -> Status | None:
        with self._lock:
            row = self._db.execute(
                "SELECT status FROM updates WHERE update_id = ?", (update_id,)
            ).fetchone()
        return cast(Status, row[0]) if row else None

    def replies(self, update_id: int) -> list[int]:
        """Ids of the messages sent for an update so far, in order."""
        with self._lock:
            row = self._db.execute(
                "SELECT replies FROM updates WHERE update_id = ?", (update_id,)
            ).fetchone()
        return [int(message_id) for message_id in json.loads(row[0])] if row else []

    def set_replies(self, update_id: int, message_ids: Sequence[int]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE updates SET replies = ? WHERE update_id = ?",
                (json.dumps(list(message_ids)), update_id),
            )

    def answered_count(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM updates WHERE status = 'answered'")
            return int(row.fetchone()[0])

    def turns(self, key: str) -> list[Turn]:
        with self._lock:
            row = self._db.execute("SELECT turns FROM conversations WHERE key = ?", (key,))
            found = row.fetchone()
        return [_turn(item) for item in json.loads(found[0])] if found else []

    def save_turns(self, key: str, turns: list[Turn]) -> None:
        data = json.dumps([_record(turn) for turn in turns], ensure_ascii=False)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO conversations VALUES (?, ?)", (key, data))

    def remember_answer(self, chat_id: int, message_id: int, turn: Turn) -> None:
        """Which turn a bot message shows, so a reply to it is a follow-up of that turn."""
        data = json.dumps(_record(turn), ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (chat_id, message_id, data)
            )

    def since(self, key: str) -> str:
        """The day from which a conversation's questions read articles (``/since``; "": all)."""
        with self._lock:
            row = self._db.execute("SELECT day FROM since WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def set_since(self, key: str, day: str) -> None:
        with self._lock:
            if day:
                self._db.execute("INSERT OR REPLACE INTO since VALUES (?, ?)", (key, day))
            else:
                self._db.execute("DELETE FROM since WHERE key = ?", (key,))

    def digested(self, chat_id: int) -> int:
        """The revision (``time.time_ns()``) up to which a chat has had its digest; 0: never."""
        with self._lock:
            row = self._db.execute("SELECT revision FROM digests WHERE chat_id = ?", (chat_id,))
            found = row.fetchone()
        return int(found[0]) if found else 0

    def set_digested(self, chat_id: int, revision: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO digests (chat_id, revision) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET revision = excluded.revision",
                (chat_id, revision),
            )

    def daily_digests(self) -> dict[int, str]:
        """The chats that asked for a daily digest, and at what time (``HH:MM``, UTC)."""
        with self._lock:
            rows = self._db.execute("SELECT chat_id, daily FROM digests WHERE daily != ''")
            return {int(chat): str(daily) for chat, daily in rows.fetchall()}

    def set_daily_digest(self, chat_id: int, daily: str) -> None:
        """``daily``: ``HH:MM`` (UTC), or "" for none."""
        with self._lock:
            self._db.execute(
                "INSERT INTO digests (chat_id, daily) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET daily = excluded.daily",
                (chat_id, daily),
            )

    def answered(
        self, update_id: int, chat_id: int, message_id: int, turn: Turn, libraries: str
    ) -> None:
        """What answered a question, kept for its feedback: the turn and the chat's libraries
        (comma-separated; "*" every one)."""
        data = json.dumps(_record(turn), ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO feedback (update_id, chat_id, message_id, turn, libraries)"
                " VALUES (?, ?, ?, ?, ?)",
                (update_id, chat_id, message_id, data, libraries),
            )

    def vote(self, update_id: int, chat_id: int, vote: str) -> bool:
        """👍 (``up``) or 👎 (``down``) on the answer to ``update_id`` in ``chat_id``; False when
        there is no such answer there."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE feedback SET vote = ?, at = ? WHERE update_id = ? AND chat_id = ?",
                (vote, time.time(), update_id, chat_id),
            )
            return cursor.rowcount == 1

    def give_reason(self, chat_id: int, message_id: int, reason: str) -> bool:
        """The one-line reason for the vote on the answer in message ``message_id``."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE feedback SET reason = ?, vote = CASE vote WHEN '' THEN 'down' ELSE vote"
                " END, at = ? WHERE chat_id = ? AND message_id = ?",
                (reason, time.time(), chat_id, message_id),
            )
            return cursor.rowcount == 1

    def feedback(self) -> list[dict[str, Any]]:
        """Every answer voted on: its question, answer, quotes, libraries, backend, vote, reason."""
        with self._lock:
            rows = self._db.execute(
                "SELECT turn, libraries, vote, reason, at FROM feedback WHERE vote != ''"
                " ORDER BY at"
            ).fetchall()
        return [
            {**json.loads(turn), "libraries": libraries, "vote": vote, "reason": reason, "at": at}
            for turn, libraries, vote, reason, at in rows
        ]

    def answer_turn(self, chat_id: int, message_id: int) -> Turn | None:
        with self._lock:
            row = self._db.execute(
                "SELECT turn FROM answers WHERE chat_id = ? AND message_id = ?",
                (chat_id, message_id),
            ).fetchone()
        return _turn(json.loads(row[0])) if row else None


def _record(turn: Turn) -> dict[str, object]:
    """What a follow-up needs of a turn: the questions and the answer's text."""
    return {
        "question": turn.question,
        "standalone": turn.standalone,
        "answer": turn.answer.text,
        "abstained": turn.answer.abstained,
        "backend": turn.answer.backend,
        "quotes": [asdict(quote) for quote in turn.answer.quotes],  # /summary reads the first
    }


def _turn(record: dict[str, object]) -> Turn:
    answer = Answer(
        str(record["standalone"]),
        str(record["answer"]),
        bool(record["abstained"]),
        tuple(Quote(**quote) for quote in cast(list[dict[str, Any]], record.get("quotes", []))),
        str(record["backend"]),
    )
    return Turn(str(record["question"]), str(record["standalone"]), answer)
