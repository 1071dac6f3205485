"""inquote as a Telegram bot (python-telegram-bot v22): handlers thin over the answering API.

Updates from people not allowed by ``telegram.allowed_users``/``allowed_chats`` stop at a
gatekeeper and reach no handler. How updates arrive and in what order: :mod:`bot.telegram.updates`;
how a question is answered: :mod:`bot.telegram.answers`; how messages go out:
:mod:`bot.telegram.delivery`; admins adding articles: :mod:`bot.telegram.admin`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import warnings
from datetime import date
from typing import Any

from telegram import BotCommand, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot.answer import Answer
from bot.answering import Answerer
from bot.journal import JOURNAL_FILE, Journal, Question
from bot.quotes import Quote
from bot.telegram.admin import AdminIngest
from bot.telegram.answers import SORRY, Answers
from bot.telegram.delivery import reply_messages, reply_text
from bot.telegram.digest import NOTHING_NEW, Digests, daily_time, schedule
from bot.telegram.formatting import public_source, render_answer, render_text
from bot.telegram.libraries import NO_LIBRARY
from bot.telegram.updates import ConversationOrder, JournalingQueue, conversation_key
from config.errors import ConfigError
from config.settings import Settings
from ingest.pipeline import Ingestor
from ingest.schema import Scope

log = logging.getLogger(__name__)

HELP = """Ask me a question about the stored articles. Every quote I show is checked, word for \
word, against the article it names; when the articles don't hold the answer, I say so.

Reply to one of my answers to ask a follow-up about it.

/sources — the articles I know
/library — which libraries of articles this chat reads
/summary — reply with it to an answer: what its article is about (or /summary Rosetta Stone)
/since 2022-02-23 — read only articles published since then (/since off: all again)
/digest — the articles added since the last digest (/digest daily 08:00 UTC, /digest off)
/reset — forget our conversation
/about — what answers and how much is stored

👍 / 👎 under an answer tell the operator it was right or wrong; reply /why … to say why."""
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
_FEEDBACK = re.compile(r"^fb:(up|down):(\d+)$")
MAX_REASON_CHARS = 300


class InquoteBot:
    """The handlers; the Application is built by :func:`build_application`."""

    def __init__(self, settings: Settings, answerer: Answerer, ingestor: Ingestor) -> None:
        self.settings = settings
        self.answerer = answerer
        self.journal = Journal.open(settings.data_dir / JOURNAL_FILE)
        self.answers = Answers(settings, answerer, self.journal)
        self.admin = AdminIngest(settings.telegram, ingestor)
        self.digests = Digests(
            answerer, self.journal, self.answers.libraries, settings.telegram.digest_items
        )
        telegram = settings.telegram
        self._allowed_users = set(telegram.allowed_users) | set(telegram.admins)
        self._allowed_chats = set(telegram.allowed_chats)

    def allowed(self, update: Update) -> bool:
        user, chat = update.effective_user, update.effective_chat
        return bool(
            (user and user.id in self._allowed_users) or (chat and chat.id in self._allowed_chats)
        )

    async def gatekeeper(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Stops every update from someone not allowed, before any handler sees it."""
        if self.allowed(update):
            return
        user, chat = update.effective_user, update.effective_chat
        log.info(
            "ignored an update from user id %s in chat id %s: add them to "
            "telegram.allowed_users or telegram.allowed_chats to let them ask",
            user.id if user else "-",
            chat.id if chat else "-",
        )
        raise ApplicationHandlerStop

    async def help(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """/start and /help."""
        await reply_text(update, HELP)

    async def sources(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """/sources: the articles this chat reads (titles, dates, web addresses: no paths)."""
        scope = self._scope(update)
        if scope is None:
            await reply_text(update, NO_LIBRARY)
            return
        stored = await asyncio.to_thread(self.answerer.articles, scope)
        lines = [
            f"• {article.title}"
            + (f" ({article.published})" if article.published else "")
            + (f"\n  {shown}" if (shown := public_source(article.source)) else "")
            for article in stored
            if not article.duplicate_of
        ]
        await reply_text(update, "\n".join(lines) or "No articles are stored here yet.")

    async def library(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """/library: which libraries this chat reads, and where its admins' articles go."""
        chat = update.effective_chat
        await reply_text(update, self.answers.libraries.describe(chat.id) if chat else NO_LIBRARY)

    async def since(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/since DATE: this conversation reads articles published from DATE on; /since off."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return
        key = conversation_key(chat.id, user.id)
        argument = " ".join(context.args or []).strip()
        if argument.lower() in {"off", "all", "reset"}:
            self.journal.set_since(key, "")
            await reply_text(update, "This conversation reads articles of every date again.")
            return
        try:
            day = date.fromisoformat(argument).isoformat()
        except ValueError:
            current = self.journal.since(key)
            now = f"It reads articles published since {current}. " if current else ""
            await reply_text(update, f"{now}Use /since 2022-02-23 (a day, YYYY-MM-DD), or "
                                     "/since off.")  # fmt: skip
            return
        self.journal.set_since(key, day)
        await reply_text(update, f"This conversation now reads articles published since {day} "
                                 "(/since off: every date).")  # fmt: skip

    async def summary(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/summary as a reply to an answer: what the article it quotes first is about;
        /summary WORDS: the article those words name."""
        message, scope = update.effective_message, self._scope(update)
        if message is None or scope is None:
            await reply_text(update, NO_LIBRARY)
            return
        named = " ".join(context.args or []).strip()
        reply = message.reply_to_message
        turn = self.journal.answer_turn(message.chat.id, reply.message_id) if reply else None
        if turn is not None and turn.answer.quotes:
            answer = await asyncio.to_thread(self._summary_of, turn.answer.quotes[0], scope)
        elif named:
            answer = await asyncio.to_thread(self.answerer.ask, f"Summarise {named}", scope=scope)
        else:
            await reply_text(update, "Reply /summary to one of my answers, or name the article: "
                                     "/summary Rosetta Stone")  # fmt: skip
            return
        await reply_messages(update, render_answer(answer))

    async def feedback(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """👍 / 👎 under an answer: recorded with the answer (``inquote feedback``)."""
        query = update.callback_query
        pressed = _FEEDBACK.match(query.data or "") if query else None
        if query is None or query.message is None or pressed is None:
            return
        vote, update_id = pressed[1], int(pressed[2])
        if not self.journal.vote(update_id, query.message.chat.id, vote):
            await query.answer("That answer is no longer known.")
        elif vote == "up":
            await query.answer("Thanks!")
        else:
            await query.answer("Thanks. To say what was wrong, reply to the answer: /why …")

    async def why(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/why REASON, replying to an answer: one line on what was wrong with it."""
        message = update.effective_message
        reason = " ".join(" ".join(context.args or []).split())[:MAX_REASON_CHARS]
        reply = message.reply_to_message if message else None
        if message is None or reply is None or not reason:
            await reply_text(update, "Reply to one of my answers: /why and what was wrong.")
            return
        noted = self.journal.give_reason(message.chat.id, reply.message_id, reason)
        await reply_text(update, "Thanks, noted." if noted else "That is not one of my answers.")

    def _summary_of(self, quote: Quote, scope: Scope) -> Answer:
        """The summary of the quote's article, if the chat still reads it."""
        article = self.answerer.get_article(quote.article_id)
        if article is None or not self.answerer.reads(scope, quote.article_id):
            return self.answerer.ask(f"Summarise {quote.title}", scope=scope)
        return self.answerer.summary(article)

    async def digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/digest: what the chat's libraries gained since its last digest; /digest daily HH:MM
        sends it every day then (UTC); /digest off stops that."""
        chat = update.effective_chat
        if chat is None:
            return
        words = [word.lower() for word in context.args or []]
        if words[:1] == ["off"]:
            self.journal.set_daily_digest(chat.id, "")
            schedule(self._jobs(context), self.digests, chat.id, None)
            await reply_text(update, "No more daily digests here.")
            return
        if words[:1] == ["daily"]:
            at = daily_time(words[1]) if len(words) > 1 else None
            if at is None:
                await reply_text(update, "Use /digest daily 08:00 (a time of day, UTC).")
                return
            self.journal.set_daily_digest(chat.id, at.strftime("%H:%M"))
            schedule(self._jobs(context), self.digests, chat.id, at)
            when = at.strftime("%H:%M")
            await reply_text(update, f"A digest will come here every day at {when} UTC "
                                     "(/digest off stops it).")  # fmt: skip
            return
        messages = await asyncio.to_thread(self.digests.digest, chat.id)
        await reply_messages(update, messages or render_text(NOTHING_NEW))

    @staticmethod
    def _jobs(context: ContextTypes.DEFAULT_TYPE) -> JobQueue[Any]:
        if context.job_queue is None:
            raise ConfigError("The job queue is missing: install python-telegram-bot[job-queue]")
        return context.job_queue

    def _scope(self, update: Update) -> Scope | None:
        chat = update.effective_chat
        return self.answers.libraries.scope(chat.id) if chat else None

    async def reset(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """/reset: forget this conversation."""
        if update.effective_chat and update.effective_user:
            key = conversation_key(update.effective_chat.id, update.effective_user.id)
            self.journal.save_turns(key, [])
        await reply_text(update, "Conversation forgotten.")

    async def about(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """/about and /stats: the backend by name (no server addresses), what this chat reads."""
        scope = self._scope(update)
        articles = [] if scope is None else await asyncio.to_thread(self.answerer.articles, scope)
        await reply_text(
            update,
            f"inquote — answers by {self.answerer.backend}.\n{len(articles)} articles here; "
            f"{self.journal.answered_count()} questions answered.",
        )

    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message: answered (an admin's bare link: its article added)."""
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
        if self.admin.is_link(asked):
            await self.admin.add_link(context.bot, asked)
        else:
            await self.answers.answer(context.bot, asked)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """What no handler caught: logged, and its sender told."""
        log.error("error while handling an update: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_message:
            with contextlib.suppress(TelegramError):
                await reply_text(update, SORRY)

    async def give_up(self, update: Update) -> None:
        """An update that kept stopping the bot is given up: its sender gets one apology."""
        message = update.effective_message
        if message is None or not self.allowed(update):
            return
        sender = message.from_user.id if message.from_user else message.chat.id
        asked = Question(update.update_id, message.chat.id, sender, message.message_id, "")
        await self.answers.say(self.answers.delivery(message.get_bot(), asked), SORRY)


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
    BotCommand("library", "Which libraries this chat reads"),
    BotCommand("summary", "What an article is about (reply to an answer)"),
    BotCommand("since", "Read only articles published since a day"),
    BotCommand("digest", "Articles added since the last digest"),
    BotCommand("reset", "Forget our conversation"),
    BotCommand("about", "What answers, how much is stored"),
]


def build_application(bot: InquoteBot) -> AnyApplication:
    """The python-telegram-bot Application, wired to ``bot``'s handlers."""
    telegram = bot.settings.telegram
    queue = JournalingQueue(bot.journal)

    async def post_init(application: AnyApplication) -> None:
        with contextlib.suppress(TelegramError):
            await application.bot.set_my_commands(COMMANDS)
        await asyncio.to_thread(bot.answerer.prepare)
        if application.job_queue is not None:  # daily digests, as chats asked for them
            for chat_id, at in bot.journal.daily_digests().items():
                schedule(application.job_queue, bot.digests, chat_id, daily_time(at))
        if pending := queue.replay(application.bot):  # handled once the bot runs, as new ones
            log.info("%d updates left unfinished before a restart are handled first", pending)

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
        .update_queue(queue)
        .concurrent_updates(ConversationOrder(bot.journal, telegram.max_attempts, bot.give_up))
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
    application.add_handler(CommandHandler("library", bot.library))
    application.add_handler(CommandHandler("since", bot.since))
    application.add_handler(CommandHandler("summary", bot.summary))
    application.add_handler(CommandHandler("digest", bot.digest))
    application.add_handler(CommandHandler("why", bot.why))
    application.add_handler(CallbackQueryHandler(bot.feedback, pattern=_FEEDBACK))
    application.add_handler(CommandHandler("reset", bot.reset))
    application.add_handler(CommandHandler(["about", "stats"], bot.about))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, bot.question))
    application.add_handler(MessageHandler(filters.Document.ALL, bot.admin.document))
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
