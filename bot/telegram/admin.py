"""Admins add articles from the chat: a document, or a link, through the same ingest service as
``inquote ingest``; progress and the outcome are one message, edited."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

from telegram import Bot, ReplyParameters, Update
from telegram.ext import ContextTypes

from bot.journal import Question
from bot.telegram.delivery import NO_PREVIEW, reply_text
from bot.telegram.libraries import NO_LIBRARY, ChatLibraries
from config.errors import InquoteError
from config.settings import TelegramSettings
from ingest.outcomes import IngestOutcome
from ingest.pipeline import Ingestor
from ingest.reading import SUPPORTED_SUFFIXES

MEGABYTE = 1024 * 1024
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


class AdminIngest:
    """Articles admins send go into their chat's library (:mod:`bot.telegram.libraries`)."""

    def __init__(self, settings: TelegramSettings, ingestor: Ingestor) -> None:
        self._settings = settings
        self._ingestor = ingestor
        self._libraries = ChatLibraries(settings)

    def is_link(self, asked: Question) -> bool:
        """An admin's message that is a link only: an article to add, not a question."""
        return asked.user_id in self._settings.admins and bool(_URL.fullmatch(asked.text.strip()))

    async def document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An admin's document: checked, downloaded, ingested."""
        message = update.effective_message
        if message is None or message.document is None or message.from_user is None:
            return
        if message.from_user.id not in self._settings.admins:
            await reply_text(update, "Only admins can add articles.")
            return
        library = self._libraries.for_new_articles(message.chat.id)
        if library is None:
            await reply_text(update, NO_LIBRARY)
            return
        document = message.document
        name = Path(document.file_name or "upload").name
        suffix = Path(name).suffix.lower()
        limit = self._settings.max_document_mb
        if suffix not in SUPPORTED_SUFFIXES:
            await reply_text(update, f"{name}: I can add {', '.join(SUPPORTED_SUFFIXES)} files.")
            return
        if (document.file_size or 0) > limit * MEGABYTE:
            await reply_text(update, f"{name} is larger than {limit:g} MB; I can't add it.")
            return
        progress = await message.reply_text(f"Adding {name}…")
        try:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / re.sub(r"[^\w.-]", "_", name)
                file = await context.bot.get_file(document.file_id)
                await file.download_to_drive(path)
                outcome = await asyncio.to_thread(
                    self._ingestor.add_document, path, f"telegram upload: {name}", library
                )
            result = _ingest_result(outcome)
        except InquoteError as exc:
            result = f"Could not add {name}: {exc}"
        await progress.edit_text(result)

    async def add_link(self, bot: Bot, asked: Question) -> None:
        """An admin sent a link: fetch it safely and add its article."""
        url = asked.text.strip()
        library = self._libraries.for_new_articles(asked.chat_id)
        if library is None:
            await bot.send_message(asked.chat_id, NO_LIBRARY)
            return
        progress = await bot.send_message(
            asked.chat_id,
            f"Adding {url}…",
            link_preview_options=NO_PREVIEW,
            reply_parameters=ReplyParameters(asked.message_id, allow_sending_without_reply=True),
        )
        outcome = await asyncio.to_thread(self._ingestor.add_url, url, library)
        await progress.edit_text(_ingest_result(outcome), link_preview_options=NO_PREVIEW)


def _ingest_result(outcome: IngestOutcome) -> str:
    """What became of an article an admin sent, in one line."""
    if outcome.status == "failed":
        return f"Could not add it: {outcome.reason}"
    if outcome.status == "duplicate":
        return f"Already stored: {outcome.reason}"
    return f"{outcome.status}: {outcome.title} ({outcome.chunks} chunks)"
