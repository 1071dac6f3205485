"""The articles an embedded store read last, kept in memory for the next questions about them.

A question reads the full text of the articles its best chunks come from (every quote is checked
against it); in a conversation or the bot the same articles come back question after question.
Each is kept under its version (id and content hash), so a version the keyword index no longer
holds is never served: the caller names the versions it wants.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from ingest.schema import Article

RECENT_ARTICLES = 64
RECENT_CHARS = 16_000_000


class RecentArticles:
    """Up to ``articles`` articles and ``chars`` characters of text, least recently used out."""

    def __init__(self, articles: int = RECENT_ARTICLES, chars: int = RECENT_CHARS) -> None:
        self._articles = articles
        self._chars = chars
        self._kept: OrderedDict[tuple[str, str], Article] = OrderedDict()  # (id, hash) →
        self._held_chars = 0
        self._lock = threading.Lock()

    def get(self, versions: Iterable[tuple[str, str]]) -> dict[str, Article]:
        """The kept articles among ``versions`` (article id, content hash), by id."""
        found: dict[str, Article] = {}
        with self._lock:
            for version in versions:
                if (article := self._kept.get(version)) is not None:
                    self._kept.move_to_end(version)
                    found[article.article_id] = article
        return found

    def keep(self, articles: Iterable[Article]) -> None:
        with self._lock:
            for article in articles:
                version = (article.article_id, article.content_hash)
                if version not in self._kept:
                    self._held_chars += len(article.text)
                self._kept[version] = article
                self._kept.move_to_end(version)
            while self._kept and (
                len(self._kept) > self._articles or self._held_chars > self._chars
            ):
                _, dropped = self._kept.popitem(last=False)
                self._held_chars -= len(dropped.text)
