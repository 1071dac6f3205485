"""The development question sets the judge and the sentence ranker learn from, and how each is
asked: every question of a set over all its articles, in-topic questions the articles don't
answer (each article with half of its text taken out), and off-corpus ones.

Only development data (``DEVELOPERS.md``): SQuAD v2 dev (``chrischute/squad``), XQuAD (its
articles outside the evaluation samples) and NorQuAD news dev (``../shared/eval``). Topics of the
evaluation files are always left out, so nothing reported is trained on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.languages import folds, topic
from bot.answerability import ACROSS
from bot.evaluation import EvalArticle, EvalQuestion, load_eval_file

XQUAD_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")


@dataclass(frozen=True)
class QuestionSet:
    """One source's articles and the questions to ask of them (every ``every``-th, per kind);
    ``elsewhere``: questions asked once of all the articles, with no halves or folds (answerable
    when they carry gold answers, else off-corpus): other sources' (:func:`other_sources`) and
    other languages' (:func:`across_one_language`)."""

    name: str
    articles: list[EvalArticle]
    questions: list[EvalQuestion]
    every: int = 1
    elsewhere: list[EvalQuestion] = field(default_factory=list)


def held_out_topics(paths: Sequence[Path]) -> set[str]:
    """The topics of the evaluation files, which training must leave out."""
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"held-out file(s) not found: {', '.join(missing)} (--held-out FILE)")
    titles = set()
    for path in paths:
        articles, _ = load_eval_file(path)
        titles |= {topic(article.title) for article in articles}
    return titles


def question_set(path: Path, held_out: set[str], every: int = 1, name: str = "") -> QuestionSet:
    """A SQuAD-format file's articles outside the held-out topics, with their questions."""
    articles, questions = load_eval_file(path)
    kept = [article for article in articles if topic(article.title) not in held_out]
    titles = {article.title for article in kept}
    asked = [question for question in questions if question.article in titles]
    return QuestionSet(name or path.stem, kept, asked, every)


def across_languages(xquad: Path, held_out: set[str], every: int = 1) -> QuestionSet:
    """XQuAD's topics outside ``held_out``, each article in one of its languages and its
    questions asked in another (the pair turns with the topic: Arabic questions of a Greek
    article, Chinese ones of an English article …), with the gold answers of the article's
    language. The judge learns from them what its word signals cannot say across languages;
    their lines' language is :data:`~bot.answerability.ACROSS`."""
    files = {code: load_eval_file(xquad / f"xquad.{code}.json") for code in XQUAD_LANGUAGES}
    count = len(XQUAD_LANGUAGES)
    articles, questions = [], []
    topics = [entry for entry in files["en"][0] if topic(entry.title) not in held_out]
    for place, english in enumerate(topics):
        shown = XQUAD_LANGUAGES[place % count]
        asked = XQUAD_LANGUAGES[(place + 1 + place // count % (count - 1)) % count]
        shown_articles, shown_questions = files[shown]
        articles += [article for article in shown_articles if article.title == english.title]
        questions += [
            EvalQuestion(question.question, gold.answers, gold.article, ACROSS)
            for question, gold in zip(files[asked][1], shown_questions, strict=True)
            if gold.article == english.title
        ]
    return QuestionSet("xquad.across", articles, questions, every)


def other_sources(
    store: QuestionSet, others: Sequence[QuestionSet], every: int, name: str
) -> QuestionSet:
    """``store``'s articles with every ``every``-th question of ``others``: sources on other
    topics in other languages (news against Wikipedia), so each is off-corpus and asked across
    languages (:data:`~bot.answerability.ACROSS`). Off-corpus questions in another language than
    the store's are what a reader asks of articles that never covered the story; the
    across-languages set alone has too few of them to teach the judge to decline."""
    asked = [
        EvalQuestion(item.question, (), item.article, ACROSS)
        for other in others
        for item in other.questions[::every]
    ]
    return QuestionSet(name, store.articles, [], 1, asked)


def across_one_language(xquad: Mapping[str, QuestionSet], every: int) -> list[QuestionSet]:
    """Per XQuAD language (``xquad``: each language's set, outside the held-out topics), a store
    of half of its topics (the half turns with the language), and every ``every``-th question of
    each other language: about the store's topics, answerable with the store language's gold
    answers; about the other half's, off-corpus. All are asked across languages, of a store in
    one language, as a reader asks articles of one outlet in their own language; the off-corpus
    ones share the store's kind of text, so the judge cannot tell them by their source
    (:func:`other_sources`) alone."""
    sets = []
    for place, code in enumerate(XQUAD_LANGUAGES):
        kept = folds(xquad[code].articles)[place % 2]
        topics = {topic(article.title) for article in kept}
        asked = []
        for other in XQUAD_LANGUAGES:
            if other == code:
                continue
            pairs = list(zip(xquad[other].questions, xquad[code].questions, strict=True))
            for item, gold in pairs[::every]:
                answers = gold.answers if topic(item.article) in topics else ()
                asked.append(EvalQuestion(item.question, answers, item.article, ACROSS))
        sets.append(QuestionSet(f"xquad.{code}.asked-across", kept, [], 1, asked))
    return sets


def across_mixed_off_corpus(across: QuestionSet, xquad: Path, every: int) -> list[QuestionSet]:
    """Each half of the topics of :func:`across_languages`'s store (each topic in one language)
    with every ``every``-th question of the other half, in every language: off-corpus questions
    of a store of many languages, where a sentence in the question's own language may share its
    words without answering it."""
    asked_in = {code: load_eval_file(xquad / f"xquad.{code}.json")[1] for code in XQUAD_LANGUAGES}
    sets = []
    for side, kept in enumerate(folds(across.articles)):
        topics = {topic(article.title) for article in kept}
        off = {topic(article.title) for article in across.articles} - topics
        asked = [
            EvalQuestion(item.question, (), item.article, ACROSS)
            for code in XQUAD_LANGUAGES
            for item in asked_in[code][::every]
            if topic(item.article) in off
        ]
        sets.append(QuestionSet(f"{across.name}.half-{side}", kept, [], 1, asked))
    return sets


def halved(article: EvalArticle, keep_first: bool) -> EvalArticle:
    """The article with half its text taken out: every second paragraph when it has several,
    else the first or last half of its lines (or of its characters, at a sentence end)."""
    for separator in ("\n\n", "\n"):
        blocks = [block for block in article.text.split(separator) if block.strip()]
        if len(blocks) >= 4:
            if separator == "\n\n":
                kept = blocks[int(not keep_first) :: 2]
            else:
                middle = len(blocks) // 2
                kept = blocks[:middle] if keep_first else blocks[middle:]
            return EvalArticle(article.title, separator.join(kept))
    middle = article.text.find(". ", len(article.text) // 2) + 1 or len(article.text) // 2
    text = article.text[:middle] if keep_first else article.text[middle:]
    return EvalArticle(article.title, text.strip())


def in_topic_unanswerable(
    articles: Sequence[EvalArticle], questions: Sequence[EvalQuestion]
) -> tuple[list[EvalArticle], list[EvalQuestion]]:
    """Articles with half their text out, and the answerable questions whose every gold answer
    went with it: the topic is still there, the answer is not. A question whose answer is also
    written in the half kept is left out (the kept text may answer it)."""
    kept = [halved(article, index % 2 == 0) for index, article in enumerate(articles)]
    texts = {article.title: article.text for article in kept}
    removed = [
        EvalQuestion(question.question, (), question.article, question.language)
        for question in questions
        if question.answers
        and question.article in texts
        and not any(gold in texts[question.article] for gold in question.answers)
    ]
    return kept, removed
