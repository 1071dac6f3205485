"""``inquote doctor``: is everything inquote needs there and working? Each check says how to fix it.

Checks never change anything, except that the embedded model file is assembled from its package
when the embedded backend is configured (as the first question would).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from bot.backends import PROBE_SECONDS, openai_generator
from bot.journal import JOURNAL_FILE, journal_damage
from bot.llamacpp_generator import INSTALL_HINT, llama_cpp_installed, model_file
from bot.telegram.token import TelegramUnreachable, bot_username
from config.errors import ConfigError, InquoteError
from config.settings import Settings, server_urls
from ingest.feeds import FeedRegistry
from ingest.ollama_api import OllamaAPI

Status = Literal["ok", "warn", "fail"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def run_checks(settings: Settings, config_file: Path | None) -> Iterator[Check]:
    """Each check as it is done: the first lines come before Chroma or the model is loaded."""
    yield Check(
        "config",
        "ok",
        f"defaults{f' + {config_file}' if config_file else ''} + INQUOTE_* variables; "
        f"data dir {settings.data_dir}",
    )
    for check in (_store, _files, _llm, _telegram):
        yield _guarded(check, settings)


def _guarded(check: Callable[[Settings], Check], settings: Settings) -> Check:
    """A check that raised is a failed check whose message says the fix: one of our errors as
    it is, a library's own (a damaged store, a Rust panic) as one line."""
    name = check.__name__.strip("_")
    try:
        return check(settings)
    except InquoteError as exc:
        detail, _, fix = str(exc).partition(" — ")
        return Check(name, "fail", detail, fix)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        from ingest.chroma_collections import unexpected_fault  # noqa: PLC0415  (Chroma: only when needed)

        log.info("the %s check failed", name, exc_info=True)
        return Check(name, "fail", unexpected_fault(exc, settings.data_dir))


def _files(settings: Settings) -> Check:
    """The bot's journal and the list of feeds, which live beside the store."""
    journal = settings.data_dir / JOURNAL_FILE
    if (damage := journal_damage(journal)) is not None:
        return Check(
            "files",
            "fail",
            f"the Telegram journal {journal} is damaged ({damage})",
            "nothing to do: `inquote telegram` keeps it aside (renamed with the time) and starts "
            "a new one; questions it held unanswered are lost",
        )
    FeedRegistry(settings.data_dir)  # raises, with the way out, when feeds.json is damaged
    return Check("files", "ok", "the Telegram journal and the list of feeds are readable")


def _store(settings: Settings) -> Check:
    from bot.app import Library  # noqa: PLC0415  (Chroma and the model: after the first line)

    library = Library(settings)
    store, index = library.store, library.keywords
    where = (
        f"server at {settings.store.url}"
        if settings.store.mode == "server"
        else f"embedded in {settings.data_dir / 'chroma'}"
    )
    fingerprint = store.fingerprint
    articles = store.article_count()
    indexed = index.article_count()
    keywords = f"keyword index in {index.folder}: {indexed} articles" + (
        "" if indexed == articles else " (the next question brings it up to date)"
    )
    return Check(
        "store",
        "ok",
        f"{where}: {articles} articles, {store.chunk_count()} chunks; embeddings "
        f"{fingerprint.model} ({fingerprint.dimension} dimensions), as configured; {keywords}",
    )


def _llm(settings: Settings) -> Check:
    llm = settings.llm
    if llm.backend == "extractive":
        return Check("llm", "ok", "extractive answers (no LLM), as llm.backend says")
    if llm.backend == "ollama":
        return _ollama_pool(settings, settings.ollama.timeout_seconds)
    if llm.backend == "embedded":
        return _embedded(settings)
    if llm.backend == "openai":
        return _openai(settings)
    if settings.openai.base_url:
        openai = _guarded(lambda s: _openai(s, PROBE_SECONDS), settings)
        if openai.status != "fail":
            return Check("llm", openai.status, f"auto → {openai.detail}", openai.fix)
    ollama = _guarded(lambda s: _ollama_pool(s, PROBE_SECONDS), settings)
    if ollama.status != "fail":
        return Check("llm", ollama.status, f"auto → {ollama.detail}", ollama.fix)
    return Check(
        "llm", "warn", f"auto → extractive answers (no LLM), because {ollama.detail}", ollama.fix
    )


def _ollama_pool(settings: Settings, timeout: float) -> Check:
    """Every server of ``ollama.url``: the first that fails, else the last one's report."""
    urls = server_urls(settings.ollama.url)
    checks = [_ollama(settings, OllamaAPI(url, timeout)) for url in urls]
    return next((check for check in checks if check.status == "fail"), checks[-1])


def _ollama(settings: Settings, api: OllamaAPI) -> Check:
    model = settings.llm.model
    pulled = api.model_names()
    if model not in pulled:
        return Check(
            "llm",
            "fail",
            f"Ollama at {api.url} has no model '{model}'",
            f"run `ollama pull {model}`",
        )
    trained = api.trained_context(model)
    detail = f"ollama: {model} pulled at {api.url}; num_ctx {settings.llm.num_ctx}"
    if trained is not None and trained < settings.llm.num_ctx:
        return Check("llm", "warn", f"{detail}, more than the {trained} it was trained for",
                     f"set llm.num_ctx to {trained} or less")  # fmt: skip
    trained_note = f" (trained for {trained})" if trained else ""
    if settings.embedding.backend == "ollama":
        embedding = settings.embedding.ollama_model
        if embedding not in pulled:
            return Check("llm", "fail", f"Ollama has no embedding model '{embedding}'",
                         f"run `ollama pull {embedding}`")  # fmt: skip
    return Check("llm", "ok", detail + trained_note)


def _openai(settings: Settings, timeout: float | None = None) -> Check:
    generator = openai_generator(settings, timeout)  # raises, with the fix, when it can't answer
    return Check("llm", "ok", f"{generator.description}: the server lists the model")


def _embedded(settings: Settings) -> Check:
    if not llama_cpp_installed():
        return Check("llm", "fail", "llama-cpp-python is not installed", INSTALL_HINT)
    path = model_file(settings.llm, settings.data_dir)
    return Check("llm", "ok", f"embedded: {path.name} via llama-cpp-python ({path})")


def _telegram(settings: Settings) -> Check:
    telegram = settings.telegram
    if not telegram.token.get_secret_value():
        return Check("telegram", "ok", "not configured (INQUOTE_TELEGRAM__TOKEN is not set)")
    try:
        username = bot_username(telegram)
    except (TelegramUnreachable, ConfigError) as exc:  # "what is wrong: how to fix it"
        detail, _, fix = str(exc).partition(": ")
        return Check("telegram", "fail", detail, fix)
    if not (telegram.allowed_users or telegram.allowed_chats or telegram.admins):
        return Check("telegram", "warn", f"token works for @{username}, but nobody may use it",
                     "set telegram.allowed_users (INQUOTE_TELEGRAM__ALLOWED_USERS)")  # fmt: skip
    return Check("telegram", "ok", f"token works for @{username}")
