"""Logging: configured levels and formats, and secrets never written."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import configure_logging
from config.settings import load_settings


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_with_secrets_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(
        env={
            "INQUOTE_TELEGRAM__TOKEN": "123:SECRET-TOKEN",
            "INQUOTE_STORE__AUTH_TOKEN": "chroma-pass",
            "INQUOTE_OPENAI__API_KEY": "sk-llm-key",
            "INQUOTE_LOGGING__FORMAT": "json",
            "INQUOTE_LOGGING__LEVEL": "info",
        }
    )
    configure_logging(settings)
    log = logging.getLogger("inquote.test")
    log.info(
        "calling https://api.telegram.org/bot%s/getMe with %s",
        "123:SECRET-TOKEN",
        "chroma-pass sk-llm-key",
    )
    log.debug("not shown at INFO")
    try:
        raise RuntimeError("boom 123:SECRET-TOKEN")
    except RuntimeError:
        log.exception("failed")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO"
    assert first["logger"] == "inquote.test"
    assert first["message"] == "calling https://api.telegram.org/bot***/getMe with *** ***"
    assert "SECRET" not in second["traceback"]
    assert "RuntimeError: boom ***" in second["traceback"]


def test_text_format_level_and_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(env={"INQUOTE_LOGGING__LEVEL": "ERROR"})
    configure_logging(settings)
    logging.getLogger("inquote.test").warning("quiet")
    assert capsys.readouterr().err == ""
    configure_logging(settings, verbose=True)
    logging.getLogger("inquote.test").info("loud")
    assert capsys.readouterr().err.rstrip().endswith("INFO inquote.test: loud")
    assert logging.getLogger("httpx").level == logging.WARNING
