"""Getting an answer onto the chat: one message per part, sent once, edited after.

The ids of an answer's messages are journaled as they go out, so whatever shows the answer next —
the next streaming edit, the final answer, a retry, the same question after a restart — edits
those messages instead of sending new ones. A message whose confirmation is late is waited for
(``telegram.send_timeout_seconds``), so its id is known and it is edited too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from telegram import (
    Bot,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError, TimedOut

from bot.answer import Turn
from bot.conversation import Conversation
from bot.journal import Journal
from bot.telegram import formatting
from bot.telegram.formatting import RenderedMessage
from ingest.schema import Scope

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TYPING_EVERY = 4.0  # seconds; Telegram shows "typing…" for about five
TYPING_AFTER = 0.5
_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")


def unreachable(exc: BaseException) -> bool:
    """Telegram will not deliver to this chat whatever we do: blocked, kicked, deleted."""
    return isinstance(exc, Forbidden) or (
        isinstance(exc, BadRequest) and "chat not found" in str(exc).lower()
    )


class Delivery:
    """The messages that answer one update (a question, a command), in the chat it came from."""

    def __init__(
        self,
        bot: Bot,
        journal: Journal,
        send_timeout: float,
        *,
        update_id: int,
        chat_id: int,
        reply_to: int,
    ) -> None:
        self._bot = bot
        self._journal = journal
        self._update_id = update_id
        self._chat_id = chat_id
        self._reply_to = reply_to
        self._send_timeout = send_timeout
        self._ids = journal.replies(update_id)
        self._in_doubt: set[int] = set()  # parts whose send timed out: they may have arrived

    @property
    def first(self) -> int | None:
        """The id of the answer's first message, once known."""
        return self._ids[0] if self._ids else None

    async def show(
        self,
        index: int,
        message: RenderedMessage,
        *,
        final: bool = True,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """Shows ``message`` as part ``index``: edits the part shown before, or sends it.

        A part whose send timed out is not sent again while it is partial; a final part is, so the
        answer arrives even if a stuck partial stays behind.
        """
        if index < len(self._ids):
            try:
                await self._attempt(message, self._ids[index], markup)
                return
            except BadRequest as exc:
                if not any(phrase in str(exc).lower() for phrase in _GONE):
                    raise
                log.info("message %d is gone (%s); sending the answer anew", self._ids[index], exc)
                del self._ids[index:]
        elif index in self._in_doubt and not final:
            return
        try:
            sent = await self._attempt(message, None, markup)
        except TimedOut:
            log.warning(
                "Telegram did not confirm a message for update %d in %.0f s; it may have "
                "arrived, so it is not sent again",
                self._update_id,
                self._send_timeout,
            )
            self._in_doubt.add(index)
            return
        self._ids[index:] = [sent]
        self._journal.set_replies(self._update_id, self._ids)

    async def finish(
        self, messages: Sequence[RenderedMessage], markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """Shows the final answer (``markup``: buttons under its last message); messages left
        from a longer earlier version are deleted."""
        for index, message in enumerate(messages):
            await self.show(index, message, markup=markup if index == len(messages) - 1 else None)
        for stale in self._ids[len(messages) :]:
            with contextlib.suppress(TelegramError):
                await self._bot.delete_message(self._chat_id, stale)
        del self._ids[len(messages) :]
        self._journal.set_replies(self._update_id, self._ids)

    async def typing(self) -> None:
        await self._bot.send_chat_action(self._chat_id, ChatAction.TYPING)

    async def _attempt(
        self, message: RenderedMessage, edit: int | None, markup: InlineKeyboardMarkup | None
    ) -> int:
        """Sends or edits once as HTML, again as plain text if Telegram refuses the HTML."""
        try:
            return await self._call(message.html, ParseMode.HTML, edit, markup)
        except BadRequest as exc:
            if edit is not None and "not modified" in str(exc).lower():
                return edit
            if "parse entities" not in str(exc).lower():
                raise
            log.warning("Telegram refused the formatting (%s); sending plain text", exc)
            return await self._call(message.plain, None, edit, markup)

    async def _call(
        self,
        text: str,
        parse_mode: str | None,
        edit: int | None,
        markup: InlineKeyboardMarkup | None,
    ) -> int:
        if edit is not None:
            edited = await self._bot.edit_message_text(
                text,
                chat_id=self._chat_id,
                message_id=edit,
                parse_mode=parse_mode,
                link_preview_options=NO_PREVIEW,
                reply_markup=markup,
                read_timeout=self._send_timeout,
            )
            return int(edited.message_id) if isinstance(edited, Message) else edit
        sent = await self._bot.send_message(
            self._chat_id,
            text,
            parse_mode=parse_mode,
            link_preview_options=NO_PREVIEW,
            reply_parameters=ReplyParameters(self._reply_to, allow_sending_without_reply=True),
            reply_markup=markup,
            read_timeout=self._send_timeout,
        )
        return int(sent.message_id)


async def reply_text(update: Update, text: str) -> None:
    """A command's short reply, in as many messages as it takes."""
    await reply_messages(update, formatting.render_text(text))


async def reply_messages(update: Update, messages: Sequence[RenderedMessage]) -> None:
    """A command's reply, rendered (an answer, a digest)."""
    message = update.effective_message
    if message is None:
        return
    for part in messages:
        await message.reply_text(
            part.html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
        )


class Stream:
    """Runs one question in a worker thread and shows its text as it grows.

    ``interval`` is the least time between two showings; None shows nothing until the end.
    """

    def __init__(
        self, interval: float | None, show: Callable[[RenderedMessage], Awaitable[None]]
    ) -> None:
        self._interval = interval
        self._show = show

    async def run(self, conversation: Conversation, text: str, scope: Scope) -> Turn:
        """``conversation`` answers ``text`` from the articles in ``scope``."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str] = asyncio.Queue()

        def on_text(piece: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        work = asyncio.create_task(asyncio.to_thread(conversation.ask, text, on_text, scope))
        shown, last = "", 0.0
        while not work.done():
            piece = asyncio.create_task(pieces.get())
            await asyncio.wait({piece, work}, return_when=asyncio.FIRST_COMPLETED)
            if piece.done():
                shown += piece.result()
            else:
                piece.cancel()
            due = self._interval is not None and time.monotonic() - last >= self._interval
            if due and not work.done():  # a complete answer is shown whole, not as a partial
                await self._show(formatting.render_text(shown + " …")[0])
                last = time.monotonic()
        return await work


async def keep_typing(send: Callable[[], Awaitable[object]]) -> None:
    """Shows "typing…" until cancelled; a failed chat action is not worth an error.

    The first is sent after TYPING_AFTER: an answer ready sooner needs none, and Telegram counts
    chat actions against the bot's 30 requests a second.
    """
    await asyncio.sleep(TYPING_AFTER)
    while True:
        with contextlib.suppress(Exception):
            await send()
        await asyncio.sleep(TYPING_EVERY)
