"""The Telegram bot's memory on disk (SQLite): questions not yet answered, and conversations.

A question is written here before it is answered and marked done after the reply went out, so a
crash or restart loses none (pending ones are answered at the next start) and a redelivered update
is not answered twice. Conversations and the answers users can reply to survive restarts too.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bot.answering import Answer
from bot.conversation import Turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    update_id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, user_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL, text TEXT NOT NULL, reply_to INTEGER,
    status TEXT NOT NULL, received REAL NOT NULL, answered REAL
);
CREATE TABLE IF NOT EXISTS conversations (key TEXT PRIMARY KEY, turns TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    chat_id INTEGER NOT NULL, message_id INTEGER NOT NULL, turn TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
"""


@dataclass(frozen=True)
class Question:
    update_id: int
    chat_id: int
    user_id: int
    message_id: int
    text: str
    reply_to: int | None = None  # the bot message this question replies to


class Journal:
    """One SQLite file under the data directory; safe to use from several threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def begin(self, question: Question) -> bool:
        """Records the question; False when it was already answered (a redelivered update)."""
        with self._lock:
            row = self._db.execute(
                "SELECT status FROM questions WHERE update_id = ?", (question.update_id,)
            ).fetchone()
            if row is not None:
                return bool(row[0] != "done")
            self._db.execute(
                "INSERT INTO questions VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, NULL)",
                (
                    question.update_id,
                    question.chat_id,
                    question.user_id,
                    question.message_id,
                    question.text,
                    question.reply_to,
                    time.time(),
                ),
            )
            return True

    def finish(self, update_id: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE questions SET status = 'done', answered = ? WHERE update_id = ?",
                (time.time(), update_id),
            )

    def pending(self) -> list[Question]:
        with self._lock:
            rows = self._db.execute(
                "SELECT update_id, chat_id, user_id, message_id, text, reply_to FROM questions "
                "WHERE status = 'pending' ORDER BY update_id"
            ).fetchall()
        return [Question(*row) for row in rows]

    def answered_count(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM questions WHERE status = 'done'")
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
    }


def _turn(record: dict[str, object]) -> Turn:
    answer = Answer(
        str(record["standalone"]),
        str(record["answer"]),
        bool(record["abstained"]),
        (),
        str(record["backend"]),
    )
    return Turn(str(record["question"]), str(record["standalone"]), answer)
