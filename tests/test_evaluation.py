"""`inquote eval` through the real pipeline, and hybrid retrieval."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from bot.evaluation import load_eval_file
from bot.retrieval import Retriever, fuse
from config.settings import Settings
from ingest.pipeline import Ingestor
from ingest.reading import read_article
from ingest.schema import Scope, content_hash
from ingest.store import ChromaStore
from tests.conftest import SEEDS, FakeEmbedder
from tests.fake_ollama import FakeOllama, serve
from tests.test_cli import run
from tests.test_ollama_answers import MODEL, citing

FLOOD = read_article(SEEDS / "great-molasses-flood-1919.txt").text
STONE = read_article(SEEDS / "rosetta-stone.md").text
MOON = read_article(SEEDS / "apollo-11-moon-landing.html").text


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    return path


@pytest.mark.slow
def test_eval_reports_retrieval_answers_validity_abstention_and_latency(tmp_path: Path) -> None:
    questions = write_jsonl(tmp_path / "set.jsonl", [
        {"question": "Which company owned the molasses tank?",
         "answers": ["Purity Distilling Company"], "article": FLOOD, "title": "Flood"},
        {"question": "How fast did the wave of molasses move?",
         "answers": ["56 kilometres per hour"], "article": FLOOD},
        {"question": "Who deciphered the hieroglyphs?", "answers": ["Champollion"],
         "article": STONE, "title": "Stone"},
        {"question": "What colour was the tank painted?", "answers": [], "article": FLOOD},
    ])  # fmt: skip
    off_corpus = write_jsonl(tmp_path / "off.jsonl", [
        {"question": "Who was the command module pilot of Apollo 11?",
         "answers": ["Michael Collins"], "article": MOON},
        {"question": "In which sea did the lunar module land?",
         "answers": ["Sea of Tranquility"], "article": MOON},
        # "off-corpus" by its file, answered by another article on the same story: counted apart
        {"question": "Who owned the molasses tank?",
         "answers": ["Purity Distilling Company"], "article": "Another report on the flood"},
    ])  # fmt: skip
    result = run(tmp_path / "data", "eval", str(questions), "--off-corpus", str(off_corpus),
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["backend"] == "extractive"
    assert report["counts"] == {"answerable": 3, "unanswerable": 1, "off_corpus": 3,
                                "quotes_shown": report["counts"]["quotes_shown"]}  # fmt: skip
    measures = report["measures"]
    assert measures["recall@5"] == 1.0
    assert measures["gold_answer_in_quote"] >= 2 / 3
    assert measures["quote_validity"] == 1.0
    assert measures["abstained_off_corpus"] == 2 / 3
    assert measures["off_corpus_gold"] == 1  # the one answered holds its own gold answer
    assert measures["retrieve_p50_ms"] > 0
    assert not (tmp_path / "data" / "chroma").exists()  # a temporary store, not the user's
    assert measures["gold_answer_in_first_quote"] <= measures["gold_answer_in_quote"]
    assert measures["quotes_per_answer"] >= 1
    assert 0 <= measures["judge_auc"] <= 1  # the judge's answerable vs unanswerable ranking
    assert "declined_at_0.90" in measures
    english = report["languages"]["en"]  # a row per language of the articles asked about
    assert english["counts"]["answerable"] == 3
    assert english["measures"]["quote_validity"] == 1.0
    table = run(tmp_path / "data", "eval", str(questions)).stdout
    assert "| en | 3 / 1 / 0 |" in table
    assert "| all | 3 / 1 / 0 |" in table
    assert "gold in first quote" in table
    assert "off-corpus answered, gold in first quote" in table


@pytest.mark.slow  # three backends over one store
def test_backends_are_compared_on_the_same_questions(tmp_path: Path) -> None:
    questions = write_jsonl(tmp_path / "set.jsonl", [
        {"question": "Which company owned the molasses tank?",
         "answers": ["Purity Distilling Company"], "article": FLOOD},
        {"question": "Who deciphered the hieroglyphs?", "answers": ["Champollion"],
         "article": STONE},
    ])  # fmt: skip
    replies = [citing("Purity Distilling Company"), citing("Jean-François Champollion")]
    with serve(FakeOllama(chat_models={MODEL: replies})) as ollama:
        env = {"INQUOTE_OLLAMA__URL": ollama.url}
        result = run(tmp_path / "data", "eval", str(questions), "--backend", "extractive",
                     "--backend", "ollama", "--backend", "embedded", env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    table = result.stdout[result.stdout.index("| backend |") :].splitlines()
    assert table[0].startswith("| backend | answered | gold in a quote | gold in first quote |")
    assert table[2].startswith("| extractive | 1.000 | 1.000 |")
    assert table[3].startswith("| ollama | 1.000 | 1.000 |")  # the same questions, by the model
    if importlib.util.find_spec("llama_cpp") is None:
        assert table[4].startswith("| embedded | not run here: llama-cpp-python is not installed")
    assert len(ollama.chats()) == 2


def test_a_broken_question_file_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [{"paragraphs": 3}]}', encoding="utf-8")
    result = run(tmp_path, "eval", str(broken))
    assert result.exit_code == 1
    assert "not a SQuAD v2 or question JSONL file" in result.stderr


def test_a_squad_title_is_the_wikipedia_page_name_as_the_page_shows_it(tmp_path: Path) -> None:
    """The title heads each sentence's second reading (bot.extractive), so it reads as words."""
    squad = tmp_path / "squad.json"
    paragraph = {"context": "Complexity classes group problems by the resources they need.",
                 "qas": [{"id": "1", "question": "What do complexity classes group?",
                          "answers": [{"text": "problems", "answer_start": 24}]}]}  # fmt: skip
    entry = {"title": "Computational_complexity_theory", "paragraphs": [paragraph]}
    squad.write_text(json.dumps({"version": "v2.0", "data": [entry]}), encoding="utf-8")
    articles, questions = load_eval_file(squad)
    assert [article.title for article in articles] == ["Computational complexity theory"]
    assert [question.article for question in questions] == ["Computational complexity theory"]


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    keyword = [("c", 12.0), ("d", 9.0), ("b", 1.0)]
    fused = [chunk_id for chunk_id, _ in fuse([dense, keyword], rrf_k=60)]
    assert fused == ["c", "b", "a", "d"]


def test_keyword_retrieval_finds_rare_words_and_follows_the_store(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    store = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    ingestor = Ingestor(store, fake_embedder, settings)
    ingestor.add_paths([SEEDS])
    bm25 = settings.retrieval.model_copy(update={"mode": "bm25"})
    retriever = Retriever(store, store.keywords, bm25)
    question = "granodiorite"
    [first, *_] = retriever.retrieve(question, fake_embedder.embed_query(question), 3)
    assert "granodiorite" in first.chunk.text
    assert first.article.text[first.chunk.start : first.chunk.end] == first.chunk.text
    note = tmp_path / "note.txt"
    note.write_text("Zanzibar cloves\n\nThe zanzibarian clove harvest fell by a third.", "utf-8")
    ingestor.add_paths([note])  # the index must see it
    [found] = retriever.retrieve("zanzibarian", fake_embedder.embed_query("zanzibarian"), 3)
    assert found.article.title == "Zanzibar cloves"
    only = retriever.retrieve(
        "the", fake_embedder.embed_query("the"), 3, Scope(article_ids=(found.article.article_id,))
    )
    assert only == [] or all(h.article.article_id == found.article.article_id for h in only)
    assert content_hash(found.article.text) == found.article.content_hash
