"""The development question sets the judge learns from (training.question_sets)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.answerability import ACROSS
from training.question_sets import XQUAD_LANGUAGES, across_languages

TOPICS = [f"Topic_{number}" for number in range(15)]


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
    questions = across_languages(tmp_path, held_out={"Topic_3"})
    assert [article.title for article in questions.articles] == [
        title for title in TOPICS if title != "Topic_3"
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
