"""Which articles each Telegram chat reads, and where its admins' articles go.

``telegram.chat_libraries`` binds chat ids (a private chat's id is its user's) to libraries;
other allowed chats get ``telegram.default_libraries``: ``["*"]`` is every library, ``[]`` none.
Read at every question, so an answer always uses the chat's libraries as configured then.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import TelegramSettings
from ingest.schema import ALL_LIBRARIES, DEFAULT_LIBRARY, Scope

NO_LIBRARY = (
    "This chat has no library of articles: the bot's operator can give it one "
    "(telegram.chat_libraries)."
)


@dataclass(frozen=True)
class ChatLibraries:
    settings: TelegramSettings

    def names(self, chat_id: int) -> list[str]:
        """The libraries configured for ``chat_id`` (``*``: every library)."""
        return list(self.settings.chat_libraries.get(chat_id, self.settings.default_libraries))

    def scope(self, chat_id: int) -> Scope | None:
        """The articles ``chat_id`` reads; None when it has no library."""
        names = self.names(chat_id)
        if not names:
            return None
        return Scope() if ALL_LIBRARIES in names else Scope(libraries=tuple(names))

    def for_new_articles(self, chat_id: int) -> str | None:
        """The library an admin's article sent in ``chat_id`` goes to: the chat's first named
        library (the default one for a chat reading every library); None when it has none."""
        names = self.names(chat_id)
        named = [name for name in names if name != ALL_LIBRARIES]
        return named[0] if named else (DEFAULT_LIBRARY if names else None)

    def describe(self, chat_id: int) -> str:
        """What /library says."""
        names = self.names(chat_id)
        if not names:
            return NO_LIBRARY
        if ALL_LIBRARIES in names:
            reads = "every library"
        else:
            reads = ("the library " if len(names) == 1 else "the libraries ") + ", ".join(names)
        added = self.for_new_articles(chat_id)
        return f"This chat reads {reads}. Articles admins add here go to {added}."
