"""The Ollama embedder over real HTTP, against a loopback server speaking Ollama's protocol."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from config.errors import BackendError
from config.settings import load_settings
from ingest.embedding import OllamaEmbedder, make_embedder
from tests.conftest import FakeEmbedder
from tests.fake_ollama import FakeOllama, serve


def test_embeds_documents_and_queries_with_their_prefixes() -> None:
    model = FakeEmbedder(dimension=48)
    with serve(FakeOllama(models={"nomic-embed-text": model})) as ollama:
        embedder = OllamaEmbedder(
            ollama.url, "nomic-embed-text", query_prefix="q: ", document_prefix="d: "
        )
        assert embedder.fingerprint.model == "ollama/nomic-embed-text"
        assert embedder.fingerprint.dimension == 48
        documents = embedder.embed_documents(["first text", "second text"])
        query = embedder.embed_query("a question")
    assert len(documents) == 2
    assert all(len(vector) == 48 for vector in [*documents, query])
    np.testing.assert_allclose(documents[0], model.embed_query("d: first text"), atol=1e-6)
    np.testing.assert_allclose(query, model.embed_query("q: a question"), atol=1e-6)
    sent = [body for path, body in ollama.requests if path == "/api/embed"]
    assert sent[-2] == {"model": "nomic-embed-text", "input": ["d: first text", "d: second text"]}
    assert sent[-1] == {"model": "nomic-embed-text", "input": ["q: a question"]}


def test_a_missing_model_says_how_to_pull_it() -> None:
    with serve(FakeOllama()) as ollama:
        embedder = OllamaEmbedder(ollama.url, "nomic-embed-text")
        with pytest.raises(BackendError, match=r"run `ollama pull nomic-embed-text`"):
            embedder.embed_query("hello")


def test_a_busy_server_is_reported_with_its_answer() -> None:
    with serve(FakeOllama(status=503)) as ollama:
        embedder = OllamaEmbedder(ollama.url, "nomic-embed-text")
        with pytest.raises(BackendError, match=r"answered 503.*server busy"):
            embedder.embed_documents(["hello"])


def test_an_unreachable_server_says_how_to_start_it() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    embedder = OllamaEmbedder(f"http://127.0.0.1:{port}", "nomic-embed-text", timeout=2)
    with pytest.raises(BackendError) as caught:
        embedder.embed_query("hello")
    assert f"Ollama is not reachable at http://127.0.0.1:{port}" in str(caught.value)
    assert "ollama serve" in str(caught.value)


def test_settings_choose_the_ollama_embedder() -> None:
    settings = load_settings(
        env={
            "INQUOTE_EMBEDDING__BACKEND": "ollama",
            "INQUOTE_EMBEDDING__OLLAMA_MODEL": "mxbai-embed-large",
            "INQUOTE_OLLAMA__URL": "http://127.0.0.1:1",
        }
    )
    embedder = make_embedder(settings)
    assert isinstance(embedder, OllamaEmbedder)
    with pytest.raises(BackendError, match=r"http://127\.0\.0\.1:1"):
        embedder.embed_query("x")
