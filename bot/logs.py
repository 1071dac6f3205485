"""Logging for the entry points: level and format from settings, secrets never written.

Only entry points call :func:`configure_logging`; modules log through ``logging.getLogger``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from config.settings import Settings

REDACTED = "***"


class RedactSecrets(logging.Filter):
    """Replaces every configured secret (bot token, webhook secret, store token, LLM API key) in a
    record."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a library's record whose arguments don't fit its format
            message = f"{record.msg} {record.args!r}"
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self._secrets:
            message = message.replace(secret, REDACTED)
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, REDACTED)
        record.msg, record.args = message, ()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["traceback"] = record.exc_text
        elif record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(
    settings: Settings, *, verbose: bool = False, default: int = logging.WARNING
) -> None:
    """Logs to stderr at ``logging.level``, else at the command's ``default``; ``verbose``: INFO."""
    configured = settings.logging.level
    level = logging.getLevelName(configured) if configured else default
    if verbose:
        level = min(level, logging.INFO)
    handler = _StderrHandler()
    handler.setLevel(level)  # libraries that set their own loggers' levels stay quiet too
    if settings.logging.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(
        RedactSecrets(
            [
                settings.telegram.token.get_secret_value(),
                settings.telegram.webhook_secret.get_secret_value(),
                settings.store.auth_token.get_secret_value(),
                settings.openai.api_key.get_secret_value(),
            ]
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "inquote", False)]:
        root.removeHandler(old)  # ours from an earlier call; others' handlers stay
    handler.inquote = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))  # its URLs carry the token
