"""RSS and Atom feeds: every entry's article, once; the feeds and what was seen persist.

State lives in ``feeds.json`` in the data directory, written atomically. An entry is marked seen
when its article was stored (or is a duplicate, or failed for good: not an article); an entry that
failed for a passing reason (the site was down) is tried again at the next poll.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import feedparser

from config.errors import SourceError, StoreError
from ingest.fetching import Fetcher
from ingest.outcomes import IngestOutcome
from ingest.schema import DEFAULT_LIBRARY

log = logging.getLogger(__name__)

FEEDS_FILE = "feeds.json"
# Reasons that will not change by trying again: the entry's page is not an article.
_FOR_GOOD = ("is not an article", "no article text", "no text layer", "holds no text")


@dataclass
class Feed:
    url: str
    title: str = ""
    seen: list[str] = field(default_factory=list)
    last_polled: float = 0.0
    last_error: str = ""
    articles: int = 0
    library: str = DEFAULT_LIBRARY  # where its articles go


class FeedRegistry:
    """The feeds of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / FEEDS_FILE
        try:
            data = json.loads(self._path.read_text(encoding="utf-8")) if self._path.exists() else []
            self.feeds = {entry["url"]: Feed(**entry) for entry in data}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise StoreError(
                f"The list of feeds {self._path} can't be read ({type(exc).__name__}: {exc}); "
                f"it is left as it is: repair it, or move it aside (`mv {self._path} "
                f"{self._path}.damaged`) to start a new list"
            ) from exc

    def save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps([asdict(feed) for feed in self.feeds.values()], indent=1)
        handle, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".feeds-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(data)
        Path(temporary).replace(self._path)

    def add(self, url: str, library: str | None = None) -> Feed:
        """The feed at ``url``, remembered from now on; its articles go into ``library`` (a
        remembered feed's stays as it was when none is named)."""
        feed = self.feeds.setdefault(url, Feed(url))
        if library is not None:
            feed.library = library
        return feed


def poll_feed(
    feed: Feed, fetcher: Fetcher, ingest_link: Callable[[str, str], IngestOutcome]
) -> list[IngestOutcome]:
    """Fetches ``feed`` and ingests the entries not seen before: ``ingest_link(url, day)``, with
    the entry's publication day (ISO; "" if it has none) for a page that does not say its own.

    Raises :class:`SourceError` when the feed itself cannot be read.
    """
    fetched = fetcher.fetch(feed.url, accept=frozenset({"feed", "html"}))
    parsed = feedparser.parse(fetched.body)
    if not parsed.entries and (parsed.bozo or fetched.kind != "feed"):
        raise SourceError(f"{feed.url}: not an RSS or Atom feed")
    feed.title = str(parsed.feed.get("title", "")) or feed.title
    feed.last_polled = time.time()
    results = []
    for entry in parsed.entries:
        link = str(entry.get("link", ""))
        key = str(entry.get("id") or link)
        if not link or key in feed.seen:
            continue
        result = ingest_link(link, _entry_day(entry))
        results.append(result)
        passing = result.status == "failed" and not any(r in result.reason for r in _FOR_GOOD)
        if not passing:
            feed.seen.append(key)
            feed.articles += result.status in {"added", "updated"}
        else:
            log.warning("feed entry %s failed, will retry: %s", link, result.reason)
    feed.last_error = ""
    return results


def poll_feeds(
    registry: FeedRegistry,
    urls: Sequence[str],
    poll: Callable[[Feed], list[IngestOutcome]],
    say: Callable[[str], None],
    *,
    watch: bool,
    interval: float,
    library: str | None = None,
) -> None:
    """Polls the feeds at ``urls`` once, or (``watch``) every remembered feed until interrupted.
    ``urls`` are remembered, their articles going into ``library`` when one is named.

    ``poll`` ingests one feed's new entries (``Ingestor.add_feed``); ``say`` reports each poll.
    A feed that is down now is reported and tried again at the next poll.
    """
    for url in urls:
        registry.add(url, library)
    registry.save()
    while True:
        feeds = list(registry.feeds.values()) if watch else [registry.feeds[u] for u in urls]
        for feed in feeds:
            try:
                results = poll(feed)
                say(f"feed {feed.url}: {len(results)} new entries")
            except SourceError as exc:
                feed.last_error = str(exc)
                say(f"feed {feed.url}: {exc}")
            registry.save()
        if not watch:
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            return


def _entry_day(entry: Any) -> str:
    """An entry's publication (else update) day, as ISO: feedparser parses every feed's dates."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", parsed) if parsed else ""
