"""Answering one question asked in Telegram: its turn, its answer, retries, and its end.

At most ``telegram.max_concurrent_answers`` questions are answered at once; the rest wait in a
fair queue (first come, first served; :mod:`bot.telegram.updates` keeps one conversation's
questions in order, so a chat waits with one question at a time), with "typing…" shown, and a
short note when the wait is long — the note becomes the answer. A failure is retried with a
doubling wait; an asker Telegram cannot reach (blocked, chat gone) is given up at once. A question
given up gets one short apology, if its asker can be reached, and the operator a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.answering import Answerer, checked_question
from bot.conversation import Conversation
from bot.generation import Generator
from bot.journal import Journal, Question, Status
from bot.telegram import formatting
from bot.telegram.delivery import Delivery, Stream, keep_typing, unreachable
from bot.telegram.libraries import NO_LIBRARY, ChatLibraries
from bot.telegram.updates import conversation_key
from config.errors import BackendError, QuestionError
from config.settings import Settings

log = logging.getLogger(__name__)

APOLOGY = (
    "Sorry, I can't answer right now: the language model is not available. "
    "The operator has been told."
)
# Extractive answers take a fraction of a second of CPU each: this many at once keep cores busy.
EXTRACTIVE_AT_ONCE = 4
SORRY = "Sorry, something went wrong while answering this. The operator has been told."
QUEUED = "Many questions arrived at once; yours is in line and will be answered in turn."


def feedback_buttons(update_id: int) -> InlineKeyboardMarkup:
    """👍 / 👎 under an answer; the callback data names the question's update, not the text."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("👍", callback_data=f"fb:up:{update_id}"),
          InlineKeyboardButton("👎", callback_data=f"fb:down:{update_id}")]]
    )  # fmt: skip


def concurrent_answers(settings: Settings, generator: Generator | None) -> int:
    """``telegram.max_concurrent_answers``, or (0) what the LLM backend can serve at once (a pool
    of servers: more); extractive answers: :data:`EXTRACTIVE_AT_ONCE`."""
    chosen = settings.telegram.max_concurrent_answers
    return chosen or (generator.capacity if generator is not None else EXTRACTIVE_AT_ONCE)


class Answers:
    """The answering flow for questions already in the journal."""

    def __init__(self, settings: Settings, answerer: Answerer, journal: Journal) -> None:
        self._settings = settings
        self._telegram = settings.telegram
        self._answerer = answerer
        self._journal = journal
        self._slots = asyncio.Semaphore(concurrent_answers(settings, answerer.generator))
        self.libraries = ChatLibraries(settings.telegram)

    def delivery(self, bot: Bot, asked: Question) -> Delivery:
        return Delivery(
            bot,
            self._journal,
            self._telegram.send_timeout_seconds,
            update_id=asked.update_id,
            chat_id=asked.chat_id,
            reply_to=asked.message_id,
        )

    async def answer(self, bot: Bot, asked: Question) -> None:
        """Answers ``asked`` once its turn comes, and finishes it in the journal."""
        delivery = self.delivery(bot, asked)
        typing = asyncio.create_task(keep_typing(delivery.typing))
        try:
            status = await self._answer(delivery, asked)
        finally:
            typing.cancel()
        self._journal.finish(asked.update_id, status)

    async def _answer(self, delivery: Delivery, asked: Question) -> Status:
        try:
            checked_question(asked.text, self._settings.answer.max_question_chars)
        except QuestionError as exc:  # refused before it takes a place in the queue
            return "answered" if await self.say(delivery, str(exc)) else "failed"
        async with self._turn(delivery):
            attempt = 1
            while True:
                try:
                    await self._answer_once(delivery, asked)
                    return "answered"
                except Exception as exc:  # any failure is retried, then given up
                    if unreachable(exc):
                        log.warning(
                            "update %d: Telegram cannot reach chat %d (%s); not answering it",
                            asked.update_id,
                            asked.chat_id,
                            exc,
                        )
                        return "failed"
                    if attempt == self._telegram.max_attempts:
                        return await self._give_up(delivery, asked, exc)
                    wait = self._telegram.retry_seconds * 2 ** (attempt - 1)
                    log.warning(
                        "update %d: answering failed (%s); trying again in %.1f s",
                        asked.update_id,
                        exc,
                        wait,
                    )
                await asyncio.sleep(wait)
                attempt += 1

    async def _answer_once(self, delivery: Delivery, asked: Question) -> None:
        """One try at answering ``asked`` from its chat's libraries as configured now (a
        question replayed after a restart too)."""
        scope = self.libraries.scope(asked.chat_id)
        if scope is None:
            await delivery.finish([formatting.render_text(NO_LIBRARY)[0]])
            return
        key = conversation_key(asked.chat_id, asked.user_id)
        if since := self._journal.since(key):  # /since, for this conversation
            scope = replace(scope, since=max(scope.since, since))
        previous = (
            self._journal.answer_turn(asked.chat_id, asked.reply_to) if asked.reply_to else None
        )
        turns = [previous] if previous else self._journal.turns(key)
        conversation = Conversation(
            self._answerer, self._settings.conversation.history_turns, turns
        )
        # Extractive answers arrive whole; only a model's answer is worth showing as it grows.
        live = self._answerer.generator is not None
        interval = self._telegram.edit_interval_seconds if live else None
        stream = Stream(interval, lambda partial: delivery.show(0, partial, final=False))
        turn = await stream.run(conversation, asked.text, scope)
        await delivery.finish(
            formatting.render_answer(turn.answer), feedback_buttons(asked.update_id)
        )
        if delivery.first is not None:
            self._journal.remember_answer(asked.chat_id, delivery.first, turn)
            libraries = ",".join(scope.libraries) or "*"
            self._journal.answered(asked.update_id, asked.chat_id, delivery.first, turn, libraries)
        if previous is None:
            self._journal.save_turns(key, conversation.turns)

    async def _give_up(self, delivery: Delivery, asked: Question, exc: Exception) -> Status:
        log.error(
            "could not answer update %d after %d attempts: %s",
            asked.update_id,
            self._telegram.max_attempts,
            exc,
            exc_info=not isinstance(exc, BackendError | TelegramError),
        )
        await self.say(delivery, APOLOGY if isinstance(exc, BackendError) else SORRY)
        return "failed"

    async def say(self, delivery: Delivery, text: str) -> bool:
        """A short reply in place of an answer (a refusal, an apology); False if it failed."""
        try:
            await delivery.finish([formatting.render_text(text)[0]])
        except TelegramError as exc:
            log.warning("could not reply (%s)", exc)
            return False
        return True

    @asynccontextmanager
    async def _turn(self, delivery: Delivery) -> AsyncIterator[None]:
        """Holds one of the answering slots; a long wait gets a note that the answer replaces."""
        if self._slots.locked():
            waited = asyncio.Event()
            note = asyncio.create_task(self._note_when_waiting_long(delivery, waited))
            try:
                await self._slots.acquire()
            finally:
                waited.set()
                await note  # a note being sent is finished first, so its id is known and edited
        else:
            await self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()

    async def _note_when_waiting_long(self, delivery: Delivery, waited: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(waited.wait(), self._telegram.queued_note_seconds)
        except TimeoutError:
            try:
                await delivery.show(0, formatting.render_text(QUEUED)[0], final=False)
            except TelegramError as exc:
                log.info("could not tell an asker their question is queued (%s)", exc)
