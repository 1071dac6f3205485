"""inquote as a Telegram bot (python-telegram-bot v22), a thin front-end over the answering API.

Updates from people not allowed by ``telegram.allowed_users``/``allowed_chats`` stop at a
gatekeeper and reach no handler. Every question is journaled before it is answered and marked done
after (:mod:`bot.journal`). Answers stream by editing one message, then become the rendered answer
(:mod:`bot.telegram_format`), falling back to plain text if Telegram rejects the formatting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from telegram import (
    BotCommand,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot import telegram_format
from bot.answering import Answerer
from bot.conversation import Conversation, Turn
from bot.journal import Journal, Question
from config.errors import BackendError, ConfigError, InquoteError, QuestionError
from config.settings import Settings
from ingest.outcomes import IngestOutcome
from ingest.pipeline import Ingestor
from ingest.reading import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)

HELP = """Ask me a question about the stored articles. Every quote I show is checked, word for \
word, against the article it names; when the articles don't hold the answer, I say so.

Reply to one of my answers to ask a follow-up about it.

/sources — the articles I know
/reset — forget our conversation
/about — what answers and how much is stored"""
APOLOGY = (
    "Sorry, I can't answer right now: the language model is not available. "
    "The operator has been told."
)
TYPING_EVERY = 4.0  # seconds; Telegram shows "typing…" for about five
MEGABYTE = 1024 * 1024
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class InquoteBot:
    """Handlers and the answering flow; the Application is built by :func:`build_application`."""

    def __init__(
        self, settings: Settings, answerer: Answerer, ingestor: Ingestor, backend_line: str
    ) -> None:
        self.settings = settings
        self._telegram = settings.telegram
        self._answerer = answerer
        self._ingestor = ingestor
        self._backend_line = backend_line
        self.journal = Journal(settings.data_dir / "telegram.sqlite3")
        self._allowed_users = set(self._telegram.allowed_users) | set(self._telegram.admins)
        self._allowed_chats = set(self._telegram.allowed_chats)

    async def gatekeeper(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Stops every update from someone not allowed, before any handler sees it."""
        user, chat = update.effective_user, update.effective_chat
        if (user and user.id in self._allowed_users) or (chat and chat.id in self._allowed_chats):
            return
        log.info(
            "ignored an update from user id %s in chat id %s: add them to "
            "telegram.allowed_users or telegram.allowed_chats to let them ask",
            user.id if user else "-",
            chat.id if chat else "-",
        )
        raise ApplicationHandlerStop

    async def help(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """/start and /help."""
        await self._reply_text(update, HELP)

    async def sources(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """/sources: the stored articles."""
        stored = await asyncio.to_thread(self._answerer.articles)
        articles = [article for article in stored if not article.duplicate_of]
        lines = [
            f"• {article.title}"
            + (f" ({article.published})" if article.published else "")
            + f"\n  {article.source}"
            for article in articles
        ]
        await self._reply_text(update, "\n".join(lines) or "No articles are stored yet.")

    async def reset(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """/reset: forget this conversation."""
        if update.effective_message and update.effective_chat and update.effective_user:
            key = conversation_key(update.effective_chat.id, update.effective_user.id)
            self.journal.save_turns(key, [])
        await self._reply_text(update, "Conversation forgotten.")

    async def about(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """/about and /stats."""
        articles, chunks = await asyncio.to_thread(self._answerer.counts)
        await self._reply_text(
            update,
            f"inquote — {self._backend_line}.\n{articles} articles, {chunks} chunks stored; "
            f"{self.journal.answered_count()} questions answered.",
        )

    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message: journal it, answer it, mark it done."""
        message = update.effective_message
        if message is None or message.text is None or message.from_user is None:
            return
        text: str | None = message.text
        if message.chat.type != ChatType.PRIVATE:
            text = _addressed_text(message, context.bot.username, context.bot.id)
        if text is None:
            return
        reply_to = message.reply_to_message
        asked = Question(
            update.update_id,
            message.chat.id,
            message.from_user.id,
            message.message_id,
            text,
            reply_to.message_id
            if reply_to and reply_to.from_user and reply_to.from_user.id == context.bot.id
            else None,
        )
        if not self.journal.begin(asked):
            log.info("update %d was answered before; not answering it again", update.update_id)
            return
        await self.answer(context.application, asked)

    async def answer(self, application: AnyApplication, asked: Question) -> None:
        """Answers a journaled question (live or after a restart) and marks it done."""
        bot = application.bot
        if asked.user_id in self._telegram.admins and _URL.fullmatch(asked.text.strip()):
            await self._add_url(application, asked)
            self.journal.finish(asked.update_id)
            return
        key = conversation_key(asked.chat_id, asked.user_id)
        previous = (
            self.journal.answer_turn(asked.chat_id, asked.reply_to) if asked.reply_to else None
        )
        turns = [previous] if previous else self.journal.turns(key)
        history = self.settings.conversation.history_turns
        conversation = Conversation(self._answerer, history, turns)

        async def show(message: telegram_format.RenderedMessage, edit: int | None) -> int | None:
            return await self._send(application, asked, message, edit)

        # Extractive answers arrive whole; only a model's answer is worth showing as it grows.
        live = self._answerer.generator is not None
        stream = _Stream(self._telegram.edit_interval_seconds if live else None, show)
        typing = asyncio.create_task(
            _keep_typing(lambda: bot.send_chat_action(asked.chat_id, ChatAction.TYPING))
        )
        try:
            turn = await stream.run(conversation, asked.text)
        except (BackendError, QuestionError) as exc:
            log.error("could not answer update %d: %s", asked.update_id, exc)
            reply = str(exc) if isinstance(exc, QuestionError) else APOLOGY
            await self._send(application, asked, telegram_format.render_text(reply)[0])
            self.journal.finish(asked.update_id)
            return
        finally:
            typing.cancel()
        messages = telegram_format.render_answer(turn.answer)
        first = await self._send(application, asked, messages[0], edit=stream.message_id)
        for extra in messages[1:]:
            await self._send(application, asked, extra)
        if first is not None:
            self.journal.remember_answer(asked.chat_id, first, turn)
        if previous is None:
            self.journal.save_turns(key, conversation.turns)
        self.journal.finish(asked.update_id)

    async def answer_pending(self, application: AnyApplication) -> None:
        """After a restart: answer what was asked but never answered."""
        for asked in self.journal.pending():
            log.info("answering update %d, left unanswered before a restart", asked.update_id)
            await self.answer(application, asked)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Logs what no handler caught; the update stays journaled as pending if it was one."""
        log.error("error while handling an update: %s", context.error, exc_info=context.error)

    async def document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An admin's document: checked, downloaded, ingested; progress and result in chat."""
        message = update.effective_message
        if message is None or message.document is None or message.from_user is None:
            return
        if message.from_user.id not in self._telegram.admins:
            await self._reply_text(update, "Only admins can add articles.")
            return
        document = message.document
        name = Path(document.file_name or "upload").name
        suffix = Path(name).suffix.lower()
        limit = self._telegram.max_document_mb
        if suffix not in SUPPORTED_SUFFIXES:
            await self._reply_text(
                update, f"{name}: I can add {', '.join(SUPPORTED_SUFFIXES)} files."
            )
            return
        if (document.file_size or 0) > limit * MEGABYTE:
            await self._reply_text(update, f"{name} is larger than {limit:g} MB; I can't add it.")
            return
        progress = await message.reply_text(f"Adding {name}…")
        try:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / re.sub(r"[^\w.-]", "_", name)
                file = await context.bot.get_file(document.file_id)
                await file.download_to_drive(path)
                outcome = await asyncio.to_thread(
                    self._ingestor.add_document, path, f"telegram upload: {name}"
                )
            result = _ingest_result(outcome)
        except InquoteError as exc:
            result = f"Could not add {name}: {exc}"
        await progress.edit_text(result)

    async def _add_url(self, application: AnyApplication, asked: Question) -> None:
        """An admin sent a link: fetch it safely and add its article; progress and result here."""
        url = asked.text.strip()
        progress = await application.bot.send_message(
            asked.chat_id,
            f"Adding {url}…",
            link_preview_options=NO_PREVIEW,
            reply_parameters=ReplyParameters(asked.message_id, allow_sending_without_reply=True),
        )
        outcome = await asyncio.to_thread(self._ingestor.add_url, url)
        await progress.edit_text(_ingest_result(outcome), link_preview_options=NO_PREVIEW)

    async def _reply_text(self, update: Update, text: str) -> None:
        message = update.effective_message
        if message is None:
            return
        for part in telegram_format.render_text(text):
            await message.reply_text(
                part.html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
            )

    async def _send(
        self,
        application: AnyApplication,
        asked: Question,
        message: telegram_format.RenderedMessage,
        edit: int | None = None,
    ) -> int | None:
        """Sends or edits one message: plain text if the HTML is refused, never twice on timeout."""
        bot = application.bot

        async def attempt(text: str, parse_mode: str | None) -> int | None:
            if edit is not None:
                edited = await bot.edit_message_text(
                    text,
                    chat_id=asked.chat_id,
                    message_id=edit,
                    parse_mode=parse_mode,
                    link_preview_options=NO_PREVIEW,
                )
                return int(edited.message_id) if isinstance(edited, Message) else edit
            sent = await bot.send_message(
                asked.chat_id,
                text,
                parse_mode=parse_mode,
                link_preview_options=NO_PREVIEW,
                reply_parameters=ReplyParameters(
                    asked.message_id, allow_sending_without_reply=True
                ),
            )
            return int(sent.message_id)

        try:
            try:
                return await attempt(message.html, ParseMode.HTML)
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return edit
                if "parse entities" not in str(exc).lower():
                    raise
                log.warning("Telegram refused the formatting (%s); sending plain text", exc)
                return await attempt(message.plain, None)
        except TimedOut:
            log.warning(
                "sending the answer to update %d timed out; it may have arrived, so it is not "
                "sent again",
                asked.update_id,
            )
            return None


NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class _Stream:
    """Runs one question in a worker thread and shows its text as it grows, by editing a message.

    ``interval`` is the least time between edits; None shows nothing until the end.
    """

    def __init__(
        self,
        interval: float | None,
        show: Callable[[telegram_format.RenderedMessage, int | None], Awaitable[int | None]],
    ) -> None:
        self._interval = interval
        self._show = show
        self.message_id: int | None = None

    async def run(self, conversation: Conversation, text: str) -> Turn:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str] = asyncio.Queue()

        def on_text(piece: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        work = asyncio.create_task(asyncio.to_thread(conversation.ask, text, on_text))
        shown, last_edit = "", 0.0
        while not work.done() or not pieces.empty():
            with contextlib.suppress(TimeoutError):
                shown += await asyncio.wait_for(pieces.get(), timeout=0.2)
            due = self._interval is not None and time.monotonic() - last_edit >= self._interval
            if shown and due and not work.done():
                partial = telegram_format.render_text(shown + " …")[0]
                self.message_id = await self._show(partial, self.message_id) or self.message_id
                last_edit = time.monotonic()
        return await work


async def _keep_typing(send: Callable[[], Awaitable[object]]) -> None:
    """Shows "typing…" until cancelled; a failed chat action is not worth an error."""
    while True:
        with contextlib.suppress(Exception):
            await send()
        await asyncio.sleep(TYPING_EVERY)


def _ingest_result(outcome: IngestOutcome) -> str:
    """What became of an article an admin sent, in one line."""
    if outcome.status == "failed":
        return f"Could not add it: {outcome.reason}"
    if outcome.status == "duplicate":
        return f"Already stored: {outcome.reason}"
    return f"{outcome.status}: {outcome.title} ({outcome.chunks} chunks)"


def conversation_key(chat_id: int, user_id: int) -> str:
    """One conversation per private chat, and per person in a group."""
    return str(chat_id) if chat_id == user_id else f"{chat_id}:{user_id}"


def _addressed_text(message: Message, username: str, bot_id: int) -> str | None:
    """In a group: the question when the message mentions or replies to the bot, else None."""
    text = message.text or ""
    mention = f"@{username}".lower()
    mentioned = any(
        entity.type == MessageEntity.MENTION
        and text[entity.offset : entity.offset + entity.length].lower() == mention
        for entity in message.entities
    )
    reply = message.reply_to_message
    replied = bool(reply and reply.from_user and reply.from_user.id == bot_id)
    if not (mentioned or replied):
        return None
    question = re.sub(re.escape(mention), "", text, flags=re.IGNORECASE).strip()
    return question or None


COMMANDS = [
    BotCommand("help", "How to ask"),
    BotCommand("sources", "The articles I know"),
    BotCommand("reset", "Forget our conversation"),
    BotCommand("about", "What answers, how much is stored"),
]


def build_application(bot: InquoteBot) -> AnyApplication:
    """The python-telegram-bot Application, wired to ``bot``'s handlers."""
    telegram = bot.settings.telegram
    if not telegram.token.get_secret_value():
        raise ConfigError(
            "No Telegram bot token: create a bot with @BotFather and set INQUOTE_TELEGRAM__TOKEN"
        )

    async def post_init(application: AnyApplication) -> None:
        with contextlib.suppress(TelegramError):
            await application.bot.set_my_commands(COMMANDS)
        await bot.answer_pending(application)

    async def post_shutdown(_: AnyApplication) -> None:
        bot.journal.close()

    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
    # PTB's own rate limiter reads RetryAfter.retry_after, deprecated in PTB 22.2: not ours to fix.
    warnings.filterwarnings("ignore", ".*retry_after.*", PTBDeprecationWarning)
    timeout = telegram.timeout_seconds
    application = (
        Application.builder()
        .token(telegram.token.get_secret_value())
        .base_url(telegram.base_url)
        .base_file_url(telegram.file_base_url)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .write_timeout(timeout)
        .get_updates_read_timeout(timeout + 10)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.add_handler(TypeHandler(Update, bot.gatekeeper), group=-1)
    application.add_handler(CommandHandler(["start", "help"], bot.help))
    application.add_handler(CommandHandler("sources", bot.sources))
    application.add_handler(CommandHandler("reset", bot.reset))
    application.add_handler(CommandHandler(["about", "stats"], bot.about))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, bot.question))
    application.add_handler(MessageHandler(filters.Document.ALL, bot.document))
    application.add_error_handler(bot.on_error)
    return application


def run_bot(bot: InquoteBot) -> None:
    """Runs until SIGINT/SIGTERM: polling by default, or a webhook server."""
    telegram = bot.settings.telegram
    application = build_application(bot)
    if telegram.mode == "webhook":
        if not telegram.webhook_url or not telegram.webhook_secret.get_secret_value():
            raise ConfigError(
                "Webhook mode needs telegram.webhook_url and telegram.webhook_secret "
                "(INQUOTE_TELEGRAM__WEBHOOK_SECRET)"
            )
        application.run_webhook(
            listen=telegram.webhook_listen,
            port=telegram.webhook_port,
            url_path="telegram",
            webhook_url=telegram.webhook_url,
            secret_token=telegram.webhook_secret.get_secret_value(),
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
