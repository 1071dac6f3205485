"""The development question sets the judge learns from (training.question_sets)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.answerability import ACROSS
from bot.evaluation import EvalArticle, EvalQuestion
from config.settings import load_settings
from ingest.embedding import Embedder
from training.question_sets import (
    XQUAD_LANGUAGES,
    QuestionSet,
    across_languages,
    across_mixed_off_corpus,
    across_one_language,
    other_sources,
    question_set,
)
from training.signals import ask_set

TOPICS = [f"Topic {number}" for number in range(15)]


def write_parallel_xquad(folder: Path) -> None:
    """XQuAD's shape: one file per language, the same topics and questions in each, in order."""
    for code in XQUAD_LANGUAGES:
        data = [
            {
                "title": title,
                "paragraphs": [
                    {
                        "context": f"{title} text in {code}, answer {code}-{title}.",
                        "qas": [
                            {
                                "id": f"{title}-q",
                                "question": f"{code} question about {title}?",
                                "answers": [{"text": f"{code}-{title}", "answer_start": 0}],
                            }
                        ],
                    }
                ],
            }
            for title in TOPICS
        ]
        path = folder / f"xquad.{code}.json"
        path.write_text(json.dumps({"data": data}), encoding="utf-8")


def test_each_topic_is_shown_in_one_language_and_asked_in_another(tmp_path: Path) -> None:
    write_parallel_xquad(tmp_path)
    questions = across_languages(tmp_path, held_out={"Topic 3"})
    assert [article.title for article in questions.articles] == [
        title for title in TOPICS if title != "Topic 3"
    ]
    pairs = set()
    for article, question in zip(questions.articles, questions.questions, strict=True):
        shown = article.text.split(" text in ")[1].split(",")[0]
        asked = question.question.split(" ")[0]
        assert asked != shown
        assert question.answers == (f"{shown}-{article.title}",)  # the article's own gold
        assert question.answers[0] in article.text
        assert question.language == ACROSS
        pairs.add((asked, shown))
    # the pair turns with the topic: more than one language shown, and each asked in another
    assert len({shown for _, shown in pairs}) == len(XQUAD_LANGUAGES)
    assert len(pairs) == len(questions.questions)


def test_other_sources_are_asked_of_a_store_as_off_corpus_questions_across_languages() -> None:
    news = QuestionSet(
        "news",
        [EvalArticle("Storting", "Stortinget vedtok budsjettet.")],
        [
            EvalQuestion(f"Hva vedtok Stortinget {n}?", ("budsjettet",), "Storting", "nb")
            for n in range(4)
        ],
    )
    wikipedia = QuestionSet(
        "wiki",
        [EvalArticle("Moon", "The Moon orbits the Earth.")],
        [
            EvalQuestion(f"What orbits the Earth {n}?", ("The Moon",), "Moon", "en")
            for n in range(6)
        ],
    )
    asked = other_sources(news, [wikipedia], every=2, name="news.asked-from-wiki")
    assert asked.articles == news.articles
    assert asked.questions == []  # nothing of the store's own is asked again
    assert [item.question for item in asked.elsewhere] == [
        "What orbits the Earth 0?",
        "What orbits the Earth 2?",
        "What orbits the Earth 4?",
    ]
    # no gold answer (the store is off their topic), judged as questions across languages
    assert {(item.answers, item.language) for item in asked.elsewhere} == {((), ACROSS)}


def test_questions_from_elsewhere_are_asked_once_of_the_whole_store(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    store = QuestionSet(
        "news.asked-from-wiki",
        [EvalArticle("Storting", "Budsjettet\n\nStortinget vedtok statsbudsjettet i går kveld.")],
        [],
        elsewhere=[
            EvalQuestion("Which planet is the largest?", (), "Jupiter", ACROSS),
            EvalQuestion("What did parliament pass last night?", ("statsbudsjettet",), "", ACROSS),
        ],
    )
    lines = list(ask_set(store, tmp_path, load_settings(), real_embedder))
    assert [(line["kind"], line["language"], line["set"], line["elsewhere"]) for line in lines] == [
        ("off-corpus", ACROSS, "news.asked-from-wiki", True),
        ("answerable", ACROSS, "news.asked-from-wiki", True),  # with gold answers
    ]
    assert not lines[0]["candidates"][0]["signals"]["same_language"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["all"]  # no halves, no folds


def test_each_language_is_asked_in_the_others_about_its_topics_and_about_topics_it_lacks(
    tmp_path: Path,
) -> None:
    write_parallel_xquad(tmp_path)
    xquad = {
        code: question_set(tmp_path / f"xquad.{code}.json", held_out={"Topic 3"})
        for code in XQUAD_LANGUAGES
    }
    sets = across_one_language(xquad, every=1)
    assert len(sets) == len(XQUAD_LANGUAGES)
    for questions in sets:
        shown = {article.text.split(" text in ")[1].split(",")[0] for article in questions.articles}
        assert len(shown) == 1
        (code,) = shown
        stored = {article.title for article in questions.articles}
        assert 0 < len(stored) < len(TOPICS) - 1
        assert {item.question.split(" ")[0] for item in questions.elsewhere} == (
            set(XQUAD_LANGUAGES) - shown  # every other language, not the store's
        )
        for item in questions.elsewhere:
            about = item.question.split(" about ")[1].rstrip("?")
            assert about != "Topic 3"
            assert item.language == ACROSS
            # on the store's topics with the store language's gold, off them with none
            assert item.answers == ((f"{code}-{about}",) if about in stored else ())
    # the half kept turns with the language: both halves are stores
    assert len({frozenset(a.title for a in questions.articles) for questions in sets}) == 2


def test_the_store_of_many_languages_is_asked_about_the_other_half_in_every_language(
    tmp_path: Path,
) -> None:
    write_parallel_xquad(tmp_path)
    across = across_languages(tmp_path, held_out={"Topic 3"})
    halves = across_mixed_off_corpus(across, tmp_path, every=1)
    assert len(halves) == 2
    for half in halves:
        stored = {article.title for article in half.articles}
        about = {item.question.split(" about ")[1].rstrip("?") for item in half.elsewhere}
        assert about == {article.title for article in across.articles} - stored
        assert {item.question.split(" ")[0] for item in half.elsewhere} == set(XQUAD_LANGUAGES)
        assert {(item.answers, item.language) for item in half.elsewhere} == {((), ACROSS)}
