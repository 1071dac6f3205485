"""``inquote backup`` and ``inquote restore``: a consistent copy of an embedded data directory.

The writer lock is held while copying, so no ingest is mid-write; SQLite files (Chroma's
database, the Telegram journal) are copied with SQLite's online backup, which reads a consistent
snapshot whatever their write-ahead log holds. The keyword index is derived from the store and
is left out: it is rebuilt at the first question after a restore.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from config.errors import StoreError
from ingest.keyword_index import KEYWORDS_FOLDER
from ingest.locking import LOCK_NAME, DataDirLock
from ingest.schema import CHROMA_DATABASE, CHROMA_FOLDER
from ingest.sentence_vectors import SENTENCE_VECTORS_FILE
from ingest.sqlite_check import check_database

# derived, or this process's own
LEFT_OUT = frozenset((KEYWORDS_FOLDER, SENTENCE_VECTORS_FILE, LOCK_NAME))
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def backup(data_dir: Path, destination: Path) -> int:
    """Copies ``data_dir`` to ``destination`` (new or empty); the number of files copied."""
    if destination.exists() and any(destination.iterdir()):
        raise StoreError(f"{destination} is not empty: name a new folder for the backup")
    _check_store(data_dir, "back up")
    with _locked(data_dir):
        return _copy(data_dir, destination)


def restore(source: Path, data_dir: Path) -> Path:
    """Puts the backup ``source`` in place of ``data_dir``'s contents, which are moved to a
    folder beside it (returned): nothing is deleted."""
    _check_store(source, "restore")
    aside = data_dir.with_name(f"{data_dir.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}")
    with _locked(data_dir):
        aside.mkdir(parents=True)
        for entry in data_dir.iterdir():
            if entry.name != LOCK_NAME:
                entry.rename(aside / entry.name)
        _copy(source, data_dir)
    return aside


def _check_store(data_dir: Path, doing: str) -> None:
    database = data_dir / CHROMA_FOLDER / CHROMA_DATABASE
    if not database.is_file():
        raise StoreError(f"There is no store in {data_dir} to {doing} (no chroma/{database.name})")
    try:
        check_database(database, limit=None)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"Will not {doing} {data_dir}: its store is damaged ({exc})") from exc


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _copy(source: Path, destination: Path) -> int:
    copied = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if relative.parts[0] in LEFT_OUT or path.is_dir() or path.name.endswith(SQLITE_SIDE_FILES):
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".sqlite3":
            with (
                contextlib.closing(sqlite3.connect(path)) as reading,
                contextlib.closing(sqlite3.connect(target)) as writing,
            ):
                reading.backup(writing)
        else:
            shutil.copy2(path, target)
        copied += 1
    return copied
