"""The Telegram bot under a crowd of chats asking at once: ``python -m benchmarks.telegram_load``.

A real ``inquote telegram`` process over the seeds answers ``chats`` x ``per_chat`` questions that
arrive together (each chat's questions one after another in the update stream), against the
loopback Bot API of the tests (it confirms offsets as Telegram does) and, for the LLM rows, the
loopback Ollama of the tests taking ``reply_seconds`` per reply, writing up to 4 at once
(OLLAMA_NUM_PARALLEL). The bare component is the LLM itself: with ``slots`` answers at once, the
last answer cannot come before ``questions x reply_seconds / slots``; the ratio is the bot's time
to its last answer over that. Results go to ``benchmarks/TELEGRAM.md``.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.speed import peak_rss_mb
from bot.answer import LEADS
from bot.answering import NOT_ANSWERED
from tests.fake_ollama import FakeOllama
from tests.fake_ollama import serve as serve_ollama
from tests.fake_telegram import TOKEN, FakeTelegram, serve, text_update

REPO = Path(__file__).resolve().parents[1]
INQUOTE = Path(sys.executable).with_name("inquote")
MODEL = "llama3.2:3b"
QUESTIONS = [  # each stands alone: no follow-up rewrite is needed, so none may be asked for
    "Who first stepped onto the Moon?",
    "Which company owned the molasses tank?",
    "Who deciphered the hieroglyphs on the Rosetta Stone?",
    "When did Apollo 11 land on the Moon?",
    "How much molasses did the tank hold?",
]
_PASSAGE = re.compile(r'<passage n="1"[^>]*>\n(.*?)\n</passage>', re.DOTALL)
FIRST_USER = 1000
ANSWER_OPENINGS = (*LEADS.values(), NOT_ANSWERED)  # how every answer's first message begins


@dataclass(frozen=True)
class Load:
    questions: int
    answered: int
    duplicates: int  # questions that got more than one message
    out_of_order: int  # chats whose answers began in another order than asked
    first_answers: list[float]  # seconds from arrival to each chat's first answer, by chat
    last_answer: float  # seconds from arrival to the last answer
    llm_calls: int
    llm_at_once: int
    peak_rss_mb: float


def quoting_reply(messages: list[dict[str, str]]) -> str:
    """A model that quotes the first sentence of the first passage, as the answer schema asks."""
    found = _PASSAGE.search(messages[-1]["content"])
    if not found:
        return json.dumps({"answerable": False, "claims": []})
    sentence = found.group(1).split(". ")[0].strip()
    claim = {"text": "The articles say so", "quotes": [{"passage": 1, "quote": sentence}]}
    return json.dumps({"answerable": True, "claims": [claim]}, ensure_ascii=False)


@contextmanager
def _llm(reply_seconds: float | None) -> Iterator[tuple[dict[str, str], FakeOllama | None]]:
    """The answering backend's settings, and the loopback Ollama when there is one."""
    if reply_seconds is None:
        yield {"INQUOTE_LLM__BACKEND": "extractive"}, None
        return
    fake = FakeOllama(
        chat_models={MODEL: [quoting_reply] * 10_000}, reply_seconds=reply_seconds, parallel=4
    )
    with serve_ollama(fake) as server:
        env = {"INQUOTE_LLM__BACKEND": "ollama", "INQUOTE_LLM__MODEL": MODEL,
               "INQUOTE_OLLAMA__URL": server.url}  # fmt: skip
        yield env, fake


def answered(fake: FakeTelegram) -> dict[int, float]:
    """Questions (by message id) whose reply shows an answer (not a partial, a queued note or an
    apology), and since when."""
    with fake.lock:
        return {
            fake.replied_to[message_id]: fake.changed_at[message_id]
            for (_, message_id), text in fake.messages.items()
            if message_id in fake.replied_to and text.startswith(ANSWER_OPENINGS)
        }


def run_load(
    data_dir: Path,
    *,
    chats: int,
    per_chat: int,
    slots: int,
    reply_seconds: float | None,
    timeout: float = 600.0,
) -> Load:
    """Runs one crowd against a bot over ``data_dir`` (a store of the seeds); what it saw."""
    users = [FIRST_USER + n for n in range(chats)]
    updates = [
        text_update(n + 1, QUESTIONS[(n + n // per_chat) % len(QUESTIONS)],
                    user_id=users[n // per_chat])
        for n in range(chats * per_chat)
    ]  # fmt: skip
    asked = {u["message"]["message_id"]: u["message"]["chat"]["id"] for u in updates}
    fake = FakeTelegram()
    with serve(fake), _llm(reply_seconds) as (llm_env, llm):
        env = {
            **os.environ,
            **llm_env,
            "INQUOTE_DATA_DIR": str(data_dir),
            "INQUOTE_TELEGRAM__TOKEN": TOKEN,
            "INQUOTE_TELEGRAM__BASE_URL": fake.base_url,
            "INQUOTE_TELEGRAM__ALLOWED_USERS": ",".join(map(str, users)),
            "INQUOTE_TELEGRAM__MAX_CONCURRENT_ANSWERS": str(slots),
        }
        process = subprocess.Popen([INQUOTE, "telegram"], env=env, stderr=subprocess.DEVNULL)
        try:
            fake.wait_for("getUpdates", timeout=120)  # the bot is up and polling
            with fake.lock:
                fake.updates += updates
                start = time.monotonic()
            while len(answered(fake)) < len(asked) and time.monotonic() < start + timeout:
                time.sleep(0.05)
            time.sleep(1.0)  # anything sent twice shows now
            peak = peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.communicate(timeout=60)
        done = answered(fake)
        messages = Counter(fake.replied_to.values())
        began: dict[int, float] = {}  # question -> when its first message was sent
        for message_id, question in fake.replied_to.items():
            began[question] = min(began.get(question, 1e18), fake.sent_at[message_id])
        by_chat = {
            chat: sorted(m for m in asked if asked[m] == chat) for chat in set(asked.values())
        }
        return Load(
            questions=len(asked),
            answered=len(done),
            duplicates=sum(count > 1 for count in messages.values()),
            out_of_order=sum(
                [began.get(m, 0.0) for m in ms] != sorted(began.get(m, 0.0) for m in ms)
                for ms in by_chat.values()
            ),
            first_answers=[
                done.get(min(m for m in asked if asked[m] == user), float("inf")) - start
                for user in users
            ],
            last_answer=max(done.values(), default=float("inf")) - start,
            llm_calls=len(llm.chats()) if llm else 0,
            llm_at_once=llm.most_at_once if llm else 0,
            peak_rss_mb=peak,
        )


def _row(name: str, load: Load, slots: int, reply_seconds: float | None) -> str:
    ideal = load.questions * reply_seconds / slots if reply_seconds else None
    ratio = f"{load.last_answer / ideal:.2f}" if ideal else ""
    first = f"{statistics.median(load.first_answers):.1f} / {max(load.first_answers):.1f}"
    return (
        f"| {name} | {load.answered}/{load.questions} | {load.duplicates} | {load.out_of_order} "
        f"| {first} | {load.last_answer:.1f} | {f'{ideal:.1f}' if ideal else '—'} | {ratio} "
        f"| {load.llm_calls} | {load.llm_at_once} | {load.peak_rss_mb:.0f} |"
    )


def main() -> None:
    chats, per_chat, slots = 20, 5, 4
    scenarios = [("extractive", None), ("Ollama, 2 s a reply", 2.0)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([INQUOTE, "--data-dir", tmp, "ingest", str(REPO / "seeds")],
                       check=True, capture_output=True)  # fmt: skip
        for name, reply_seconds in scenarios:
            for journal in Path(tmp).glob("telegram.sqlite3*"):  # a bot that never ran before
                journal.unlink()
            load = run_load(
                Path(tmp), chats=chats, per_chat=per_chat, slots=slots, reply_seconds=reply_seconds
            )
            rows.append(_row(name, load, slots, reply_seconds))
            print(rows[-1], flush=True)
    report = "\n".join([
        "# The Telegram bot under load", "",
        f"Measured {time.strftime('%Y-%m-%d')} with `python -m benchmarks.telegram_load`: "
        f"{chats} chats x {per_chat} questions arriving at once, "
        f"telegram.max_concurrent_answers = {slots}; the loopback Ollama writes up to 4 replies "
        "at once. Times in seconds from the questions' arrival; \"ideal\" is the LLM's own "
        "floor (questions x seconds a reply / slots), and the ratio the last answer over it.", "",
        "| backend | answered | duplicates | chats out of order | a chat's first answer "
        "(median / slowest) | last answer | ideal | ratio | LLM calls | LLM replies at once "
        "| peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
    ])  # fmt: skip
    (REPO / "benchmarks" / "TELEGRAM.md").write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
