"""A pool of LLM servers: each request goes to the one with the fewest requests in flight (of
those, the one chosen longest ago), and a server that failed is left out for
:data:`REST_SECONDS` (tried again after, or at once when every server is resting). One server is
a pool of one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

from config.errors import BackendError

Server = TypeVar("Server")
log = logging.getLogger(__name__)

REST_SECONDS = 30.0
# Requests one server is counted on to take at once (Ollama's default OLLAMA_NUM_PARALLEL is 4;
# vLLM and llama-server batch more): what telegram.max_concurrent_answers = 0 multiplies.
PER_SERVER = 4


class ServerPool(Generic[Server]):
    def __init__(self, servers: Sequence[Server]) -> None:
        if not servers:
            raise ValueError("a pool needs at least one server")
        self.servers = list(servers)
        self._in_flight = [0] * len(self.servers)
        self._resting_until = [0.0] * len(self.servers)
        self._chosen_at = [0] * len(self.servers)  # when each was last chosen (a count)
        self._choices = 0
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        """Requests the pool is counted on to serve at once."""
        return PER_SERVER * len(self.servers)

    @contextmanager
    def lease(self) -> Iterator[Server]:
        """The server to send one request to; a :class:`BackendError` raised while it is held
        rests that server (the error still reaches the caller)."""
        with self._lock:
            now = time.monotonic()
            awake = [i for i, until in enumerate(self._resting_until) if until <= now]
            chosen = min(
                awake or range(len(self.servers)),
                key=lambda i: (self._in_flight[i], self._chosen_at[i]),
            )
            self._in_flight[chosen] += 1
            self._choices += 1
            self._chosen_at[chosen] = self._choices
        try:
            yield self.servers[chosen]
        except BackendError:
            with self._lock:
                self._resting_until[chosen] = time.monotonic() + REST_SECONDS
            raise
        finally:
            with self._lock:
                self._in_flight[chosen] -= 1

    def stream(self, reply: Callable[[Server], Iterator[str]]) -> Iterator[str]:
        """``reply`` from the least busy server; one that fails before writing anything is
        rested and the next one asked (a reply cut midway fails: it was partly shown)."""
        for attempt in range(len(self.servers)):
            written = False
            try:
                with self.lease() as server:
                    for piece in reply(server):
                        written = True
                        yield piece
                return
            except BackendError as exc:
                if written or attempt == len(self.servers) - 1:
                    raise
                log.warning("%s; asking the next server of the pool", exc)
