"""Conversations: follow-ups made to stand alone, with and without an LLM, and `inquote chat`."""

from __future__ import annotations

from pathlib import Path

from bot.answering import Answerer
from bot.conversation import Conversation
from config.settings import load_settings
from ingest.embedding import Embedder
from ingest.store import ChromaStore
from tests.conftest import NOT_ANSWERED_JSON, FakeGenerator, answer_json, assert_quotes_verbatim
from tests.test_cli import run

FIRST = "Why did Putin recognise Donetsk and Lugansk?"
FOLLOW_UP = "and what did Lavrov say about the sanctions?"


def answerer(
    data_dir: Path, embedder: Embedder, generator: FakeGenerator | None = None
) -> Answerer:
    config = load_settings(overrides={"data_dir": str(data_dir)})
    store = ChromaStore.open_persistent(data_dir, embedder.fingerprint)
    return Answerer(
        store, store.keywords, embedder, config.retrieval, config.answer, generator=generator
    )


def test_without_an_llm_a_follow_up_borrows_the_previous_topic(
    seeded_dir: Path, real_embedder: Embedder
) -> None:
    conversation = Conversation(answerer(seeded_dir, real_embedder), history_turns=4)
    first = conversation.ask("Who first stepped onto the Moon?")
    assert first.standalone == "Who first stepped onto the Moon?"
    follow_up = conversation.ask("and who joined him?")
    assert follow_up.standalone == "and who joined him? (Moon)"
    # The borrowed topic finds the passage; the answerability judge may still call it only the
    # closest one (a two-word question tells it little), so it is shown either way.
    assert any("Aldrin joined him" in quote.text for quote in follow_up.answer.quotes)
    assert_quotes_verbatim(_store(seeded_dir, real_embedder), follow_up.answer.quotes)
    assert conversation.standalone("Who deciphered the Rosetta Stone hieroglyphs?") == (
        "Who deciphered the Rosetta Stone hieroglyphs?"
    )  # a question that stands alone is left alone


def _store(data_dir: Path, embedder: Embedder) -> ChromaStore:
    return ChromaStore.open_persistent(data_dir, embedder.fingerprint)


def test_with_an_llm_the_model_rewrites_the_follow_up(
    seeded_dir: Path, real_embedder: Embedder
) -> None:
    model = FakeGenerator(
        answer_json(("Putin recognised them", 1, "recognised the independence")),
        "Standalone question: What did Lavrov say about the Western sanctions?",
    )
    conversation = Conversation(answerer(seeded_dir, real_embedder, model), history_turns=4)
    conversation.ask(FIRST)
    turn = conversation.ask(FOLLOW_UP)
    assert turn.standalone == "What did Lavrov say about the Western sanctions?"
    rewrite_request = model.history[1]
    assert FIRST in rewrite_request[1]["content"]
    assert rewrite_request[1]["content"].endswith(f"Last question: {FOLLOW_UP}")


def test_an_unusable_rewrite_falls_back_and_reset_forgets(
    seeded_dir: Path, real_embedder: Embedder
) -> None:
    model = FakeGenerator(NOT_ANSWERED_JSON, "\n\n", NOT_ANSWERED_JSON)
    conversation = Conversation(answerer(seeded_dir, real_embedder, model), history_turns=4)
    conversation.ask(FIRST)
    turn = conversation.ask("what about them?")
    assert turn.standalone.startswith("what about them? (")
    conversation.reset()
    assert conversation.turns == []
    assert conversation.standalone("what about them?") == "what about them?"


def test_chat_answers_follow_ups_and_takes_commands(seeded_dir: Path) -> None:
    session = "\n".join(
        [
            "Who first stepped onto the Moon?",
            "/sources",
            "and who joined him?",
            "/reset",
            "/nonsense",
            "/quit",
        ]
    )
    result = run(seeded_dir, "chat", stdin=session + "\n")
    assert result.exit_code == 0, result.output
    assert "answering with extractive sentences" in result.stderr
    assert "Armstrong" in result.stdout
    assert "Aldrin" in result.stdout
    assert "rosetta-stone" in result.stdout  # /sources lists the articles
    assert "(conversation forgotten)" in result.stdout
    assert result.stdout.count("Ask a question.") == 1  # /nonsense got the help line


def test_a_question_that_stands_alone_costs_no_rewrite_call(
    seeded_dir: Path, real_embedder: Embedder
) -> None:
    model = FakeGenerator(
        answer_json(("Putin recognised them", 1, "recognised the independence")),
        answer_json(
            ("Armstrong stepped out", 1, "Armstrong became the first person to step onto the Moon")
        ),
    )
    conversation = Conversation(answerer(seeded_dir, real_embedder, model), history_turns=4)
    conversation.ask(FIRST)
    turn = conversation.ask("Who was the first person to step onto the Moon?")
    assert turn.standalone == turn.question  # asked as it was
    assert len(model.history) == 2  # two answers, no rewrite request between them
    assert "Last question:" not in model.history[1][-1]["content"]
