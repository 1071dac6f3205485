"""The answerability judge: shipped in the package, used as trained, and its answers lead with
the sentence that answers."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from bot.answerability import (
    ACROSS,
    CANDIDATES,
    JUDGE_FILE,
    PICK_ONLY,
    AnswerKinds,
    LogisticModel,
    candidate_signals,
    shipped_judge,
)
from bot.answering import Answerer
from bot.evaluation import EvalQuestion, chance_calibration_error, declined_at, roc_auc
from bot.extractive import ScoredSentence, lead_passage, select_answer
from config.settings import load_settings
from ingest.embedding import Embedder
from ingest.schema import Article
from ingest.store import ChromaStore
from tests.conftest import FakeGenerator, answerer_leading_with_the_tenth, assert_quotes_verbatim
from training.direct import DIRECT_RIGHT, direct_cuts, wilson_low
from training.percentages import percentage_languages
from training.signals import asked

CARD = json.loads(JUDGE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def seeded(seeded_dir: Path, real_embedder: Embedder) -> Answerer:
    config = load_settings(overrides={"data_dir": str(seeded_dir)})
    store = ChromaStore.open_persistent(seeded_dir, real_embedder.fingerprint)
    return Answerer(store, store.keywords, real_embedder, config.retrieval, config.answer)


def test_the_judge_ships_in_the_package_with_its_card_and_thresholds() -> None:
    judge = shipped_judge()
    assert load_settings().answer.min_probability == 0  # the judge's own, per language
    assert min(judge.thresholds.values()) < judge.threshold < max(judge.thresholds.values())
    assert {"en", "nb"} <= set(judge.thresholds)
    assert "" in judge.calibration
    assert set(judge.model.features) == set(judge.confidence.features)
    across_off, across_declined = 0, 0.0
    for name, row in CARD["cross_validated"].items():
        if name.endswith(f":{ACROSS}"):
            off = CARD["data"][name].get("off-corpus", 0)
            across_off += off
            across_declined += off * (row.get("off-corpus_declined") or 0.0)
        elif row["answerable"] >= 100:  # every language answers the target share
            assert row["answered"] >= CARD["target_answered"] - 0.005, name
    # questions across languages answer fewer, so that 0.95 of the off-corpus ones are declined
    assert across_declined / across_off >= 0.95 - 0.005


def test_answers_are_called_direct_only_where_held_out_ones_were_right_nine_times_in_ten() -> None:
    judge = shipped_judge()
    assert set(judge.direct) <= set(judge.calibration) - {""}
    for name, row in CARD["cross_validated"].items():
        language = name.rsplit(":", 1)[1]
        if language in judge.direct and row.get("direct_share"):
            assert row["direct_right"] >= DIRECT_RIGHT, name
    # the low end of a 95% interval: 29 right of 30 is not yet enough, 97 of 100 is
    assert wilson_low([True] * 29 + [False]) < DIRECT_RIGHT < wilson_low([True] * 97 + [False] * 3)
    held_out = {"xx": [(0.95, True)] * 97 + [(0.95, False)] * 3 + [(0.6, False)] * 50}
    calibrated = judge.model_copy(update={"calibration": {"xx": (1.0, 0.0), "": (1.0, 0.0)}})
    assert direct_cuts(held_out, calibrated) == {"xx": 0.65}
    # too few to tell: 40 answers of a few articles, all right, are not yet enough
    assert direct_cuts({"xx": [(0.95, True)] * 40}, calibrated) == {}


def test_the_card_says_how_each_pooled_language_fares_as_one_the_judge_never_saw() -> None:
    judge = shipped_judge()
    unseen = CARD["as_unseen_language"]
    pooled = {
        name
        for name, row in CARD["cross_validated"].items()
        if name.rsplit(":", 1)[1] not in {*judge.models, ACROSS} and row["answerable"]
    }
    assert set(unseen) == pooled
    assert len(pooled) >= 10
    judge_md = JUDGE_FILE.with_name("JUDGE.md").read_text(encoding="utf-8")
    for name, row in unseen.items():
        seen = CARD["cross_validated"][name]
        # the same questions, at the threshold and calibration a language never seen gets
        assert row["answerable"] == seen["answerable"]
        assert row["threshold"] == judge.threshold != seen["threshold"]
        assert "direct_share" not in row
        assert f"| {name} | {seen['answered']:.3f} → {row['answered']:.3f} |" in judge_md


def test_languages_the_judge_never_saw_answer_the_share_of_the_pooled_questions() -> None:
    judge_training = pytest.importorskip("training.judge", reason="needs the [train] extra")
    lines = [
        {"language": language, "kind": "answerable"}
        for language, count in (("xx", 100), ("yy", 300), ("own", 100))
        for _ in range(count)
    ]
    # xx's questions score 0.50 … 0.99, yy's 0.10 … 0.40, own's (another scale) all 0.99
    judged = [0.5 + i / 200 for i in range(100)] + [0.1 + i / 1000 for i in range(300)]
    judged += [0.99] * 100
    cuts = judge_training.thresholds_for(lines, judged, own=("own",))
    assert (cuts["xx"], cuts["yy"]) == (0.545, 0.127)  # each answers 0.91 of its own
    # 0.91 of xx's and yy's 400 questions together, not the median of their two thresholds
    assert cuts[""] == 0.136


@pytest.mark.parametrize("check", CARD["checks"], ids=lambda check: check["question"][:40])
def test_the_read_path_decides_as_the_training_script_did(seeded: Answerer, check) -> None:
    """The same decisions and quotes, and the probabilities within 0.01: on a fresh machine
    (2026-12-04) the same code and judge gave these up to 0.006 away from those the training
    machine wrote in the card (a store's numbers differ in their last digits from one machine to
    another)."""
    answer = seeded.ask(check["question"])
    assert answer.answerable == pytest.approx(check["answerable"], abs=0.01)
    assert answer.probability == pytest.approx(check["probability"], abs=0.01)
    assert answer.abstained == check["abstained"]
    assert (answer.quotes[0].text if answer.quotes else "") == check["first_quote"]


def test_a_question_is_answered_from_the_article_about_it_not_one_sharing_a_name(
    seeded: Answerer,
) -> None:
    # The Mehr News article says what "the U.S. administration of Joe Biden" said; the Apollo
    # article's "a United States flag" and the flood's "United States Industrial Alcohol Company"
    # share the name but answer nothing. The Biden sentence leads; the judge, unsure how well
    # the small model's similarity says it answers, declines with it as the closest passage.
    question = "What did the United States say about the recognition?"
    biden = "The U.S. administration of Joe Biden says"
    assert seeded.gather(question).ranked[0].text.startswith(biden)
    answer = seeded.ask(question)
    assert biden in answer.quotes[0].text
    if not answer.abstained:
        assert {quote.article_id[:10] for quote in answer.quotes} == {"mehr-news-"}
    assert_quotes_verbatim(seeded, answer.quotes)


def test_a_name_the_question_spells_out_counts_by_its_words_not_also_by_its_initials(
    seeded: Answerer,
) -> None:
    # "Rosetta Stone" also gives the term "rs", which every sentence writing the name holds: the
    # name counted three times made the article's opening sentence outweigh the one that answers
    ranked = seeded.gather("Who found the Rosetta Stone?").ranked
    found = next(item for item in ranked if item.text.startswith("French soldiers found the"))
    opening = next(item for item in ranked if item.text.startswith("The Rosetta Stone is a"))
    assert found.wanted == {"found", "rosetta", "stone"} <= found.terms
    assert found.focus == pytest.approx(1.0)  # summed in set order: the last bit may differ
    assert opening.focus < found.focus


def test_a_question_on_the_topic_that_the_articles_do_not_answer_is_declined(
    seeded: Answerer,
) -> None:
    answer = seeded.ask("What did Armstrong eat for breakfast on the Moon?")
    assert answer.abstained
    assert answer.answerable is not None
    assert answer.answerable < shipped_judge().thresholds["en"]
    assert answer.quotes  # the closest passages
    assert answer.as_json()["confidence"] == "none"


def test_the_answer_says_how_sure_it_is(seeded: Answerer) -> None:
    answer = seeded.ask("What did Putin say Moscow was sending troops for?")
    assert not answer.abstained
    data = answer.as_json()
    assert data["answerable"] >= shipped_judge().thresholds["en"]
    direct = data["probability"] >= shipped_judge().direct.get("en", math.inf)
    assert data["confidence"] == ("direct" if direct else "closest")
    # English's calibration did not hold on each of its development sources: words alone
    assert "en" in shipped_judge().calibration
    assert "en" not in shipped_judge().percentages
    assert answer.lead == "The closest the articles come:"
    assert data["calibrated"] is False
    assert 0 < data["probability"] < 1  # --json keeps the probability


def test_a_language_whose_calibration_held_states_a_percentage(
    seeded_dir: Path, real_embedder: Embedder
) -> None:
    judge = shipped_judge()
    english = judge.model_copy(update={"percentages": (*judge.percentages, "en")})
    settings = load_settings(overrides={"data_dir": str(seeded_dir)})
    store = ChromaStore.open_persistent(seeded_dir, real_embedder.fingerprint)
    answerer = Answerer(store, store.keywords, real_embedder, settings.retrieval,
                        settings.answer, judge=english)  # fmt: skip
    answer = answerer.ask("What did Putin say Moscow was sending troops for?")
    assert re.fullmatch(r"The closest the articles come \(\d+% sure\):", answer.lead)
    assert answer.as_json()["calibrated"] is True


def test_a_language_is_shown_a_percentage_only_where_its_calibration_held_on_each_source() -> None:
    judge = shipped_judge().model_copy(
        update={"calibration": {"xx": (1.0, 0.0), "yy": (1.0, 0.0), "": (1.0, 0.0)}}
    )
    right_as_said = [(0.8, True)] * 160 + [(0.8, False)] * 40  # said 0.8, right 0.8
    too_low = [(0.5, True)] * 180 + [(0.5, False)] * 20  # said 0.5, right 0.9
    by_source = {
        ("wiki", "xx"): right_as_said,
        ("news", "xx"): too_low,
        ("wiki", "yy"): right_as_said,
        ("news", "yy"): too_low[:150],  # too few answers to tell
        ("wiki", "zz"): right_as_said,  # no calibration of its own
    }
    assert percentage_languages(by_source, judge) == ["yy"]


def test_what_a_question_asks_for_is_read_from_its_most_telling_word() -> None:
    kinds = AnswerKinds(
        words={"the": (0.19, 0.11, 0.50), "many": (0.45, 0.02, 0.18), "when": (0.75, 0.65, 0.26)},
        base=(0.18, 0.08, 0.38),
    )
    # "the", in every question, no longer makes every question ask for a name
    asked = kinds.expected("How many pieces of equipment were involved in the drills?", "en")
    assert asked == {"number": 0.45, "year": 0.02, "name": 0.18}
    assert kinds.expected("When did the Eagle land?", "en")["year"] == 0.65
    assert kinds.expected("Wer ist das?", "de") == {"number": 0.18, "year": 0.08, "name": 0.38}
    rounded = AnswerKinds(words={"when": (0.8, 1.0, 0.0)}, base=(0.18, 0.08, 0.38))
    assert rounded.expected("When was it?", "en")["year"] == 1.0  # shares of 0 and 1 read too
    shipped = shipped_judge().kinds
    counted = shipped.expected("How many troops took part in the drills?", "en")
    assert counted["number"] > shipped.base[0]
    assert counted["name"] < shipped.base[2]


def test_a_name_no_article_mentions_lowers_the_judges_probability(seeded: Answerer) -> None:
    elsewhere = "Why did Putin send troops into Kazakhstan?"
    row = candidate_signals(elsewhere, seeded.gather(elsewhere).ranked)[0]
    assert row["names_missing_in_sentence"] == 0.5  # Putin is named there, Kazakhstan nowhere
    assert row["names_missing_in_article"] == 0.5
    there = seeded.ask("Why did Putin send troops into eastern Ukraine?").answerable
    assert there is not None
    assert (seeded.ask(elsewhere).answerable or 0.0) < there


def test_a_language_the_judge_was_never_calibrated_on_is_told_in_words_alone(
    seeded: Answerer,
) -> None:
    # Persian is in none of the judge's training sets: its confidence is the pooled one, not
    # measured for Persian, so the answer shows no percentage and never says it answers directly.
    assert "fa" not in shipped_judge().calibration
    answer = seeded.ask("تخت جمشید در کدام استان است؟")
    assert not answer.abstained
    assert answer.lead == "The closest the articles come:"
    data = answer.as_json()
    assert data["calibrated"] is False
    assert data["confidence"] == "closest"
    assert 0 < data["probability"] < 1  # --json keeps the probability


def test_a_question_in_another_language_than_the_article_is_judged_on_its_own_threshold(
    seeded: Answerer,
) -> None:
    # German, of English articles: the word signals say nothing, so the judge uses the threshold
    # learned from XQuAD questions asked of articles in other languages (training.question_sets)
    question = "Wer hat die Hieroglyphen entziffert?"
    evidence = seeded.gather(question)
    assert evidence.ranked
    assert not evidence.ranked[0].same_language
    judged = seeded.judge(question, evidence)
    assert judged is not None
    assert judged.threshold == shipped_judge().thresholds[ACROSS] != shipped_judge().threshold
    # never calibrated (training.judge.calibrations: a mix of language pairs): words alone
    assert ACROSS not in shipped_judge().calibration
    assert not judged.calibrated
    assert not judged.direct
    assert seeded.ask(question).lead == "The closest the articles come:"


def test_a_languages_learned_first_pick_leads_the_answer(
    seeded_dir: Path, real_embedder: Embedder
) -> None:
    # The answer leads with the pick's sentence, verbatim, where the shipped judge leads with the
    # ranking's first.
    answerer = answerer_leading_with_the_tenth(
        seeded_dir, real_embedder, answer={"min_probability": 1e-9}
    )
    question = "Who deciphered the hieroglyphs?"
    ranked = answerer.gather(question).ranked
    assert len(ranked) > 1
    answer = answerer.ask(question)
    pick = ranked[min(len(ranked), CANDIDATES) - 1]
    # the pick's quote: the pick, with the sentences beside it that rank nearly as high or higher
    assert answer.quotes[0].text == lead_passage(pick, ranked).text
    assert pick.text in answer.quotes[0].text
    assert answer.quotes[0].text != ranked[0].text
    assert_quotes_verbatim(answerer, answer.quotes)


def test_the_sentence_read_under_its_title_informs_the_first_pick_alone() -> None:
    """A headline that answers the question brings its whole article close to the question read
    under the title: the picks weigh that reading, the judge and the confidence do not."""
    judge = shipped_judge()
    pick_features = {
        name for ranker in judge.rankers.values() if ranker for name in ranker.features
    }
    assert pick_features >= PICK_ONLY
    for model in (judge.model, judge.confidence, *judge.models.values()):
        assert not any(name.removeprefix("top_") in PICK_ONLY for name in model.features)
    # so a sentence is read under its title only where a pick weighs it: Norwegian's own, the
    # shared one (Russian), not English's (the ranking's first)
    assert judge.reads_titles("nb")
    assert judge.reads_titles("ru")
    assert not judge.reads_titles("en")
    assert judge.reads_titles("en", across=True)  # beside an article in another language


def test_only_languages_whose_learned_pick_did_better_have_one() -> None:
    judge = shipped_judge()
    for code, ranker in judge.rankers.items():  # decided on the language's own questions
        if code:
            pick = CARD["first_pick"][code]
            assert (pick["learned"] - pick["ranking"] >= 0.02) == (ranker is not None)
    if "" in judge.rankers:  # shared: better on the languages it never saw, worse in none
        shared = CARD["shared_first_pick"]
        gains = {code: pick["learned"] - pick["ranking"] for code, pick in shared.items()}
        assert gains[""] >= 0.01
        assert min(gains.values()) > -0.01
    assert set(judge.models) <= set(judge.thresholds)


def test_the_shared_first_pick_serves_the_languages_that_did_not_decide_for_themselves() -> None:
    own, shared = (
        LogisticModel(features=("place",), means=(0.0,), scales=(1.0,), weights=(w,), bias=0.0)
        for w in (1.0, -1.0)
    )
    judge = shipped_judge().model_copy(update={"rankers": {"nb": own, "en": None, "": shared}})
    assert judge.ranker_for("nb") is own
    assert judge.ranker_for("en") is None  # decided on its own questions: the ranking's order
    assert judge.ranker_for("ru") is shared
    assert judge.ranker_for(ACROSS) is None  # the shared pick is for questions in its language
    assert judge.model_copy(update={"rankers": {"nb": own}}).ranker_for("ru") is None


def _sentence(article: Article, text: str, rank: float, wanted: set[str]) -> ScoredSentence:
    start = article.text.index(text)
    words = frozenset(text.lower().rstrip(".").split())
    return ScoredSentence(
        article, start, start + len(text), similarity=0.75 + 0.2 * rank, coverage=1.0,
        focus=1.0, terms=words, wanted=frozenset(wanted),
    )  # fmt: skip


def test_further_quotes_come_from_the_first_ones_article_and_add_a_missing_term() -> None:
    apollo = Article(
        "a1",
        "Apollo",
        "a.md",
        "Armstrong planted the flag. Aldrin saluted. The flag was nylon.",
        "h1",
    )
    mehr = Article("a2", "Mehr", "m.md", "The administration said the flag was a sign.", "h2")
    wanted = {"flag", "nylon", "said"}
    ranked = [
        _sentence(apollo, "Armstrong planted the flag.", 0.9, wanted),
        _sentence(mehr, "The administration said the flag was a sign.", 0.89, wanted),
        _sentence(apollo, "The flag was nylon.", 0.88, wanted),
    ]
    chosen = select_answer(ranked, max_quotes=3, min_evidence=0.0)
    assert [item.text for item in chosen] == ["Armstrong planted the flag.", "The flag was nylon."]
    repeats = [ranked[0], _sentence(apollo, "The flag was nylon.", 0.88, {"flag"})]
    assert len(select_answer(repeats, max_quotes=3, min_evidence=0.0)) == 1
    behind = [ranked[0], _sentence(apollo, "The flag was nylon.", 0.5, wanted)]
    assert len(select_answer(behind, max_quotes=3, min_evidence=0.0)) == 1  # too far behind


def test_the_sentences_beside_the_first_join_its_quote_when_they_rank_nearly_as_high() -> None:
    text = (
        "It opened in 1802. The museum keeps the stone. It is on show in London. Tickets are free."
    )
    museum = Article("a1", "Stone", "s.md", text, "h1")
    wanted = {"museum", "stone", "kept"}
    first = _sentence(museum, "The museum keeps the stone.", 0.9, wanted)
    after = _sentence(museum, "It is on show in London.", 0.88, wanted)
    before = _sentence(museum, "It opened in 1802.", 0.87, wanted)
    further = _sentence(museum, "Tickets are free.", 0.89, wanted)  # not beside the first
    (joined,) = select_answer([first, further, after, before], max_quotes=1, min_evidence=0.0)
    assert joined.text == "It opened in 1802. The museum keeps the stone. It is on show in London."
    assert joined.text == text[joined.start : joined.end]
    behind = _sentence(museum, "It is on show in London.", 0.5, wanted)  # too far behind
    alone = select_answer([first, behind], max_quotes=3, min_evidence=0.0)
    assert [item.text for item in alone] == ["The museum keeps the stone."]


def test_roc_auc_and_declined_at_an_answered_rate() -> None:
    judged = [(True, 0.9), (True, 0.8), (True, 0.4), (False, 0.7), (False, 0.3), (False, 0.0)]
    assert roc_auc(judged) == pytest.approx(8 / 9)
    assert declined_at(judged, 2 / 3) == pytest.approx(1.0)  # threshold 0.8
    assert declined_at(judged, 1.0) == pytest.approx(2 / 3)  # threshold 0.4
    assert declined_at([(True, 0.0), (False, 0.0)], 0.9) is None  # the gate declined them all
    assert roc_auc([(True, 0.5)]) is None


def test_an_ece_is_told_beside_the_one_chance_alone_gives_as_many_answers() -> None:
    spread = [0.3 + 0.6 * i / 1999 for i in range(2000)]
    few, many = [(p, True) for p in spread[::13]], [(p, True) for p in spread]
    # answers right exactly as often as they say still show an ECE, larger the fewer they are
    by_chance = chance_calibration_error(few), chance_calibration_error(many)
    assert by_chance[0] is not None
    assert by_chance[1] is not None
    assert 0.05 < by_chance[0] < 0.10  # 154 answers
    assert 0.01 < by_chance[1] < 0.03
    assert chance_calibration_error(few) == chance_calibration_error(few)  # the same draws
    assert chance_calibration_error([(1.0, False)] * 50) == 0.0  # sure ones are always right
    assert chance_calibration_error([]) is None
    # whatever the outcomes: only what the answers state counts
    assert chance_calibration_error([(p, False) for p in spread]) == chance_calibration_error(many)


def test_the_card_says_how_far_an_ece_on_a_few_topics_tells_the_calibration() -> None:
    rows = {k: v for k, v in CARD["cross_validated"].items() if "ece_topic_left_out" in v}
    assert {"squad-v2-dev:en", "norquad-news-dev:nb"} <= set(rows)
    judge_md = JUDGE_FILE.with_name("JUDGE.md").read_text(encoding="utf-8")
    for name, row in rows.items():
        assert row["answers"] >= 200, name
        assert 0 < row["ece_if_calibrated"] < 0.08, name
        cells = f"{row['answers']} | {row['ece']:.3f} | {row['ece_topic_left_out']:.3f}"
        assert f"| {name} | {cells} |" in judge_md
    squad = rows["squad-v2-dev:en"]
    # SQuAD's topics are large enough to be told one by one; each alone shows what chance does
    assert squad["large_topics"] >= 10
    assert squad["topic_ece_if_calibrated_median"] > squad["ece_if_calibrated"]


def test_an_ece_is_measured_with_each_topic_left_out_of_the_calibration() -> None:
    judge_training = pytest.importorskip("training.judge", reason="needs the [train] extra")
    lines, scored = [], []
    # topics A and B: answers right as often as they say; C's (the same confidences) never
    for article, language, count in (("A", "xx", 200), ("B", "xx", 200), ("C", "xx", 200),
                                      ("D", "yy", 50)):  # fmt: skip
        for i in range(count):
            confidence = (3, 5, 7, 9)[i % 4] / 10
            right = article != "C" and (i // 4) % 10 < confidence * 10
            lines.append(
                {"set": "s", "article": article, "language": language, "kind": "answerable"}
            )
            scored.append((0.9, confidence, right))
    rows = judge_training.calibration_by_topic(lines, scored, {"": 0.5})
    assert set(rows) == {("s", "xx")}  # yy: too few answers for a calibration of its own
    row = rows[("s", "xx")]
    assert (row["answers"], row["large_topics"]) == (600, 3)
    # told without C, C's answers look right 0.6 of the time; none is
    assert row["topic_ece_median"] > 2 * row["topic_ece_if_calibrated_median"]
    assert row["ece_topic_left_out"] > 2 * row["ece_if_calibrated"]


def test_no_llm_call_when_the_judge_says_the_articles_do_not_answer(
    seeded: Answerer, seeded_dir: Path, real_embedder: Embedder
) -> None:
    config = load_settings(overrides={"data_dir": str(seeded_dir)})
    generator = FakeGenerator()  # it would abstain anyway; it must not even be asked
    store = ChromaStore.open_persistent(seeded_dir, real_embedder.fingerprint)
    answerer = Answerer(
        store, store.keywords, real_embedder, config.retrieval, config.answer, generator=generator
    )
    answer = answerer.ask("What did Armstrong eat for breakfast on the Moon?")
    assert answer.abstained
    assert generator.history == []
    asked = answerer.ask("Why did Putin send troops into eastern Ukraine?")
    assert asked.abstained  # the model's own "not in the passages" is an abstention
    assert len(generator.history) == 1


def test_training_labels_the_confidence_on_the_quote_the_answer_shows(seeded: Answerer) -> None:
    # The first sentence lacks the answer; the one after it, which joins its quote, holds it: the
    # confidence learns from the quote the asker sees, not from the sentence alone.
    question = "How many people died in the molasses flood?"
    gold = "56 kilometres per hour"
    item = EvalQuestion(question, (gold,), "The Great Molasses Flood of 1919", "en")
    line = asked(seeded, item, "answerable", "seeds")
    assert line is not None
    first = line["candidates"][0]
    assert (first["gold"], first["quote_gold"]) == (False, True)
    assert gold in seeded.ask(question).quotes[0].text
