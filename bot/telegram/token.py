"""The bot token, checked before the bot starts and by ``inquote doctor``: what is wrong in one
line with its fix, and never the token itself (it is part of every Bot API address)."""

from __future__ import annotations

import logging
import time

import httpx

from config.errors import BackendError, ConfigError
from config.settings import TelegramSettings

log = logging.getLogger(__name__)

_FIX = "check INQUOTE_TELEGRAM__TOKEN against what @BotFather gave you"


class TelegramUnreachable(BackendError):
    """The Bot API could not be asked: trying again later may help."""


def bot_username(telegram: TelegramSettings, timeout: float = 10.0) -> str:
    """The bot's username, asked of the Bot API with the configured token.

    Raises :class:`ConfigError` when there is no token or Telegram refuses it, and
    :class:`TelegramUnreachable` when the Bot API can't be reached or fails.
    """
    token = telegram.token.get_secret_value()
    if not token:
        raise ConfigError(
            "No Telegram bot token: create a bot with @BotFather and set INQUOTE_TELEGRAM__TOKEN"
        )
    try:
        response = httpx.get(f"{telegram.base_url}{token}/getMe", timeout=timeout)
    except httpx.HTTPError as exc:  # its message and request carry the token: not chained
        raise TelegramUnreachable(
            f"The Bot API at {telegram.base_url} is not reachable ({type(exc).__name__}): "
            "check the network, or telegram.base_url"
        ) from None
    if response.status_code in {httpx.codes.UNAUTHORIZED, httpx.codes.NOT_FOUND}:
        raise ConfigError(f"Telegram refused the bot token ({response.status_code}): {_FIX}")
    if response.status_code != httpx.codes.OK:
        raise TelegramUnreachable(
            f"The Bot API at {telegram.base_url} answered {response.status_code}: "
            "Telegram may be down; try again later"
        )
    return str(response.json().get("result", {}).get("username", "?"))


def checked_start(telegram: TelegramSettings) -> str:
    """:func:`bot_username` before the bot starts: a Bot API out of reach is asked again
    ``telegram.max_attempts`` times in all, waits doubling from ``telegram.retry_seconds``; a
    refused token fails at once."""
    wait = telegram.retry_seconds
    for attempt in range(1, telegram.max_attempts + 1):
        try:
            return bot_username(telegram)
        except TelegramUnreachable as exc:
            if attempt == telegram.max_attempts:
                raise
            log.warning("%s; trying again in %.0f s", exc, wait)
            time.sleep(wait)
            wait *= 2
    raise AssertionError("unreachable")  # the loop returns or raises
