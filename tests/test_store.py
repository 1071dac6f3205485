"""The write path against a real embedded Chroma: idempotent, all-or-nothing, fingerprinted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from chromadb.errors import InternalError

from config.errors import ArticleNotFoundError, EmbeddingMismatchError, StoreError
from config.settings import Settings
from ingest.chroma_collections import SEARCH_EF
from ingest.chunking import chunk_article
from ingest.outcomes import IngestReport
from ingest.pipeline import WRITE_BATCH, Ingestor
from ingest.reading import read_article
from ingest.schema import Article
from ingest.store import ChromaStore
from tests.conftest import FakeEmbedder


def ingest(
    paths: list[Path], store: ChromaStore, embedder: FakeEmbedder, settings: Settings
) -> IngestReport:
    return Ingestor(store, embedder, settings).add_paths(paths)


def chunk_texts(store: ChromaStore, article_id: str) -> list[str]:
    found = store._chroma._chunks.get(where={"article_id": article_id}, include=["documents"])
    return sorted(found["documents"])


def test_reingesting_the_same_content_changes_nothing(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    first = ingest([seeds_copy], fake_store, fake_embedder, settings)
    assert first.summary() == "5 added, 0 updated, 0 unchanged, 0 failed"
    chunks = fake_store.chunk_count()
    calls = fake_embedder.document_calls
    second = ingest([seeds_copy], fake_store, fake_embedder, settings)
    assert second.summary() == "0 added, 0 updated, 5 unchanged, 0 failed"
    assert fake_store.chunk_count() == chunks
    assert fake_embedder.document_calls == calls  # nothing was embedded again
    assert sum(article.chunk_count for article in fake_store.articles()) == chunks


def test_a_file_named_twice_in_one_ingest_is_stored_once(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    """`inquote ingest seeds/ seeds/one.txt`: the second sight of a file waiting in the same
    batch as the first is unchanged, not a second copy in the batch's write."""
    again = seeds_copy / "great-molasses-flood-1919.txt"
    report = ingest([seeds_copy, again], fake_store, fake_embedder, settings)
    assert report.summary() == "5 added, 0 updated, 1 unchanged, 0 failed"
    article_id = read_article(again).article_id
    statuses = [outcome.status for outcome in report.outcomes if outcome.article_id == article_id]
    assert statuses == ["unchanged", "added"]
    stored = fake_store.get_article(article_id)
    assert stored is not None
    assert len(chunk_texts(fake_store, article_id)) == stored.chunk_count


def test_changed_content_replaces_the_articles_chunks(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    path = seeds_copy / "great-molasses-flood-1919.txt"
    ingest([seeds_copy], fake_store, fake_embedder, settings)
    old = read_article(path)
    before = fake_store.chunk_count()
    path.write_text("The Great Molasses Flood\n\nA short rewrite about sticky streets.", "utf-8")
    report = ingest([path], fake_store, fake_embedder, settings)
    assert report.summary() == "0 added, 1 updated, 0 unchanged, 0 failed"
    stored = fake_store.get_article(old.article_id)
    assert stored is not None
    assert stored.text == "The Great Molasses Flood\n\nA short rewrite about sticky streets."
    assert chunk_texts(fake_store, old.article_id) == [stored.text]
    assert fake_store.chunk_count() == before - old_chunk_count(old, settings) + 1


def old_chunk_count(article: Article, settings: Settings) -> int:
    return len(
        chunk_article(article, settings.chunking.chunk_size, settings.chunking.chunk_overlap)
    )


def test_a_bad_file_is_reported_and_nothing_of_it_is_stored(
    tmp_path: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    (tmp_path / "good.txt").write_text("Good article\n\nIt has a sentence or two.", "utf-8")
    (tmp_path / "bad.html").write_bytes(b"<html>\x00\xff\xfe</html>")
    (tmp_path / "empty.md").write_text("\n\n", "utf-8")
    report = ingest([tmp_path], fake_store, fake_embedder, settings)
    assert report.summary() == "1 added, 0 updated, 0 unchanged, 2 failed"
    reasons = sorted(outcome.reason for outcome in report.failed)
    assert "bad.html: looks binary" in reasons[0]
    assert "empty.md: holds no text" in reasons[1]
    assert [article.title for article in fake_store.articles()] == ["Good article"]
    assert fake_store.chunk_count() == 1


def test_an_embedder_failure_leaves_the_stored_version_whole(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    path = seeds_copy / "rosetta-stone.md"
    ingest([path], fake_store, fake_embedder, settings)
    old = read_article(path)
    old_chunks = chunk_texts(fake_store, old.article_id)
    path.write_text(path.read_text("utf-8") + "\nA new paragraph about Champollion.\n", "utf-8")
    fake_embedder.fail_after = fake_embedder.document_calls
    with pytest.raises(RuntimeError, match="told to fail"):
        ingest([path], fake_store, fake_embedder, settings)
    stored = fake_store.get_article(old.article_id)
    assert stored is not None
    assert stored.content_hash == old.content_hash
    assert chunk_texts(fake_store, old.article_id) == old_chunks


def test_a_write_cut_short_before_the_commit_point_is_invisible_and_taken_back(
    seeds_copy: Path,
    fake_store: ChromaStore,
    fake_embedder: FakeEmbedder,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = seeds_copy / "rosetta-stone.md"
    ingest([path], fake_store, fake_embedder, settings)
    old = read_article(path)
    old_chunks = chunk_texts(fake_store, old.article_id)
    path.write_text(path.read_text("utf-8").replace("granodiorite", "basalt"), "utf-8")

    def crash(*args: object, **kwargs: object) -> None:
        raise InternalError("disk full")

    monkeypatch.setattr(fake_store._chroma._articles, "upsert", crash)
    with pytest.raises(StoreError, match="disk full"):
        ingest([path], fake_store, fake_embedder, settings)
    monkeypatch.undo()
    # the failed write took its new chunks back: readers see only the old version
    assert fake_store.chunk_count() == len(old_chunks)
    hits = fake_store.query(fake_embedder.embed_query("basalt slab decree"), top_k=50)
    assert hits
    assert all("basalt" not in hit.chunk.text for hit in hits)
    assert all(hit.article.content_hash == old.content_hash for hit in hits)
    # the next ingest stores the new version
    report = ingest([path], fake_store, fake_embedder, settings)
    assert report.summary() == "0 added, 1 updated, 0 unchanged, 0 failed"
    assert all("granodiorite" not in text for text in chunk_texts(fake_store, old.article_id))
    updated = fake_store.get_article(old.article_id)
    assert updated is not None
    assert fake_store.chunk_count() == updated.chunk_count


def test_another_embedding_model_is_refused_until_reindexed(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    ingest([seeds_copy], fake_store, fake_embedder, settings)
    other = FakeEmbedder(dimension=32, model="fake/other")
    with pytest.raises(EmbeddingMismatchError) as caught:
        ChromaStore.open_persistent(settings.data_dir, other.fingerprint)
    message = str(caught.value)
    assert "'fake/bag-of-words' (64 dimensions)" in message
    assert "'fake/other' (32 dimensions)" in message
    assert "inquote reindex" in message

    store = ChromaStore.open_persistent(
        settings.data_dir, other.fingerprint, check_fingerprint=False
    )
    before = {a.article_id: a.chunk_count for a in store.articles()}
    assert Ingestor(store, other, settings).reindex() == 5
    reopened = ChromaStore.open_persistent(settings.data_dir, other.fingerprint)
    assert {a.article_id: a.chunk_count for a in reopened.articles()} == before
    assert reopened.chunk_count() == sum(before.values())
    [chunk] = reopened.query(other.embed_query("molasses"), top_k=1)  # any chunk: its own text
    hits = reopened.query(other.embed_query(chunk.chunk.text), top_k=1)
    assert hits[0].chunk.chunk_id == chunk.chunk.chunk_id  # the new model's vectors are stored
    with pytest.raises(EmbeddingMismatchError):
        ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)


def test_a_failed_reindex_keeps_the_old_index_serving(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    ingest([seeds_copy], fake_store, fake_embedder, settings)
    chunks = fake_store.chunk_count()
    other = FakeEmbedder(dimension=32, model="fake/other")
    other.fail_after = 2
    store = ChromaStore.open_persistent(
        settings.data_dir, other.fingerprint, check_fingerprint=False
    )
    with pytest.raises(RuntimeError):
        Ingestor(store, other, settings).reindex()
    reopened = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    assert reopened.chunk_count() == chunks
    assert reopened.query(fake_embedder.embed_query("Rosetta Stone"), top_k=1)


def test_remove_deletes_the_article_and_its_chunks(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    ingest([seeds_copy], fake_store, fake_embedder, settings)
    article = read_article(seeds_copy / "rosetta-stone.md")
    total = fake_store.chunk_count()
    removed = fake_store.remove_article(article.article_id)
    assert removed.title == article.title
    assert fake_store.get_article(article.article_id) is None
    assert fake_store.chunk_count() == total - removed.chunk_count
    with pytest.raises(ArticleNotFoundError, match="inquote list"):
        fake_store.remove_article(article.article_id)


def test_query_can_be_limited_to_articles(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    ingest([seeds_copy], fake_store, fake_embedder, settings)
    rosetta = read_article(seeds_copy / "rosetta-stone.md").article_id
    hits = fake_store.query(fake_embedder.embed_query("Putin sanctions"), 5, [rosetta])
    assert hits
    assert {hit.article.article_id for hit in hits} == {rosetta}
    for hit in hits:
        assert hit.chunk.text == hit.article.text[hit.chunk.start : hit.chunk.end]


def test_query_scores_are_cosine_similarities(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    ingest([seeds_copy], fake_store, fake_embedder, settings)
    question = fake_embedder.embed_query("molasses tank burst in Boston")
    hits = fake_store.query(question, top_k=4)
    for hit in hits:
        expected = float(np.dot(question, fake_embedder.embed_query(hit.chunk.text)))
        assert hit.score == pytest.approx(expected, abs=1e-4)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_an_unusable_data_dir_is_a_clear_error(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", "utf-8")
    with pytest.raises(StoreError, match="--data-dir or INQUOTE_DATA_DIR"):
        ChromaStore.open_persistent(blocker / "data", fake_embedder.fingerprint)


def story(number: int) -> str:
    words = " ".join(f"word{number}x{k}" for k in range(60))
    return f"# Story {number}\n\nStory {number} tells of {words}.\n"


def test_a_bulk_ingest_writes_many_articles_per_store_write(
    tmp_path: Path,
    fake_store: ChromaStore,
    fake_embedder: FakeEmbedder,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "bulk"
    folder.mkdir()
    for number in range(WRITE_BATCH + 8):
        (folder / f"story-{number:02}.md").write_text(story(number), "utf-8")
    (folder / "story-copy.md").write_text(story(3), "utf-8")  # the same story as story-03
    writes: list[int] = []
    put_articles = fake_store.put_articles

    def counted(entries: list[tuple[Article, list[object], list[list[float]]]]) -> None:
        writes.append(len(entries))
        put_articles(entries)  # type: ignore[arg-type]

    monkeypatch.setattr(fake_store, "put_articles", counted)
    report = ingest([folder], fake_store, fake_embedder, settings)
    assert report.count("added") == WRITE_BATCH + 8
    assert report.count("duplicate") == 1  # found among articles not yet written
    assert sum(writes) == WRITE_BATCH + 8
    assert len(writes) <= 3  # not one write per article
    assert fake_embedder.document_calls <= 3  # nor one embedding call per article
    assert fake_store.article_count() == WRITE_BATCH + 9
    assert all(fake_store.query(fake_embedder.embed_query(f"Story {n}"), top_k=1) for n in range(3))


def test_a_bulk_ingest_cut_short_by_the_embedder_keeps_the_batches_written_before(
    tmp_path: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    folder = tmp_path / "bulk"
    folder.mkdir()
    for number in range(WRITE_BATCH + 10):
        (folder / f"story-{number:02}.md").write_text(story(number), "utf-8")
    fake_embedder.fail_after = fake_embedder.document_calls + 1  # the second batch fails
    with pytest.raises(RuntimeError, match="told to fail"):
        ingest([folder], fake_store, fake_embedder, settings)
    assert fake_store.article_count() == WRITE_BATCH  # each whole; the rest can be ingested again
    assert fake_store.chunk_count() == sum(a.chunk_count for a in fake_store.articles())
    fake_embedder.fail_after = None
    again = ingest([folder], fake_store, fake_embedder, settings)
    assert (again.count("unchanged"), again.count("added")) == (WRITE_BATCH, 10)


def test_chunks_a_killed_write_left_are_ignored_then_go_with_the_articles_next_write(
    seeds_copy: Path, fake_store: ChromaStore, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    path = seeds_copy / "rosetta-stone.md"
    ingest([path], fake_store, fake_embedder, settings)
    stored = fake_store.get_article(read_article(path).article_id)
    assert stored is not None
    killed = replace(stored, text="A version whose write was killed.", content_hash="f" * 64)
    [orphan] = chunk_article(killed, settings.chunking.chunk_size, 0)
    # what a process killed between its chunks and its commit leaves
    fake_store._chroma._chunks.add(
        ids=[orphan.chunk_id], documents=[orphan.text], metadatas=[orphan.metadata()],
        embeddings=[fake_embedder.embed_query(orphan.text)],
    )  # fmt: skip
    hits = fake_store.query(fake_embedder.embed_query(orphan.text), top_k=50)
    assert all(hit.chunk.chunk_id != orphan.chunk_id for hit in hits)
    path.write_text(path.read_text("utf-8").replace("granodiorite", "basalt"), "utf-8")
    ingest([path], fake_store, fake_embedder, settings)
    assert fake_store._chroma._chunks.get(ids=[orphan.chunk_id])["ids"] == []


def _unit_vectors(count: int, dimension: int, seed: int) -> np.ndarray:
    vectors: np.ndarray = np.random.default_rng(seed).normal(size=(count, dimension))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def test_nearest_chunks_are_the_exact_nearest_beyond_the_brute_force_buffer(
    fake_store: ChromaStore, fake_embedder: FakeEmbedder
) -> None:
    """3,000 chunks sit in Chroma's HNSW graph, not its buffer of 100 searched exhaustively:
    with Chroma's default 100 neighbours explored, some of these questions' true 40 were missed."""
    dimension = fake_embedder.fingerprint.dimension
    stored = _unit_vectors(3000, dimension, seed=1)
    ids = [f"chunk-{index}" for index in range(len(stored))]
    fake_store._chroma._chunks.add(ids=ids, embeddings=stored.tolist())
    for question in _unit_vectors(30, dimension, seed=2):
        exact = [ids[i] for i in np.argsort(-(stored @ question))[:40]]
        assert [chunk_id for chunk_id, _ in fake_store.nearest(question.tolist(), 40)] == exact


def test_a_store_made_with_chromas_default_search_is_searched_wide_when_opened(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    older = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    older._chroma._chunks.modify(configuration={"hnsw": {"ef_search": 100}})
    older.close()
    store = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    assert store._chroma._chunks.configuration_json["hnsw"]["ef_search"] == SEARCH_EF
