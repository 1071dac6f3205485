"""The sentence-vector cache the answering path shares between the bot's answering threads."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ingest.embedding import CachingEmbedder, Vector
from tests.conftest import FakeEmbedder


class SlowEmbedder(FakeEmbedder):
    """Takes its time, so threads interleave while one of them embeds."""

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        time.sleep(0.001)
        return super().embed_documents(texts)


def test_many_threads_get_the_right_vectors_while_the_cache_evicts() -> None:
    inner = SlowEmbedder()
    cache = CachingEmbedder(inner, capacity=8)  # far fewer rows than the threads ask for
    sentences = [f"sentence {n} about topic {n % 7}" for n in range(40)]
    asks = [random.Random(seed).sample(sentences, 6) for seed in range(400)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(cache.embed_documents, asks))

    for asked, vectors in zip(asks, results, strict=True):
        assert np.allclose(vectors, inner.embed_documents(asked))


def test_a_sentence_asked_again_is_not_embedded_again() -> None:
    inner = FakeEmbedder()
    cache = CachingEmbedder(inner)
    cache.embed_documents(["The tank burst.", "Molasses flowed."])
    cache.embed_documents(["Molasses flowed.", "The tank burst."])
    assert inner.document_calls == 1
