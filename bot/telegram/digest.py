"""Digests: the articles a chat's libraries gained since its last digest, on ``/digest`` or every
day at a time the chat chose (PTB's JobQueue; the time is kept in the journal, so a restart
schedules it again).

Each article is its title, date and lead sentence, quoted verbatim; at most
``telegram.digest_items`` articles a message.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import UTC
from datetime import time as day_time
from typing import Any

from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes, JobQueue

from bot.answering import Answerer
from bot.journal import Journal
from bot.telegram.delivery import NO_PREVIEW
from bot.telegram.formatting import RenderedMessage, citation, render_digest, render_text
from bot.telegram.libraries import NO_LIBRARY, ChatLibraries

log = logging.getLogger(__name__)

MAX_MESSAGES = 3  # of one digest; the rest are counted, and /sources lists them
NOTHING_NEW = "Nothing new since the last digest."
_DAILY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class Digests:
    def __init__(
        self, answerer: Answerer, journal: Journal, libraries: ChatLibraries, per_message: int
    ) -> None:
        self._answerer = answerer
        self._journal = journal
        self._libraries = libraries
        self._per_message = per_message

    def digest(self, chat_id: int) -> list[RenderedMessage] | None:
        """The chat's digest of what its libraries gained since the last one, which it marks as
        given; None when nothing is new."""
        scope = self._libraries.scope(chat_id)
        if scope is None:
            return render_text(NO_LIBRARY)
        looking = time.time_ns()
        since = self._journal.digested(chat_id)
        fresh = self._answerer.added_since(scope, since or None)
        self._journal.set_digested(chat_id, looking)
        if not fresh:
            return None
        shown = fresh[: self._per_message * MAX_MESSAGES]
        items = [
            (quote, citation(article.title, article.published, article.source))
            for article in shown
            if (quote := self._answerer.lead_quote(article)) is not None
        ]
        more = len(fresh) - len(shown)
        header = f"{len(fresh)} new article{'s' if len(fresh) != 1 else ''}" + (
            f" ({more} more in /sources)" if more else ""
        )
        return render_digest(header + ":", items, self._per_message)


def daily_time(text: str) -> day_time | None:
    """``HH:MM`` as a UTC time of day; None when it is not one."""
    match = _DAILY.match(text.strip())
    return day_time(int(match[1]), int(match[2]), tzinfo=UTC) if match else None


def schedule(jobs: JobQueue[Any], digests: Digests, chat_id: int, at: day_time | None) -> None:
    """Sends ``chat_id`` its digest every day ``at`` (None: no more)."""
    for job in jobs.get_jobs_by_name(_job_name(chat_id)):
        job.schedule_removal()
    if at is None:
        return

    async def send(context: ContextTypes.DEFAULT_TYPE) -> None:
        messages = await asyncio.to_thread(digests.digest, chat_id)
        for message in messages or []:
            try:
                await context.bot.send_message(
                    chat_id,
                    message.html,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                )
            except TelegramError as exc:  # blocked, or the group is gone: logged, tried tomorrow
                log.warning("could not send chat %d its daily digest: %s", chat_id, exc)
                return

    jobs.run_daily(send, at, chat_id=chat_id, name=_job_name(chat_id))


def _job_name(chat_id: int) -> str:
    return f"digest:{chat_id}"
