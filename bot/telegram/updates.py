"""How updates reach the bot's handlers: journaled as they arrive, in order within a conversation.

Polling and the webhook server both put each update into the Application's queue before Telegram
learns it arrived: polling moves its ``offset`` past a batch only once every update of it is
queued, and the webhook answers 200 after queuing. :class:`JournalingQueue` records the update in
the journal right there, so a crash at any later moment loses none. :class:`ConversationOrder`
then handles updates concurrently, except that one conversation's run one at a time, in the order
they arrived, and it gives up an update that has been started too often (a question that crashes
the process must not crash it forever).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from telegram import Bot, Update
from telegram.ext import BaseUpdateProcessor

from bot.journal import Journal

log = logging.getLogger(__name__)

MAX_UPDATES_IN_FLIGHT = 4096  # tasks waiting for their conversation's turn; answers are bounded
# separately (telegram.max_concurrent_answers)


def conversation_key(chat_id: int, user_id: int) -> str:
    """One conversation per private chat, and per person in a group."""
    return str(chat_id) if chat_id == user_id else f"{chat_id}:{user_id}"


class JournalingQueue(asyncio.Queue[object]):
    """The Application's update queue: an update is journaled before it is queued.

    An update the journal already holds (Telegram sends an unconfirmed one again after a restart)
    is not queued twice; :meth:`replay` queues the ones a restart left unfinished.
    """

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self._journal = journal

    def put_nowait(self, item: object) -> None:
        if isinstance(item, Update) and not self._journal.record(item.update_id, item.to_json()):
            log.info("update %d arrived before; not handling it again", item.update_id)
            return
        super().put_nowait(item)

    def replay(self, bot: Bot) -> int:
        """Queues the updates recorded before a restart and never finished; how many."""
        pending = self._journal.pending()
        for _, raw in pending:
            super().put_nowait(Update.de_json(json.loads(raw), bot))
        return len(pending)


class ConversationOrder(BaseUpdateProcessor):
    """Runs updates concurrently, each conversation's in arrival order, and finishes them.

    An update the journal shows started ``max_attempts`` times before is not started again: it is
    marked failed and ``give_up`` is told (to apologise to its sender).
    """

    def __init__(
        self,
        journal: Journal,
        max_attempts: int,
        give_up: Callable[[Update], Awaitable[None]],
    ) -> None:
        super().__init__(MAX_UPDATES_IN_FLIGHT)
        self._journal = journal
        self._max_attempts = max_attempts
        self._give_up = give_up
        self._locks: dict[str, asyncio.Lock] = {}
        self._queued: Counter[str] = Counter()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not isinstance(update, Update):
            await coroutine
            return
        async with self._turn(_key(update)):
            attempts = self._journal.start(update.update_id)
            if attempts is None or attempts > self._max_attempts:
                if inspect.iscoroutine(coroutine):
                    coroutine.close()
                if attempts is not None:
                    log.error(
                        "update %d was started %d times and never finished (the bot stopped "
                        "each time); giving it up",
                        update.update_id,
                        attempts - 1,
                    )
                    self._journal.finish(update.update_id, "failed")
                    await self._give_up(update)
                return
            await coroutine
        self._journal.finish(update.update_id, "done")  # a question has finished itself

    @asynccontextmanager
    async def _turn(self, key: str | None) -> AsyncIterator[None]:
        """Waits for the earlier updates of the conversation ``key`` (asyncio locks are FIFO)."""
        if key is None:
            yield
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._queued[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._queued[key] -= 1
            if not self._queued[key]:
                del self._queued[key], self._locks[key]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _key(update: Update) -> str | None:
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return None
    return conversation_key(chat.id, user.id if user else chat.id)
