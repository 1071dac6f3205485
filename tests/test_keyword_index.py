"""The keyword index beside the store: caught up by change, never rebuilt, shared by processes."""

from __future__ import annotations

import threading
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from bot.retrieval import Retriever
from config.settings import Settings, load_settings
from ingest import keyword_index
from ingest.pipeline import Ingestor
from ingest.schema import Scope, ScoredChunk
from ingest.store import ChromaStore
from tests.conftest import FakeEmbedder

ROSETTA = "The Rosetta Stone and the decipherment of hieroglyphs"
HARVEST = "clove harvest fell by a third this year, and the farmers said the rains were late."


def other_host(settings: Settings, fake_embedder: FakeEmbedder, folder: Path) -> ChromaStore:
    """The same store as another process with its own data directory sees it."""
    client = chromadb.PersistentClient(
        path=str(settings.data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    return ChromaStore(client, fake_embedder.fingerprint, folder)  # as open_server opens one


def keyword_hits(
    store: ChromaStore, question: str, article_ids: list[str] | None = None
) -> list[ScoredChunk]:
    """What a question retrieves by keywords alone (it first catches the index up)."""
    retrieval = load_settings().retrieval.model_copy(update={"mode": "bm25"})
    return Retriever(store, store.keywords, retrieval).retrieve(
        question, [], 5, Scope(article_ids=tuple(article_ids or ()))
    )


def found_titles(store: ChromaStore, word: str) -> list[str]:
    return [hit.article.title for hit in keyword_hits(store, f"Is there a {word} ?")]


def write_note(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_reader_sees_a_new_article_at_its_next_search_without_a_rebuild(
    writer: Ingestor, settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    reader = other_host(settings, fake_embedder, tmp_path / "host-b")
    assert found_titles(reader, "zanzibarian cloves") == []
    assert reader.keywords.indexed == 5  # the first look indexes what is there
    note = write_note(tmp_path, "note.txt", f"Zanzibar cloves\n\nThe zanzibarian {HARVEST}")
    writer.add_paths([note])
    assert found_titles(reader, "zanzibarian cloves") == ["Zanzibar cloves"]
    assert reader.keywords.indexed == 6  # only the new article was read and indexed


def test_replaced_and_removed_articles_leave_the_index(
    writer: Ingestor,
    settings: Settings,
    fake_embedder: FakeEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader = other_host(settings, fake_embedder, tmp_path / "host-b")
    note = write_note(tmp_path, "note.txt", f"Cloves\n\nThe zanzibarian {HARVEST}")
    writer.add_paths([note])
    assert found_titles(reader, "zanzibarian") == ["Cloves"]
    write_note(tmp_path, "note.txt", f"Cloves\n\nThe pembaian {HARVEST}")
    writer.add_paths([note])
    assert found_titles(reader, "zanzibarian") == []
    assert found_titles(reader, "pembaian") == ["Cloves"]
    [article] = [a for a in writer.store.articles() if a.title == "Cloves"]
    writer.store.remove_article(article.article_id)
    assert found_titles(reader, "pembaian") == []  # its chunk is still indexed, but left out
    assert found_titles(writer.store, "pembaian") == []  # the writer's index: updated on write
    indexed = reader.keywords.indexed
    monkeypatch.setattr(keyword_index, "COUNT_SECONDS", 0.0)  # the periodic count comes round
    reader.keywords.catch_up()
    assert reader.keywords.indexed == indexed + 1
    assert reader.keywords.search("pembaian", 5, ("en",)) == []  # gone from the index too


def test_a_reopened_index_is_not_built_again(
    writer: Ingestor, settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    store = writer.store
    assert found_titles(store, "granodiorite") == [ROSETTA]
    store.close()
    reopened = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    assert found_titles(reopened, "granodiorite") == [ROSETTA]
    assert reopened.keywords.indexed == 0
    assert reopened.keywords.languages() == ["en", "fa"]  # four English seeds, one Persian


def test_any_question_word_finds_a_chunk_and_a_filter_keeps_to_its_articles(
    writer: Ingestor,
) -> None:
    store = writer.store
    hits = keyword_hits(store, "molasses granodiorite")
    assert ROSETTA in [hit.article.title for hit in hits]  # the one chunk with "granodiorite"
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    molasses = next(a for a in store.articles() if "Molasses" in a.title)
    only = keyword_hits(store, "molasses granodiorite", [molasses.article_id])
    assert only
    assert {hit.article.article_id for hit in only} == {molasses.article_id}
    # the index keeps each chunk as the store does, so a keyword hit needs no read of the store
    stored = {chunk.chunk_id: chunk for chunk in store.chunks_of([molasses.article_id])}
    assert store.keywords.chunks(list(stored)) == stored


def test_a_name_and_its_initials_count_as_one_word(
    writer: Ingestor, fake_store: ChromaStore, tmp_path: Path
) -> None:
    # "United States" is the terms unit, state and us; a text writing "U.S." holds only us. As
    # three words, the seeds' "United States flag" or "United States Industrial Alcohol Company"
    # would outweigh an article that says "U.S." twice; as one, they do not.
    said = "The U.S. budget office said the U.S. deficit grew. Nothing else was said."
    writer.add_paths([write_note(tmp_path, "deficit.txt", f"Deficit\n\n{said}")])
    hits = keyword_hits(fake_store, "What did the United States say?")
    assert hits[0].article.title == "Deficit"


def test_a_reader_on_the_same_data_directory_never_serves_an_old_version_from_memory(
    writer: Ingestor, settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    reader = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    note = write_note(tmp_path, "note.txt", f"Cloves\n\nThe zanzibarian {HARVEST}")
    writer.add_paths([note])
    [first] = keyword_hits(reader, "Is there a zanzibarian ?")
    [again] = keyword_hits(reader, "Is there a zanzibarian ?")
    assert again.article is first.article  # kept in memory while it is the current version
    write_note(tmp_path, "note.txt", f"Cloves\n\nThe zanzibarian and pembaian {HARVEST}")
    writer.add_paths([note])
    [updated] = keyword_hits(reader, "Is there a zanzibarian ?")
    assert "pembaian" in updated.article.text
    assert updated.article.text[updated.chunk.start : updated.chunk.end] == updated.chunk.text
    writer.store.remove_article(updated.article.article_id)
    assert keyword_hits(reader, "Is there a zanzibarian ?") == []


def test_an_article_a_killed_writer_stored_but_never_indexed_is_indexed_by_the_next_process(
    writer: Ingestor,
    settings: Settings,
    fake_embedder: FakeEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = writer.store
    monkeypatch.setattr(store, "_keeps_keywords", lambda: False)  # killed before indexing
    writer.add_paths([write_note(tmp_path, "note.txt", f"Cloves\n\nThe zanzibarian {HARVEST}")])
    monkeypatch.undo()
    assert found_titles(store, "zanzibarian") == []  # this process's index never heard of it
    store.close()
    reopened = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    assert found_titles(reopened, "zanzibarian") == ["Cloves"]
    assert reopened.keywords.indexed == 1  # that article alone, not the whole store again


def test_threads_meeting_a_damaged_index_at_once_rebuild_it_once_and_find_alike(
    writer: Ingestor, fake_store: ChromaStore, caplog: pytest.LogCaptureFixture
) -> None:
    root = fake_store.keywords.folder.parent
    collection = fake_store.keywords.folder.name.split(".")[0]
    fake_store.keywords.close()
    (fake_store.keywords.folder / "articles.sqlite").write_bytes(b"not a database" * 1000)
    start = threading.Barrier(4)
    found: list[list[str]] = []

    def open_and_search() -> None:
        start.wait()
        index = keyword_index.KeywordIndex.for_collection(
            root, collection, fake_store._chroma, writers_update=True
        )
        index.catch_up()
        found.append(sorted(chunk.chunk_id for chunk, _ in index.search("hieroglyphs", 5, ["en"])))
        index.close()

    workers = [threading.Thread(target=open_and_search) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum("is damaged" in record.message for record in caplog.records) == 1
    assert len(found) == 4
    assert found[0]
    assert all(hits == found[0] for hits in found)


def test_a_large_rebuild_tells_its_progress(
    writer: Ingestor,
    fake_store: ChromaStore,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keyword_index, "PROGRESS_FROM", 1)  # the seeds count as large
    root = fake_store.keywords.folder.parent
    collection = fake_store.keywords.folder.name.split(".")[0]
    fake_store.keywords.close()
    index = keyword_index.KeywordIndex.for_collection(
        root, "another", fake_store._chroma, writers_update=True
    )
    index.catch_up()
    told = [r.message for r in caplog.records if r.message.startswith("keyword index: ")]
    assert told[0].startswith("keyword index: 12% built (4 of 32 chunks)")
    assert told[9] == "keyword index: 100% built (32 of 32 chunks)"
    assert len(told) == 10
    index.close()
    assert collection not in {path.name.split(".")[0] for path in root.iterdir()}
