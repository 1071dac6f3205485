"""Where every stored article came from, kept beside the store: ``DATA_DIR/sources.jsonl``.

One JSON line per change (an article stored or moved between libraries: its id, source and
libraries; removed: its id), appended as the store is written, so `inquote reindex
--from-sources` can build the store again from the sources themselves when the store is lost.
The last line of an id wins.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.schema import Article

log = logging.getLogger(__name__)

SOURCES_FILE = "sources.jsonl"


@dataclass(frozen=True)
class KnownSource:
    article_id: str
    source: str
    libraries: tuple[str, ...]


class SourceLog:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / SOURCES_FILE

    def stored(self, articles: Iterable[Article]) -> None:
        self._append(
            {"id": a.article_id, "source": a.source, "libraries": list(a.libraries)}
            for a in articles
        )

    def removed(self, article_id: str) -> None:
        self._append([{"id": article_id, "removed": True}])

    def sources(self) -> list[KnownSource]:
        """The sources of the articles stored now, as the log tells (a damaged line skipped)."""
        known: dict[str, KnownSource | None] = {}
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    entry = json.loads(line)
                    known[str(entry["id"])] = (
                        None
                        if entry.get("removed")
                        else KnownSource(
                            str(entry["id"]), str(entry["source"]), tuple(entry["libraries"])
                        )
                    )
                except (json.JSONDecodeError, KeyError, TypeError):
                    log.warning("%s: line %d is damaged; skipped", self.path, number)
        return [source for source in known.values() if source is not None]

    def _append(self, entries: Iterable[dict[str, object]]) -> None:
        text = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries)
        if not text:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as log_file:
                log_file.write(text)
                log_file.flush()
                os.fsync(log_file.fileno())
        except OSError as exc:  # the store is written: a missing line costs only a rebuild's reach
            log.warning("could not note the articles' sources in %s: %s", self.path, exc)
