"""The port every answer-writing LLM backend implements, and what they share."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, TypedDict

# Served models' tokenizers average about four characters of English per token; a backend that
# can't count (a server) budgets with three, so an estimate never undercounts a prompt into
# silent truncation.
CHARS_PER_TOKEN = 3


class ChatMessage(TypedDict):
    role: str  # "system", "user" or "assistant"
    content: str


class Generator(Protocol):
    """A chat model that streams its reply as text pieces."""

    @property
    def backend(self) -> str:
        """``ollama``, ``openai`` or ``embedded``: the ``backend`` an answer names."""
        ...

    @property
    def description(self) -> str:
        """Backend and model, for the one line saying who answered."""
        ...

    @property
    def context_tokens(self) -> int:
        """Tokens the model sees at once: prompt and reply together."""
        ...

    @property
    def capacity(self) -> int:
        """Replies it is counted on to write at once (a pool of servers: more)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes (an upper estimate where the tokenizer is not at hand)."""
        ...

    def generate(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        schema: Mapping[str, Any] | None = None,
    ) -> Iterator[str]:
        """The reply, piece by piece; with ``schema``, JSON the backend decodes to fit it."""
        ...
