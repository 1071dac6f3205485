"""News in Telegram (issue 26): /summary of an answer's article, /since for a conversation,
/digest of what was added, and a daily digest that survives a restart. Real PTB (its JobQueue
too) against the loopback fake Bot API."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from bot.journal import Journal
from config.settings import load_settings
from ingest.embedding import Embedder
from ingest.pipeline import Ingestor
from ingest.store import ChromaStore
from tests.fake_telegram import FakeTelegram, text_update
from tests.test_news_dates import DATED
from tests.test_telegram_bot import READER, make_bot, run_while, running, texts

QUOTED = re.compile(r"<blockquote expandable>(.*?)</blockquote>", re.DOTALL)


def with_dated_news(data_dir: Path, embedder: Embedder) -> None:
    """The three dated articles added to the store, as `inquote ingest` adds them."""
    store = ChromaStore.open_persistent(data_dir, embedder.fingerprint, write=True)
    try:
        settings = load_settings(overrides={"data_dir": str(data_dir)})
        Ingestor(store, embedder, settings).add_paths([DATED])
    finally:
        store.close()


def test_summary_of_an_answers_article_quotes_its_opening(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.updates.append(text_update(1, "When did the molasses tank burst?", user_id=READER))
    run_while(make_bot(data_dir, fake, real_embedder), lambda: not fake.called("sendMessage"))
    fake.updates += [
        text_update(2, "/summary", user_id=READER, reply_to=1001),
        text_update(3, "/summary Rosetta Stone", user_id=READER),
        text_update(4, "/summary", user_id=READER),
    ]
    bot = make_bot(data_dir, fake, real_embedder)
    run_while(bot, lambda: len(fake.called("sendMessage")) < 4)
    _, flood, rosetta, bare = texts(fake)
    assert flood.startswith("The Great Molasses Flood of 1919 (1919-01-15), in its own words:")
    assert QUOTED.findall(flood)[0].startswith("Boston, 15 January 1919. Shortly after noon,")
    assert QUOTED.findall(rosetta)[0].startswith("The Rosetta Stone is a slab of granodiorite")
    assert "Reply /summary to one of my answers" in bare


def test_since_keeps_a_conversation_to_articles_from_that_day(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    with_dated_news(data_dir, real_embedder)
    fake.updates += [
        text_update(1, "/since 2022-02-23", user_id=READER),
        text_update(2, "What did Putin announce?", user_id=READER),
        text_update(3, "/since someday", user_id=READER),
    ]
    run_while(make_bot(data_dir, fake, real_embedder), lambda: len(fake.called("sendMessage")) < 3)
    since, answer, usage = texts(fake)
    assert "published since 2022-02-23" in since
    assert "2022-02-22" not in answer
    assert "2022-02-24" in answer or "2022-03-02" in answer
    assert "It reads articles published since 2022-02-23" in usage


def test_digest_lists_what_was_added_since_the_last_one(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.updates.append(text_update(1, "/digest", user_id=READER))
    run_while(make_bot(data_dir, fake, real_embedder), lambda: not fake.called("sendMessage"))
    [first] = texts(fake)
    assert first.startswith("5 new articles:")
    assert "licensed under" not in first
    with_dated_news(data_dir, real_embedder)
    fake.updates += [
        text_update(2, "/digest", user_id=READER),
        text_update(3, "/digest", user_id=READER),
    ]
    run_while(make_bot(data_dir, fake, real_embedder), lambda: len(fake.called("sendMessage")) < 3)
    _, second, third = texts(fake)
    assert second.startswith("3 new articles:")
    dates = re.findall(r"<i>.*?, (\d{4}-\d\d-\d\d)</i>", second)
    assert dates == ["2022-03-02", "2022-02-24", "2022-02-22"]  # newest first
    assert QUOTED.findall(second)[0].startswith("GOMEL, 2 March 2022")
    assert third == "Nothing new since the last digest."


@pytest.mark.slow
def test_a_daily_digest_is_kept_across_a_restart_and_sent(
    data_dir: Path, fake: FakeTelegram, real_embedder: Embedder
) -> None:
    fake.updates.append(text_update(1, "/digest daily 07:30", user_id=READER))
    run_while(make_bot(data_dir, fake, real_embedder), lambda: not fake.called("sendMessage"))
    assert "every day at 07:30 UTC" in texts(fake)[0]
    assert Journal(data_dir / "telegram.sqlite3").daily_digests() == {READER: "07:30"}
    with_dated_news(data_dir, real_embedder)
    bot = make_bot(data_dir, fake, real_embedder)  # a restart: the schedule comes from the journal

    async def scenario() -> None:
        async with running(bot) as application:
            assert application.job_queue is not None
            [job] = application.job_queue.get_jobs_by_name(f"digest:{READER}")
            assert job.next_t is not None
            assert (job.next_t.hour, job.next_t.minute) == (7, 30)
            await job.run(application)  # as the scheduler runs it at 07:30
            deadline = time.monotonic() + 30
            while len(fake.called("sendMessage")) < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)

    asyncio.run(scenario())
    digest = texts(fake)[1]
    assert digest.startswith("8 new articles:")  # the seeds and the dated news: never digested
    off = make_bot(data_dir, fake, real_embedder)
    fake.updates.append(text_update(2, "/digest off", user_id=READER))
    run_while(off, lambda: len(fake.called("sendMessage")) < 3)
    assert Journal(data_dir / "telegram.sqlite3").daily_digests() == {}
