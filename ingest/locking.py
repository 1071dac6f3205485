"""One writer at a time for an embedded store: an exclusive lock file in the data directory.

Chroma's embedded mode is not made for several processes writing one store. The lock is taken by
commands that write (ingest, remove, reindex, the Telegram bot) and held until the process ends;
a second writer gives up after :data:`WAIT_SECONDS` with a message pointing at server mode.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import IO

from config.errors import StoreError

WAIT_SECONDS = 1.5
LOCK_NAME = "inquote.lock"


class DataDirLock:
    """An ``flock`` on ``data_dir/inquote.lock``; the kernel releases it if the process dies."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self, wait: float = WAIT_SECONDS) -> None:
        handle = self.path.open("a+", encoding="utf-8")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    handle.close()
                    raise StoreError(
                        f"The store in {self.path.parent} is in use by {holder}, and an embedded "
                        "store takes one writer at a time. Wait for it to finish, or run Chroma "
                        "as a server (store.mode = server, see docs/operations.md) so the "
                        "bot and any number of ingest runs can share the store."
                    ) from None
                time.sleep(0.05)
        handle.seek(0)
        handle.truncate()
        handle.write(f"inquote process {os.getpid()}")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
