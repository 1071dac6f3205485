"""Telegram for many groups: each chat reads its own libraries, admins' articles go to their
chat's library, nothing of the server reaches a chat, and a bad start is one line (issue 27).

The real python-telegram-bot Application against the loopback fake Bot API, as in
``tests/test_telegram_bot.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.telegram.libraries import NO_LIBRARY
from ingest.embedding import Embedder
from tests.fake_telegram import BOT_USERNAME, TOKEN, FakeTelegram, callback_update, text_update
from tests.loopback import free_port
from tests.test_cli import run
from tests.test_telegram_bot import ADMIN, STRANGER, left_pending, make_bot, run_while, texts

NEWS, HISTORY, UNBOUND = -1001, -1002, -1003
BOUND = {
    "telegram.allowed_chats": f"{NEWS},{HISTORY},{UNBOUND}",
    "telegram.chat_libraries": json.dumps({str(NEWS): ["news"], str(HISTORY): ["history"]}),
    "telegram.default_libraries": "",
}
CLIPPERS = b"# Tea clippers\n\nThe Cutty Sark was built in 1869 at Dumbarton for the tea trade.\n"
LIGHTHOUSE = b"# The Bell Rock\n\nThe Bell Rock Lighthouse was first lit on 1 February 1811.\n"
SHIP = "When was the Cutty Sark built?"


def in_group(update_id: int, text: str, chat: int, **extra: Any) -> dict[str, Any]:
    """A group member's message addressed to the bot."""
    mention = f"@{BOT_USERNAME} "
    return text_update(
        update_id, mention + text, user_id=9, chat_id=chat, chat_type="supergroup",
        entities=[{"type": "mention", "offset": 0, "length": len(mention) - 1}], **extra,
    )  # fmt: skip


def document_in(update_id: int, chat: int, file_id: str, name: str, data: bytes) -> dict[str, Any]:
    document = {"file_id": file_id, "file_unique_id": file_id, "file_name": name,
                "file_size": len(data)}  # fmt: skip
    return text_update(
        update_id, "", user_id=ADMIN, chat_id=chat, chat_type="supergroup", document=document
    )


def answers_in(fake: FakeTelegram, chat: int) -> list[str]:
    """What the bot finally showed in ``chat``: each message as last edited."""
    shown: dict[int, str] = {}
    for number, params in enumerate(fake.called("sendMessage")):
        if params["chat_id"] == str(chat):
            shown[number] = params["text"]
    return list(shown.values())


def stocked(data_dir: Path, fake: FakeTelegram, embedder: Embedder) -> None:
    """An admin sends one article in each group; they go to the groups' libraries."""
    fake.files["clippers"], fake.files["lighthouse"] = CLIPPERS, LIGHTHOUSE
    fake.updates += [
        document_in(1, NEWS, "clippers", "clippers.md", CLIPPERS),
        document_in(2, HISTORY, "lighthouse", "lighthouse.md", LIGHTHOUSE),
    ]
    bot = make_bot(data_dir, fake, embedder, None, **BOUND)
    run_while(bot, lambda: len(fake.called("editMessageText")) < 2)
    assert sorted(texts(fake, "editMessageText")) == [
        "added: Tea clippers (1 chunks)",
        "added: The Bell Rock (1 chunks)",
    ]


def test_two_groups_bound_to_libraries_never_see_each_others_articles(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    stocked(data_dir, fake, real_embedder)
    fake.updates += [
        in_group(3, SHIP, NEWS),
        in_group(4, SHIP, HISTORY),
        in_group(5, "When was the Bell Rock Lighthouse first lit?", HISTORY),
        in_group(6, "Who first stepped onto the Moon?", NEWS),  # a seed: in neither library
        text_update(7, "/library", user_id=9, chat_id=NEWS, chat_type="supergroup"),
        text_update(8, "/library", user_id=9, chat_id=HISTORY, chat_type="supergroup"),
        text_update(9, "/sources", user_id=9, chat_id=NEWS, chat_type="supergroup"),
        in_group(10, SHIP, UNBOUND),
    ]
    bot = make_bot(data_dir, fake, real_embedder, None, **BOUND)
    run_while(bot, lambda: len(fake.called("sendMessage")) < 2 + 8)
    ship_news, moon, library_news, sources = answers_in(fake, NEWS)[1:]
    ship_history, lighthouse, library_history = answers_in(fake, HISTORY)[1:]
    assert not ship_news.startswith("The articles don't answer this")  # answered
    assert "The Cutty Sark was built in 1869 at Dumbarton" in ship_news
    assert ship_history.startswith("The articles don't answer this")
    assert "Cutty Sark" not in ship_history
    assert "Tea clippers" not in ship_history
    assert "first lit on 1 February 1811" in lighthouse
    assert moon.startswith("The articles don't answer this")
    assert "Armstrong" not in moon
    assert library_news == "This chat reads the library news. Articles admins add here go to news."
    assert "the library history" in library_history
    assert sources == "• Tea clippers"
    assert answers_in(fake, UNBOUND) == [NO_LIBRARY]


@pytest.mark.slow
def test_replies_and_questions_replayed_after_a_restart_keep_to_their_chats_library(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    stocked(data_dir, fake, real_embedder)
    fake.updates.append(in_group(3, "When was the Bell Rock Lighthouse first lit?", HISTORY))
    bot = make_bot(data_dir, fake, real_embedder, None, **BOUND)
    run_while(bot, lambda: len(fake.called("sendMessage")) < 3)
    answer_id = 1000 + len(fake.called("sendMessage"))
    # a reply to the history group's answer, and a question a stopped bot left unanswered
    left_pending(data_dir, in_group(5, SHIP, HISTORY)).close()
    fake.updates.append(in_group(4, "and the Cutty Sark?", HISTORY, reply_to=answer_id))
    bot = make_bot(data_dir, fake, real_embedder, None, **BOUND)
    run_while(bot, lambda: len(fake.called("sendMessage")) < 5)
    replayed, reply = answers_in(fake, HISTORY)[2:]
    for answer in (replayed, reply):
        assert answer.startswith("The articles don't answer this"), answer
        assert "Cutty Sark was built" not in answer


def test_citations_and_sources_show_no_server_paths_and_about_no_internal_urls(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.updates += [
        text_update(1, "Who first stepped onto the Moon?", user_id=9),
        text_update(2, "/sources", user_id=9),
        text_update(3, "/about", user_id=9),
    ]
    bot = make_bot(data_dir, fake, real_embedder, None, **{"telegram.allowed_users": "9"})
    run_while(bot, lambda: len(fake.called("sendMessage")) < 3)
    answer, sources, about = texts(fake)
    assert "<i>[1] Apollo 11: the first crewed Moon landing, 2025-11-20</i>" in answer
    assert "• The Rosetta Stone and the decipherment of hieroglyphs (2025-11-20)" in sources
    assert about.startswith("inquote — answers by extractive.\n5 articles here")


def start(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``inquote telegram`` as an operator starts it, expected to stop by itself."""
    environment = {
        **os.environ,
        "INQUOTE_DATA_DIR": str(data_dir),
        "INQUOTE_LLM__BACKEND": "extractive",
        "INQUOTE_TELEGRAM__ALLOWED_USERS": "9",
        "INQUOTE_TELEGRAM__RETRY_SECONDS": "0.1",
        **env,
    }
    script = Path(sys.executable).with_name("inquote")
    return subprocess.run(
        [script, "telegram"],
        check=False,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_a_refused_token_or_no_network_at_start_is_one_line_without_the_token(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    wrong = "999999:wrong-token-to-never-print"
    refused = start(tmp_path, INQUOTE_TELEGRAM__TOKEN=wrong,
                    INQUOTE_TELEGRAM__BASE_URL=fake.base_url)  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "Error: Telegram refused the bot token (401): check INQUOTE_TELEGRAM__TOKEN against what "
        "@BotFather gave you"
    ]
    assert wrong not in refused.stdout + refused.stderr
    dead = f"http://127.0.0.1:{free_port()}/bot"  # nothing listens there
    away = start(tmp_path, INQUOTE_TELEGRAM__TOKEN=TOKEN, INQUOTE_TELEGRAM__BASE_URL=dead)
    assert away.returncode == 1
    lines = away.stderr.strip().splitlines()
    assert "trying again in" in lines[0]  # retried, then given up in one line
    assert lines[-1].startswith(f"Error: The Bot API at {dead} is not reachable (ConnectError)")
    assert "Traceback" not in away.stderr
    assert TOKEN not in away.stdout + away.stderr


def test_feedback_buttons_round_trip_and_the_export_reads_back_in_eval(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.updates += [
        text_update(1, "Who first stepped onto the Moon?", user_id=9),
        text_update(2, "What is the capital of Australia?", user_id=9),
    ]
    bot = make_bot(data_dir, fake, real_embedder, None, **{"telegram.allowed_users": "9"})
    run_while(bot, lambda: len(fake.called("sendMessage")) < 2)
    moon, _ = fake.called("sendMessage")
    keyboard = json.loads(moon["reply_markup"])["inline_keyboard"]
    assert [button["text"] for button in keyboard[0]] == ["👍", "👎"]
    assert [button["callback_data"] for button in keyboard[0]] == ["fb:up:1", "fb:down:1"]
    fake.updates += [
        callback_update(fake, 3, "fb:up:1", user_id=9, message_id=1001),
        callback_update(fake, 4, "fb:down:2", user_id=9, message_id=1002),
        text_update(5, "/why it should have said Canberra", user_id=9, reply_to=1002),
        callback_update(fake, 6, "fb:up:2", user_id=STRANGER, message_id=1002),
    ]
    bot = make_bot(data_dir, fake, real_embedder, None, **{"telegram.allowed_users": "9"})
    run_while(bot, lambda: len(fake.called("answerCallbackQuery")) < 2 or
              len(fake.called("sendMessage")) < 3)  # fmt: skip
    assert [call["text"] for call in fake.called("answerCallbackQuery")] == [
        "Thanks!",
        "Thanks. To say what was wrong, reply to the answer: /why …",
    ]
    assert texts(fake)[2] == "Thanks, noted."
    exported = run(data_dir, "feedback", "--json")
    assert exported.exit_code == 0, exported.output
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(r["question"], r["vote"], r["reason"]) for r in records] == [
        ("Who first stepped onto the Moon?", "up", ""),
        ("What is the capital of Australia?", "down", "it should have said Canberra"),
    ]
    assert records[0]["quotes"][0]["text"].startswith("Some six and a half hours later")
    assert records[0]["backend"] == "extractive"
    assert records[0]["libraries"] == "*"
    feedback_file = data_dir / "feedback.jsonl"
    feedback_file.write_text(exported.stdout, encoding="utf-8")
    scored = run(data_dir, "eval", "--feedback", str(feedback_file), "--json")
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout) == {
        "down": 1, "down_changed_or_abstained": 1, "up": 1, "up_kept": 1
    }  # fmt: skip
