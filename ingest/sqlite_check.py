"""SQLite's own integrity check, for every SQLite file inquote keeps or reads: Chroma's database,
the keyword index's table, the Telegram journal."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path


def quick_check(db: sqlite3.Connection) -> None:
    """Raises sqlite3.DatabaseError naming the damage when ``db`` fails ``PRAGMA quick_check``
    (which reads every page: about 1.5 ms a MB)."""
    (verdict,) = db.execute("PRAGMA quick_check").fetchone()
    if verdict != "ok":
        raise sqlite3.DatabaseError(f"malformed: {verdict}")


def check_file(path: Path) -> None:
    """:func:`quick_check` on the file at ``path``, opened read-only."""
    with checked_read_only(path):
        pass


@contextlib.contextmanager
def checked_read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """The file at ``path`` opened read-only, once it passed :func:`quick_check`."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        quick_check(db)
        yield db


QUICK_CHECK_BYTES = 64 << 20  # Chroma databases up to this size are checked at every open


def check_database(database: Path, limit: int | None = QUICK_CHECK_BYTES) -> None:
    """Raises sqlite3.DatabaseError when Chroma's database is damaged, before Chroma reads it
    (its Rust core panics on a damaged page). SQLite's quick check reads the whole file (about
    1.5 ms a MB), so at every open only files up to ``limit`` bytes are checked."""
    if not database.is_file() or (limit is not None and database.stat().st_size > limit):
        return
    try:
        check_file(database)
    except sqlite3.DatabaseError as exc:
        raise sqlite3.DatabaseError(f"{database.name}: {exc}") from exc
