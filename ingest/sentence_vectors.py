"""Sentence vectors kept beside the store, so no process embeds a stored sentence twice.

Answering compares the question with every sentence of the retrieved chunks, each read alone and
under its article's title (:func:`readings`); embedding those took
about 1.1 s of a cold ``inquote ask`` on the seeds, paid again by every process (and by the bot
after every restart) for the same articles. A sentence's vector is written back the first time
any process embeds it (an ingest is not slowed), keyed by a hash of its text, in
``DATA_DIR/sentence-vectors.sqlite``, as float32: exactly what embedding gives, so a process
reading a vector decides as the one that embedded it, and as the judge's training did (float16
halved the file but moved probabilities by 3e-4). Derived data: a damaged file is started
afresh, a file of another embedding model is emptied, a removed article's sentences are
forgotten; each host keeps its own (server mode too), and backups leave it out. Where it can't
be written (a read-only data directory), sentences are embedded as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from ingest.schema import EmbeddingFingerprint
from ingest.sqlite_check import quick_check

log = logging.getLogger(__name__)

SENTENCE_VECTORS_FILE = "sentence-vectors.sqlite"
_BATCH = 500  # keys a query names at once (SQLite's variable limit is far above)


def readings(title: str, sentence: str) -> tuple[str, str]:
    """The texts a sentence is embedded as: alone, and under its article's title (for a sentence
    that names its subject only by the title: "Eagle landed …" in an article on Apollo 11)."""
    return sentence, f"{title}: {sentence}"


def sentence_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class SentenceVectors:
    """The file of one data directory, for one embedding model; opened at first use."""

    def __init__(self, path: Path, fingerprint: EmbeddingFingerprint) -> None:
        self.path = path
        self._fingerprint = fingerprint
        self._db: sqlite3.Connection | None = None
        self._usable = True
        self._lock = threading.Lock()

    def get(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The kept vectors of those of ``texts`` that have one."""
        wanted = {sentence_key(text): text for text in texts}
        found: dict[str, np.ndarray] = {}
        with self._lock:
            db = self._open()
            if db is None or not wanted:
                return found
            keys = list(wanted)
            for start in range(0, len(keys), _BATCH):
                part = keys[start : start + _BATCH]
                marks = ",".join("?" * len(part))
                query = f"SELECT key, vector FROM vectors WHERE key IN ({marks})"
                with self._faults("read"):
                    for key, blob in db.execute(query, part).fetchall():
                        found[wanted[key]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, rows: Mapping[str, np.ndarray]) -> None:
        """Keeps ``rows`` (text → vector)."""
        with self._lock:
            db = self._open()
            if db is None or not rows:
                return
            values = [
                (sentence_key(text), np.asarray(vector, dtype=np.float32).tobytes())
                for text, vector in rows.items()
            ]
            with self._faults("write"), db:
                db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)", values)

    def forget(self, texts: Iterable[str]) -> None:
        """Drops the vectors of ``texts`` (a removed article's sentences)."""
        with self._lock:
            db = self._open()
            if db is None:
                return
            with self._faults("write"), db:
                keys = [(sentence_key(text),) for text in texts]
                db.executemany("DELETE FROM vectors WHERE key = ?", keys)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _open(self) -> sqlite3.Connection | None:
        if self._db is not None or not self._usable:
            return self._db
        try:
            self._db = self._connect()
        except (sqlite3.OperationalError, OSError) as exc:  # no folder, read-only, locked long
            self._give_up(exc)
        except sqlite3.DatabaseError as exc:
            log.warning("%s is damaged (%s); starting it afresh", self.path, exc)
            with contextlib.suppress(OSError):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            try:
                self._db = self._connect()
            except (sqlite3.DatabaseError, OSError) as again:
                self._give_up(again)
        return self._db

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            quick_check(db)
            with db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS vectors"
                    " (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
                )
                db.execute("CREATE TABLE IF NOT EXISTS model (name TEXT, dimension INTEGER)")
                held = db.execute("SELECT name, dimension FROM model").fetchone()
                model = (self._fingerprint.model, self._fingerprint.dimension)
                if held != model:  # vectors of another model do not mix
                    db.execute("DELETE FROM vectors")
                    db.execute("DELETE FROM model")
                    db.execute("INSERT INTO model VALUES (?, ?)", model)
        except BaseException:
            db.close()
            raise
        return db

    def _give_up(self, exc: BaseException) -> None:
        log.info("sentence vectors are not kept (%s): %s", self.path, exc)
        self._usable = False

    @contextlib.contextmanager
    def _faults(self, doing: str) -> Iterator[None]:
        """A failed read or write (a full disk, a file damaged since) costs only re-embedding."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            log.warning("could not %s sentence vectors in %s: %s", doing, self.path, exc)
