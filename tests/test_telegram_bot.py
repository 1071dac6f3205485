"""The Telegram bot: the real python-telegram-bot Application against a loopback fake Bot API.

Real Chroma store of the seeds, real embedder, real PTB request stack; the fake server scripts
updates and failures and records what the bot sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import math
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from benchmarks.telegram_load import run_load
from bot.journal import Journal
from bot.telegram.answers import APOLOGY, QUEUED, SORRY
from bot.telegram.bot import AnyApplication, InquoteBot, build_application
from config.errors import BackendError
from config.settings import load_settings
from ingest.embedding import Embedder
from ingest.pipeline import Ingestor
from ingest.store import ChromaStore
from tests.conftest import FakeGenerator, answer_json, answerer_over
from tests.fake_telegram import BOT_USERNAME, TOKEN, FakeTelegram, serve, text_update
from tests.fake_web import FakeSite
from tests.fake_web import serve as serve_site
from tests.test_hostile_input import pdf

READER, ADMIN, STRANGER = 42, 7, 666
MOON = answer_json(("He did", 1, "Armstrong became the first person to step onto the Moon"))


def make_bot(
    data_dir: Path,
    fake: FakeTelegram,
    embedder: Embedder,
    generator: FakeGenerator | None = None,
    **extra: str,
) -> InquoteBot:
    overrides = {
        "data_dir": str(data_dir),
        "telegram.token": TOKEN,
        "telegram.base_url": fake.base_url,
        "telegram.allowed_users": str(READER),
        "telegram.admins": str(ADMIN),
        "telegram.edit_interval_seconds": "0.3",
        "telegram.timeout_seconds": "2",
        "telegram.send_timeout_seconds": "2",
        "telegram.retry_seconds": "0.05",
        **extra,
    }
    settings = load_settings(overrides=overrides)
    store = ChromaStore.open_persistent(data_dir, embedder.fingerprint)
    answerer = answerer_over(store, embedder, settings, generator)
    ingestor = Ingestor(store, embedder, settings)
    return InquoteBot(settings, answerer, ingestor)


@asynccontextmanager
async def running(bot: InquoteBot) -> AsyncIterator[AnyApplication]:
    """The Application as ``run_polling`` runs it, minus the signal handling."""
    application = build_application(bot)
    async with application:
        assert application.post_init is not None
        await application.post_init(application)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()
    assert application.post_shutdown is not None
    await application.post_shutdown(application)


def run_until(bot: InquoteBot, fake: FakeTelegram, method: str, count: int = 1) -> None:
    run_while(bot, lambda: len(fake.called(method)) < count)


def run_while(bot: InquoteBot, waiting: Callable[[], bool], timeout: float = 30.0) -> None:
    async def scenario() -> None:
        async with running(bot):
            deadline = time.monotonic() + timeout
            while waiting():
                assert time.monotonic() < deadline, "the bot did not get there in time"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # let anything that should not happen, happen

    asyncio.run(scenario())


# English answers state their confidence in words alone (training.percentages)
ANSWERED = re.compile(r"The (articles answer this|closest the articles come):")
MOON_SENTENCE = (
    "Some six and a half hours later Armstrong became the first person to step onto the Moon."
)
CHAMPOLLION = "The French scholar Jean-François Champollion announced in 1822"


def first_quote(message: str) -> str:
    """The first quote of an answer as the user sees it; fails on anything but an answer."""
    assert ANSWERED.match(message), f"not an answer: {message[:200]}"
    return str(re.findall(r"<blockquote expandable>(.*?)</blockquote>", message, re.DOTALL)[0])


def final_answers(fake: FakeTelegram) -> list[str]:
    """The chats' messages that show a whole answer (quotes rendered), as last edited."""
    return [text for text in fake.messages.values() if "</blockquote>" in text]


def texts(fake: FakeTelegram, method: str = "sendMessage") -> list[str]:
    return [params["text"] for params in fake.called(method)]


def test_a_question_is_answered_with_quotes_in_blockquotes_and_citations(
    data_dir: Path,
    fake: FakeTelegram,
    real_embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.updates.append(text_update(1, "Who first stepped onto the Moon?", user_id=READER))
    bot = make_bot(data_dir, fake, real_embedder)
    with caplog.at_level(logging.INFO):
        run_until(bot, fake, "sendMessage")
    [sent] = fake.called("sendMessage")
    assert sent["chat_id"] == str(READER)
    assert sent["parse_mode"] == "HTML"
    assert json.loads(sent["reply_parameters"])["message_id"] == 10
    assert json.loads(sent["link_preview_options"]) == {"is_disabled": True}
    assert re.match(ANSWERED.pattern + "\n\n<blockquote expandable>", sent["text"])
    assert "Armstrong became the first person to step onto the Moon." in sent["text"]
    assert "<i>[1] Apollo 11: the first crewed Moon landing, 2025-11-20</i>" in sent["text"]
    journal = Journal(data_dir / "telegram.sqlite3")
    assert journal.pending() == []
    assert journal.answered_count() == 1
    assert TOKEN not in caplog.text


def test_strangers_reach_no_handler_and_cost_nothing(
    data_dir: Path,
    fake: FakeTelegram,
    real_embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.updates += [
        text_update(1, "Who first stepped onto the Moon?", user_id=STRANGER),
        text_update(2, "/sources", user_id=STRANGER),
        text_update(3, "/help", user_id=READER),
    ]
    model = FakeGenerator()
    bot = make_bot(data_dir, fake, real_embedder, model)
    with caplog.at_level(logging.INFO):
        run_until(bot, fake, "sendMessage")
    assert len(fake.called("sendMessage")) == 1  # the reader's /help only
    assert "Ask me a question" in texts(fake)[0]
    assert fake.called("sendChatAction") == []
    assert model.history == []
    assert f"ignored an update from user id {STRANGER}" in caplog.text


def test_commands(data_dir: Path, fake: FakeTelegram, real_embedder: Embedder) -> None:
    fake.updates += [
        text_update(1, "/start", user_id=READER),
        text_update(2, "/sources", user_id=READER),
        text_update(3, "/about", user_id=READER),
        text_update(4, "/reset", user_id=READER),
    ]
    run_until(make_bot(data_dir, fake, real_embedder), fake, "sendMessage", 4)
    start, sources, about, reset = texts(fake)
    assert "/sources" in start
    assert "The Rosetta Stone and the decipherment of hieroglyphs (2025-11-20)" in sources
    assert "5 articles here" in about
    assert reset == "Conversation forgotten."


def test_replying_to_an_answer_asks_a_follow_up_about_it(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.updates.append(text_update(1, "Who first stepped onto the Moon?", user_id=READER))
    bot = make_bot(data_dir, fake, real_embedder)
    run_until(bot, fake, "sendMessage")
    answer_id = 1001
    follow_up = "and when did Aldrin join him?"
    fake.updates.append(text_update(2, follow_up, user_id=READER, reply_to=answer_id))
    run_until(make_bot(data_dir, fake, real_embedder), fake, "sendMessage", 2)
    first, reply = texts(fake)
    assert ANSWERED.match(first)
    assert ANSWERED.match(reply)  # an answer, not an abstention
    quotes = re.findall(r"<blockquote expandable>(.*?)</blockquote>", reply, re.DOTALL)
    assert quotes[0] == "Aldrin joined him about twenty minutes later."


@pytest.mark.slow
def test_network_errors_and_flood_control_are_survived_and_bad_formatting_falls_back(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.fail["getUpdates"] = [(502, "Bad Gateway", {}), 3.0]  # polling recovers by itself
    fake.fail["sendMessage"] = [
        (429, "Too Many Requests: retry after 1", {"retry_after": 1}),
        (400, "Bad Request: can't parse entities: unsupported start tag", {}),
    ]
    fake.updates.append(text_update(1, "Who first stepped onto the Moon?", user_id=READER))
    run_until(make_bot(data_dir, fake, real_embedder), fake, "sendMessage")
    [sent] = fake.called("sendMessage")  # one message arrived, after the 429 and the 400
    assert "parse_mode" not in sent
    assert re.match(r"The .*:\n\n“Some six and a half hours later Armstrong", sent["text"])
    assert "<" not in sent["text"]


@pytest.mark.slow
def test_a_send_that_timed_out_is_not_sent_again(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.fail["sendMessage"] = [4.0]  # answered after the client's 2 s timeout: it arrived
    fake.updates += [
        text_update(1, "Who first stepped onto the Moon?", user_id=READER),
        text_update(2, "/help", user_id=READER),
    ]
    bot = make_bot(data_dir, fake, real_embedder)
    run_until(bot, fake, "sendMessage", 2)
    assert len(fake.called("sendMessage")) == 2  # the delayed answer once, then /help
    assert Journal(data_dir / "telegram.sqlite3").pending() == []


class DownGenerator(FakeGenerator):
    def generate(self, messages, max_tokens, schema=None):
        raise BackendError("Ollama is not reachable at http://localhost:11434 — start it")


def test_a_dead_llm_gets_the_user_an_apology_and_the_operator_a_log_line(
    data_dir: Path,
    fake: FakeTelegram,
    real_embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.updates.append(text_update(1, "Who first stepped onto the Moon?", user_id=READER))
    with caplog.at_level(logging.ERROR):
        run_until(make_bot(data_dir, fake, real_embedder, DownGenerator()), fake, "sendMessage")
    assert texts(fake) == [APOLOGY]
    assert "could not answer update 1 after 3 attempts: Ollama is not reachable" in caplog.text


class SlowGenerator(FakeGenerator):
    def generate(self, messages, max_tokens, schema=None):
        reply = answer_json(
            ("He did", 1, "Armstrong became the first person to step onto the Moon"),
            ("Then", 1, "Aldrin joined him about twenty minutes later"),
        )
        second = reply.index('{"text": "Then"')
        for piece in (reply[:second], reply[second : second + 20], reply[second + 20 :]):
            time.sleep(0.8)  # the first claim shows once the second one begins
            yield piece


@pytest.mark.slow
def test_answers_stream_by_editing_one_message(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.updates.append(text_update(1, "Who first stepped onto the Moon?", user_id=READER))
    run_until(make_bot(data_dir, fake, real_embedder, SlowGenerator()), fake, "editMessageText")
    assert fake.called("sendChatAction")[0]["action"] == "typing"  # it took a while
    [first] = fake.called("sendMessage")
    assert "parse_mode" in first
    assert first["text"].endswith(" …")
    final = fake.called("editMessageText")[-1]
    assert final["message_id"] == "1001"
    assert (
        "<blockquote expandable>Aldrin joined him about twenty minutes later</blockquote>"
        in final["text"]
    )


def test_in_groups_only_messages_addressed_to_the_bot_are_answered(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    group = -1001
    mention = f"@{BOT_USERNAME}"
    fake.updates += [
        text_update(
            1, "Who first stepped onto the Moon?", user_id=9, chat_id=group, chat_type="group"
        ),
        text_update(
            2,
            f"{mention} who deciphered the hieroglyphs?",
            user_id=9,
            chat_id=group,
            chat_type="group",
            entities=[{"type": "mention", "offset": 0, "length": len(mention)}],
        ),
    ]
    run_until(
        make_bot(data_dir, fake, real_embedder, None, **{"telegram.allowed_chats": str(group)}),
        fake,
        "sendMessage",
    )
    [sent] = fake.called("sendMessage")
    assert first_quote(sent["text"]).startswith(CHAMPOLLION)


def test_admins_add_documents_and_others_cannot(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    article = (
        b"# Tea clippers\n\nThe Cutty Sark was built in 1869 at Dumbarton for the tea trade.\n"
    )
    fake.files["doc1"] = article
    document = {"file_id": "doc1", "file_unique_id": "doc1", "file_name": "clippers.md",
                "file_size": len(article)}  # fmt: skip
    huge = {**document, "file_id": "huge", "file_size": 21 * 1024 * 1024}
    fake.updates += [
        text_update(1, "", user_id=READER, document=document),
        text_update(2, "", user_id=ADMIN, document=huge),
        text_update(3, "", user_id=ADMIN, document=document),
    ]
    run_until(make_bot(data_dir, fake, real_embedder), fake, "editMessageText")
    too_big = "clippers.md is larger than 20 MB; I can't add it."
    sent = texts(fake)  # chats are answered side by side: in any order between them
    assert sorted(sent) == sorted(["Only admins can add articles.", too_big, "Adding clippers.md…"])
    assert texts(fake, "editMessageText") == ["added: Tea clippers (1 chunks)"]
    assert [params["file_id"] for params in fake.called("getFile")] == ["doc1"]
    store = ChromaStore.open_persistent(data_dir, real_embedder.fingerprint)
    assert any(a.source == "telegram upload: clippers.md" for a in store.articles())


def test_an_update_telegram_sends_again_is_answered_once(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    question = text_update(1, "Who first stepped onto the Moon?", user_id=READER)
    fake.updates.append(question)
    run_until(make_bot(data_dir, fake, real_embedder), fake, "sendMessage")
    assert fake.updates == []  # confirmed by the bot's next getUpdates: Telegram forgot it
    # Telegram sends an update again when the bot stopped before confirming it.
    fake.updates += [copy.deepcopy(question), text_update(2, "/help", user_id=READER)]
    run_until(make_bot(data_dir, fake, real_embedder), fake, "sendMessage", 2)
    assert len(fake.called("sendMessage")) == 2


def left_pending(data_dir: Path, update: dict[str, object]) -> Journal:
    """The journal as a stopped bot left it: ``update`` received and not finished."""
    journal = Journal(data_dir / "telegram.sqlite3")
    journal.record(int(str(update["update_id"])), json.dumps(update))
    return journal


def answers_journaled(data_dir: Path) -> int:
    """How many updates a running bot has journaled a sent message for (read-only)."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{data_dir}/telegram.sqlite3?mode=ro", uri=True)
        ) as db:
            return int(
                db.execute("SELECT count(*) FROM updates WHERE replies != '[]'").fetchone()[0]
            )
    except sqlite3.OperationalError:  # not created yet
        return -1


KILL_QUESTIONS = [
    "Who first stepped onto the Moon?",
    "Which company owned the molasses tank?",
    "Who deciphered the hieroglyphs on the Rosetta Stone?",
    "When did Apollo 11 land on the Moon?",
    "How much molasses did the tank hold?",
]


def bot_process(data_dir: Path, fake: FakeTelegram, users: list[int]) -> subprocess.Popen[bytes]:
    """A real `inquote telegram` process against ``fake``."""
    env = {
        **os.environ,
        "INQUOTE_DATA_DIR": str(data_dir),
        "INQUOTE_LLM__BACKEND": "extractive",
        "INQUOTE_TELEGRAM__TOKEN": TOKEN,
        "INQUOTE_TELEGRAM__BASE_URL": fake.base_url,
        "INQUOTE_TELEGRAM__ALLOWED_USERS": ",".join(map(str, users)),
    }
    script = Path(sys.executable).with_name("inquote")
    return subprocess.Popen([script, "telegram"], env=env, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("sent_before_kill", [0, 2, 4, 6, 8])
def test_a_bot_killed_at_any_moment_answers_every_question_exactly_once_after_a_restart(
    data_dir: Path, sent_before_kill: int
) -> None:
    """Ten questions from five chats; the process is SIGKILLed while an answer is in flight."""
    chats = [READER, 43, 44, 45, 46]
    questions = [
        text_update(n + 1, KILL_QUESTIONS[(n + n // 5) % 5], user_id=chats[n % 5])
        for n in range(10)
    ]
    asked = {q["message"]["message_id"]: q["message"]["chat"]["id"] for q in questions}
    hold = {"sendMessage": sent_before_kill}
    with serve(FakeTelegram(updates=list(questions), hold=hold)) as first:
        process = bot_process(data_dir, first, chats)
        try:
            # The moment: k answers sent and journaled, the next one on its way.
            deadline = time.monotonic() + 60
            while not (first.held and answers_journaled(data_dir) == sent_before_kill):
                assert time.monotonic() < deadline, "the first process never got there"
                time.sleep(0.02)
        finally:
            process.kill()
            process.communicate()
    assert len(first.called("sendMessage")) == sent_before_kill
    # The same Telegram, as the restarted bot finds it: what was confirmed is gone.
    later = FakeTelegram(updates=first.updates, messages=dict(first.messages))
    later._next_message_id = first._next_message_id
    with serve(later) as second:
        process = bot_process(data_dir, second, chats)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                sent = first.called("sendMessage") + second.called("sendMessage")
                if {json.loads(s["reply_parameters"])["message_id"] for s in sent} >= set(asked):
                    break
                time.sleep(0.1)
            time.sleep(1.5)  # time enough to answer something twice, if it would
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    sent = first.called("sendMessage") + second.called("sendMessage")
    replied = [json.loads(s["reply_parameters"])["message_id"] for s in sent]
    assert sorted(replied) == sorted(asked)  # every question answered, and exactly once
    for message in sent:  # within a chat, in the order asked
        chat = int(message["chat_id"])
        order = [m for m in replied if asked[m] == chat]
        assert order == sorted(order)
    shown = list(later.messages.values())
    assert len(shown) == 10  # no stray partial, no second message
    assert all(re.match(r"The (articles answer this|closest the articles come)", t) for t in shown)
    assert Journal(data_dir / "telegram.sqlite3").pending() == []
    assert TOKEN not in stderr.decode()


@pytest.mark.parametrize("refusal", ["Forbidden: bot was blocked by the user", "Chat not found"])
def test_a_pending_question_nobody_can_receive_is_given_up_once_and_the_others_answered(
    data_dir: Path,
    fake: FakeTelegram,
    real_embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
    refusal: str,
) -> None:
    gone = 43
    left_pending(data_dir, text_update(1, "Who first stepped onto the Moon?", user_id=gone))
    (fake.blocked if refusal.startswith("Forbidden") else fake.missing_chats).add(gone)
    fake.updates.append(text_update(2, "Who deciphered the hieroglyphs?", user_id=READER))
    users = {"telegram.allowed_users": f"{READER},{gone}"}
    with caplog.at_level(logging.INFO):
        run_until(make_bot(data_dir, fake, real_embedder, None, **users), fake, "sendMessage")
    [answer] = fake.called("sendMessage")
    assert first_quote(answer["text"]).startswith(CHAMPOLLION)
    assert caplog.text.count(f"Telegram cannot reach chat {gone}") == 1
    assert f"({refusal})" in caplog.text
    journal = Journal(data_dir / "telegram.sqlite3")
    assert (journal.status(1), journal.status(2)) == ("failed", "answered")


def test_an_update_that_kept_stopping_the_bot_is_given_up_with_one_apology(
    data_dir: Path,
    fake: FakeTelegram,
    real_embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal(data_dir / "telegram.sqlite3")
    journal.record(
        1, json.dumps(text_update(1, "Who first stepped onto the Moon?", user_id=READER))
    )
    for _ in range(3):  # three starts, and each time the process died
        journal.start(1)
    journal.close()
    fake.updates.append(text_update(2, "/help", user_id=READER))
    with caplog.at_level(logging.ERROR):
        run_until(make_bot(data_dir, fake, real_embedder), fake, "sendMessage", 2)
    apology, help_text = fake.called("sendMessage")
    assert apology["text"] == SORRY
    assert json.loads(apology["reply_parameters"])["message_id"] == 10
    assert "Ask me a question" in help_text["text"]
    assert "update 1 was started 3 times and never finished" in caplog.text
    assert Journal(data_dir / "telegram.sqlite3").status(1) == "failed"


class FlakyGenerator(FakeGenerator):
    """Fails its first ``failures`` calls with ``error``, then quotes the Moon landing."""

    def __init__(self, failures: int, error: Exception) -> None:
        super().__init__()
        self.failures, self.error = failures, error

    def generate(self, messages, max_tokens, schema=None):
        self.history.append(list(messages))
        if len(self.history) <= self.failures:
            raise self.error
        yield MOON


def test_a_failed_answer_is_retried_and_then_arrives_once(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    model = FlakyGenerator(1, BackendError("Ollama is not reachable"))
    fake.updates.append(text_update(1, "Who first stepped onto the Moon?", user_id=READER))
    run_while(make_bot(data_dir, fake, real_embedder, model), lambda: not final_answers(fake))
    [shown] = final_answers(fake)
    assert first_quote(shown) == "Armstrong became the first person to step onto the Moon"
    assert len(fake.called("sendMessage")) == 1  # arrived once
    assert len(model.history) == 2


def test_an_answer_that_always_fails_gets_one_apology_and_the_bot_goes_on(
    data_dir: Path,
    fake: FakeTelegram,
    real_embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = FlakyGenerator(3, RuntimeError("the model's tokenizer broke"))
    fake.updates += [
        text_update(1, "Who first stepped onto the Moon?", user_id=READER),
        text_update(2, "Who first stepped onto the Moon?", user_id=READER),
    ]
    with caplog.at_level(logging.WARNING):
        bot = make_bot(data_dir, fake, real_embedder, model)
        run_while(bot, lambda: not final_answers(fake))
    apology, answer = fake.messages.values()
    assert apology == SORRY
    assert first_quote(answer) == "Armstrong became the first person to step onto the Moon"
    assert caplog.text.count("trying again") == 2
    assert caplog.text.count("could not answer update 1 after 3 attempts") == 1
    assert "Traceback" in caplog.text  # a bug, so the operator gets the stack
    journal = Journal(data_dir / "telegram.sqlite3")
    assert (journal.status(1), journal.status(2)) == ("failed", "answered")


@pytest.mark.parametrize("partial_still_there", [True, False])
def test_a_question_left_mid_answer_is_finished_in_the_message_it_began(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder, partial_still_there: bool
) -> None:
    journal = Journal(data_dir / "telegram.sqlite3")
    journal.record(
        1, json.dumps(text_update(1, "Who first stepped onto the Moon?", user_id=READER))
    )
    journal.set_replies(1, [555])  # the partial sent before the restart
    journal.close()
    if partial_still_there:
        fake.messages[(READER, 555)] = "Some six and a half hours …"
    method = "editMessageText" if partial_still_there else "sendMessage"
    run_until(make_bot(data_dir, fake, real_embedder), fake, method)
    [final] = fake.called(method)
    assert first_quote(final["text"]) == MOON_SENTENCE
    assert len(fake.messages) == 1  # one message answers it
    assert Journal(data_dir / "telegram.sqlite3").replies(1) == [
        555 if partial_still_there else 1001
    ]


@pytest.mark.slow
def test_a_partial_confirmed_late_is_edited_into_the_answer_not_left_behind(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.fail["sendMessage"] = [3.0]  # past the 2 s call timeout, within the send timeout
    fake.updates.append(text_update(1, "Who first stepped onto the Moon?", user_id=READER))
    patient = {"telegram.send_timeout_seconds": "10"}
    bot = make_bot(data_dir, fake, real_embedder, SlowGenerator(), **patient)
    run_until(bot, fake, "editMessageText")
    [partial] = fake.called("sendMessage")
    assert partial["text"].endswith(" …")
    [(_, shown)] = fake.messages.items()
    assert "Aldrin joined him about twenty minutes later" in shown


@pytest.mark.slow
def test_a_question_kept_waiting_is_told_so_and_the_note_becomes_its_answer(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    other = 43
    fake.updates += [
        text_update(1, "Who first stepped onto the Moon?", user_id=READER),
        text_update(2, "Who first stepped onto the Moon?", user_id=other),
    ]
    settings = {
        "telegram.allowed_users": f"{READER},{other}",
        "telegram.max_concurrent_answers": "1",
        "telegram.queued_note_seconds": "0.3",
    }
    bot = make_bot(data_dir, fake, real_embedder, SlowGenerator(), **settings)

    def shown(chat: int) -> list[str]:
        return [text for (to, _), text in fake.messages.items() if to == chat]

    run_while(bot, lambda: not any("Aldrin joined him" in text for text in shown(other)))
    notes = [m for m in fake.called("sendMessage") if int(m["chat_id"]) == other]
    assert [m["text"] for m in notes] == [QUEUED]  # then edited into the answer
    assert len(shown(other)) == 1


@pytest.mark.slow
def test_webhook_mode_refuses_calls_without_the_secret(data_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = Path(sys.executable).with_name("inquote")
    with serve(FakeTelegram()) as fake:
        env = {
            **os.environ,
            "INQUOTE_DATA_DIR": str(data_dir),
            "INQUOTE_LLM__BACKEND": "extractive",
            "INQUOTE_TELEGRAM__TOKEN": TOKEN,
            "INQUOTE_TELEGRAM__BASE_URL": fake.base_url,
            "INQUOTE_TELEGRAM__ALLOWED_USERS": str(READER),
            "INQUOTE_TELEGRAM__MODE": "webhook",
            "INQUOTE_TELEGRAM__WEBHOOK_URL": "https://bot.example.org/telegram",
            "INQUOTE_TELEGRAM__WEBHOOK_PORT": str(port),
            "INQUOTE_TELEGRAM__WEBHOOK_SECRET": "s3cret-token",
        }
        process = subprocess.Popen([script, "telegram"], env=env, stderr=subprocess.PIPE)
        try:
            [registered] = fake.wait_for("setWebhook", timeout=60)
            url = f"http://127.0.0.1:{port}/telegram"
            update = text_update(1, "Who deciphered the hieroglyphs?", user_id=READER)
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    refused = httpx.post(
                        url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
                    )
                    break
                time.sleep(0.1)
            accepted = httpx.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            )
            fake.wait_for("sendMessage", timeout=60)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
    assert registered["url"] == "https://bot.example.org/telegram"
    assert registered["secret_token"] == "s3cret-token"
    assert refused.status_code == 403
    assert accepted.status_code == 200
    [answer] = fake.called("sendMessage")
    assert first_quote(answer["text"]).startswith(CHAMPOLLION)
    assert "s3cret-token" not in stderr.decode()


def test_admins_add_articles_by_link_and_the_fetch_is_guarded(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    page = (Path(__file__).parent / "fixtures" / "web" / "library-reopens.html").read_bytes()
    site = FakeSite(routes={"/library": (200, {"Content-Type": "text/html"}, page)})
    with serve_site(site, host="127.0.0.1") as running:
        fake.updates += [
            text_update(1, f"{running.url}/library", user_id=ADMIN),  # loopback: refused
        ]
        run_until(make_bot(data_dir, fake, real_embedder), fake, "editMessageText")
        fake.updates.append(text_update(2, f"{running.url}/library", user_id=ADMIN))
        allowing = {"fetch.allow_private_addresses": "true"}
        run_until(
            make_bot(data_dir, fake, real_embedder, None, **allowing), fake, "editMessageText", 2
        )
    refused, added = texts(fake, "editMessageText")
    assert refused.startswith("Could not add it: ")
    assert "a loopback address" in refused
    assert added == "added: City library reopens after two-year renovation (1 chunks)"
    assert site.hits == ["/library"]  # the refused fetch never reached the site


@pytest.mark.slow  # a 60 MB PDF bomb
def test_a_hostile_document_gets_one_line_and_the_bot_goes_on(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    bomb = pdf(b"BT /F1 12 Tf (x) Tj ET\n" + b" " * 60_000_000, flate=True)
    fake.files["bomb"] = bomb
    document = {"file_id": "bomb", "file_unique_id": "bomb", "file_name": "report.pdf",
                "file_size": len(bomb)}  # fmt: skip
    fake.updates += [
        text_update(1, "", user_id=ADMIN, document=document),
        text_update(2, "Who first stepped onto the Moon?", user_id=READER),
    ]
    bot = make_bot(
        data_dir, fake, real_embedder, None, **{"ingest.max_pdf_stream_bytes": "5000000"}
    )
    run_until(bot, fake, "sendMessage", 2)
    [result] = texts(fake, "editMessageText")
    assert result.startswith("Could not add it: telegram upload: report.pdf: refused, the PDF")
    assert "\n" not in result
    assert first_quote(texts(fake)[-1]) == MOON_SENTENCE  # the next one is answered as usual
    assert Journal(data_dir / "telegram.sqlite3").pending() == []  # nothing left to retry


def test_a_question_over_the_limit_gets_the_reason_and_the_bot_goes_on(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.updates += [
        text_update(1, "Who deciphered the hieroglyphs? " * 4, user_id=READER),
        text_update(2, "Who first stepped onto the Moon?", user_id=READER),
    ]
    limited = {"answer.max_question_chars": "64"}
    run_until(make_bot(data_dir, fake, real_embedder, None, **limited), fake, "sendMessage", 2)
    refused, answered = texts(fake)[-2:]
    assert refused.startswith("The question is 128 characters long; the limit is 64")
    assert first_quote(answered) == MOON_SENTENCE
    assert Journal(data_dir / "telegram.sqlite3").pending() == []


class CountingGenerator(FakeGenerator):
    """Quotes the Moon landing, slower for earlier questions (the question's "(n)": a bot that
    did not keep a chat's order would answer its later questions first); counts replies written
    at once."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.at_once = self.most_at_once = 0

    def generate(self, messages, max_tokens, schema=None):
        self.history.append(list(messages))
        with self.lock:
            self.at_once += 1
            self.most_at_once = max(self.most_at_once, self.at_once)
        number = re.search(r"\((\d+)\)", messages[-1]["content"])
        time.sleep(0.2 + 0.05 * (9 - int(number.group(1)) if number else 0))
        with self.lock:
            self.at_once -= 1
        yield MOON


@pytest.mark.slow
def test_chats_are_answered_side_by_side_and_each_chat_in_order(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    users = [READER, 43, 44]
    fake.updates += [
        text_update(n + 1, f"Who first stepped onto the Moon? ({n})", user_id=users[n % 3])
        for n in range(9)
    ]
    model = CountingGenerator()
    settings = {
        "telegram.allowed_users": ",".join(map(str, users)),
        "telegram.max_concurrent_answers": "4",
    }
    run_until(make_bot(data_dir, fake, real_embedder, model, **settings), fake, "sendMessage", 9)
    assert model.most_at_once == 3  # the three chats side by side; within a chat, one at a time
    for user in users:
        replies = [json.loads(m["reply_parameters"])["message_id"]
                   for m in fake.called("sendMessage") if int(m["chat_id"]) == user]  # fmt: skip
        assert len(replies) == 3
        assert replies == sorted(replies)
    asked = [m[-1]["content"] for m in model.history]
    assert len(asked) == 9  # no follow-up rewrites: each question stands alone


@pytest.mark.slow
def test_a_crowd_of_chats_is_answered_concurrently_in_order_and_once(data_dir: Path) -> None:
    """Eight chats ask three questions each at once; a 1 s LLM; four answering slots.

    The full-size run (20 x 5, a 2 s LLM) is ``python -m benchmarks.telegram_load``.
    """
    chats, per_chat, slots, reply_seconds = 8, 3, 4, 1.0
    load = run_load(
        data_dir, chats=chats, per_chat=per_chat, slots=slots, reply_seconds=reply_seconds
    )
    questions = chats * per_chat
    assert (load.answered, load.duplicates, load.out_of_order) == (questions, 0, 0)
    assert load.llm_at_once == slots  # the slots were all in use
    assert load.llm_calls == questions  # questions that stand alone were not rewritten
    ideal = questions * reply_seconds / slots
    assert load.last_answer <= 1.3 * ideal + 2.0  # one at a time would take 24 s
    for position, seconds in enumerate(load.first_answers):  # first come, first served
        assert seconds <= 2 * math.ceil((position + 1) / slots) * reply_seconds + 2.0


def test_an_error_in_any_handler_reaches_its_sender_not_only_the_log(
    data_dir: Path,
    fake: FakeTelegram,
    real_embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = make_bot(data_dir, fake, real_embedder)

    def broken(_: object) -> None:
        raise RuntimeError("the store went away")

    monkeypatch.setattr(bot.answerer, "articles", broken)
    fake.updates += [
        text_update(1, "/sources", user_id=READER),
        text_update(2, "/help", user_id=READER),
    ]
    with caplog.at_level(logging.ERROR):
        run_until(bot, fake, "sendMessage", 2)
    sorry, help_text = texts(fake)
    assert sorry == SORRY
    assert "Ask me a question" in help_text
    assert "the store went away" in caplog.text


@pytest.mark.slow
def test_another_chat_is_answered_within_2_s_while_an_admin_adds_a_slow_document(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    slow = ("**a " * 25_000).encode()  # 100 KB of unclosed emphasis on one line
    fake.files["slow"] = slow
    document = {"file_id": "slow", "file_unique_id": "slow", "file_name": "notes.md",
                "file_size": len(slow)}  # fmt: skip
    fake.updates.append(text_update(1, "", user_id=ADMIN, document=document))
    seen: dict[str, float] = {}

    def waiting() -> bool:
        now = time.monotonic()
        if "asked" not in seen and "Adding notes.md…" in texts(fake):
            seen["asked"] = now
            with fake.lock:
                fake.updates.append(text_update(2, "Who first stepped onto the Moon?"))
        if any(int(p["chat_id"]) == READER for p in fake.called("sendMessage")):
            seen.setdefault("answered", now)
        if fake.called("editMessageText"):
            seen.setdefault("added", now)
        return len(seen) < 3

    run_while(make_bot(data_dir, fake, real_embedder), waiting)
    [answer] = [p["text"] for p in fake.called("sendMessage") if int(p["chat_id"]) == READER]
    assert first_quote(answer) == MOON_SENTENCE
    assert seen["answered"] - seen["asked"] < 2.0
    assert seen["answered"] < seen["added"]  # answered while the document was being read
    assert texts(fake, "editMessageText")[0].startswith("added: ")
