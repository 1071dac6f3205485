"""Every language: detection, sentence splitting, terms and offsets in every script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.answering import Answerer
from config.settings import load_settings
from ingest.chunking import chunk_article, sentence_spans
from ingest.embedding import Embedder
from ingest.language import detect_language, question_languages
from ingest.pipeline import Ingestor
from ingest.reading import make_article
from ingest.store import ChromaStore
from ingest.terms import (
    _nltk_english_stopwords,
    acronyms,
    content_terms,
    normalize,
    spelled_acronyms,
    terms,
    words,
)
from tests.conftest import SEEDS, assert_quotes_verbatim

ARTICLES = {
    "en": "The committee met on Monday and agreed to raise the budget for schools next year.",
    "ru": "Комитет собрался в понедельник и решил увеличить бюджет школ в следующем году.",
    "de": "Der Ausschuss traf sich am Montag und beschloss, das Budget der Schulen zu erhöhen.",
    "ar": "اجتمعت اللجنة يوم الاثنين ووافقت على زيادة ميزانية المدارس في العام المقبل.",
    "fa": "کمیته روز دوشنبه تشکیل جلسه داد و با افزایش بودجهٔ مدرسه‌ها در سال آینده موافقت کرد.",
    "zh": "委员会星期一开会，同意明年增加学校的预算。",
    "nb": "Komiteen møttes mandag og ble enige om å øke budsjettet til skolene neste år.",
}


@pytest.mark.parametrize("language", sorted(ARTICLES))
def test_the_language_of_an_article_is_detected_and_kept(language: str) -> None:
    article = make_article(f"/articles/{language}.txt", ARTICLES[language])
    assert article.language == language
    assert article.metadata()["language"] == language


def test_text_without_letters_has_no_language() -> None:
    assert detect_language("12 345 — 67") == ""


def test_an_unsure_question_falls_back_to_the_stored_languages() -> None:
    # Too short to identify alone; the articles that may answer it are German.
    assert question_languages("Wann?", ["de"])[0] == "de"
    # Informal Persian that looks like Urdu to the model on its own.
    assert question_languages("مدیر فیفا کیه؟", ["fa", "en"])[0] == "fa"
    # A confident question keeps its own language, even when no article shares it.
    assert question_languages("Why did the committee raise the budget?", ["fa"])[0] == "en"


def test_a_question_may_be_read_in_a_close_stored_language() -> None:
    languages = question_languages("Hvem er arbeids- og velferdsdirektør nå?", ["nb", "en"])
    assert "nb" in languages
    assert "en" not in languages


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        (
            "ru",
            "В 1993 г. Д-р Иванов приехал в г. Москва. Он сказал: «Привет!» Потом ушёл.",
            ["В 1993 г. Д-р Иванов приехал в г. Москва.", "Он сказал: «Привет!»", "Потом ушёл."],
        ),
        (
            "de",
            "Am 7. Februar sprach Dr. Müller z.B. über Geld. Das ist gut.",
            ["Am 7. Februar sprach Dr. Müller z.B. über Geld.", "Das ist gut."],
        ),
        (
            "nb",
            "Det skjedde 7. februar i Oslo. Han kom kl. 21.30 lørdag. Ferdig.",
            ["Det skjedde 7. februar i Oslo.", "Han kom kl. 21.30 lørdag.", "Ferdig."],
        ),
        (
            "fa",
            "فرودگاه مهرآباد کجاست؟ در غرب تهران، نزدیک میدان آزادی. سال ۱۳۱۷ ساخته شد!",
            ["فرودگاه مهرآباد کجاست؟", "در غرب تهران، نزدیک میدان آزادی.", "سال ۱۳۱۷ ساخته شد!"],
        ),
        (
            "ar",
            "هل انتهى الاجتماع؟ نعم، انتهى مساء الأحد. ثم غادر الوفد.",
            ["هل انتهى الاجتماع؟", "نعم، انتهى مساء الأحد.", "ثم غادر الوفد."],
        ),
        (
            "zh",
            "亚马逊雨林很大。它有多少种树？大约一万六千种！",
            ["亚马逊雨林很大。", "它有多少种树？", "大约一万六千种！"],
        ),
        ("ja", "今日は晴れです。明日は雨！本当？", ["今日は晴れです。", "明日は雨！", "本当？"]),
        # a decimal point in Persian or Arabic-Indic digits ends no sentence
        ("fa", "دما ۰.۶ درجه بالا رفت. باران آمد.", ["دما ۰.۶ درجه بالا رفت.", "باران آمد."]),
        ("ar", "ارتفع ٠.٦ درجة. ثم هطل المطر.", ["ارتفع ٠.٦ درجة.", "ثم هطل المطر."]),
        # nor does the point of a one-letter initial before a name, outside the Latin script
        ("ru", "Её написал Майкл Э. Манн. Потом.", ["Её написал Майкл Э. Манн.", "Потом."]),
        ("ar", "كتبها مالكوم ك. هيوز. ثم نشرت.", ["كتبها مالكوم ك. هيوز.", "ثم نشرت."]),
        ("en", "It was King Ptolemy V. The stone", ["It was King Ptolemy V.", "The stone"]),
        # nor does a point the text goes on from in lowercase, nor a German ordinal's
        ("es", "La Y. pestis mata. Otra.", ["La Y. pestis mata.", "Otra."]),
        (
            "de",
            "Im 16. und 17. Jahrhundert. Aus dem 18. Jahrhundert.",
            ["Im 16. und 17. Jahrhundert.", "Aus dem 18. Jahrhundert."],
        ),
    ],
)
def test_sentences_are_split_by_the_rules_of_their_language(
    language: str, text: str, expected: list[str]
) -> None:
    spans = sentence_spans(text, language=language)
    assert [text[start:end] for start, end in spans] == expected


def test_persian_text_and_questions_meet_in_the_same_terms() -> None:
    # Articles write the zero-width non-joiner and Persian digits; people type a space, ASCII
    # digits, or the Arabic forms of yeh and kaf.
    article = "فرودگاه بین‌المللی مهرآباد در سال ۱۳۱۷ ساخته شد."
    question = "فرودگاه بین المللي مهرآباد سال 1317 ساخته شد؟"
    assert content_terms(article, "fa") == content_terms(question, "fa")
    assert "1317" in terms(article, "fa")
    assert normalize("كتاب", "fa") == normalize("کتاب", "fa")
    assert normalize("مُحَمَّد", "ar") == normalize("محمد", "ar")  # diacritics
    assert normalize("٢٠١٠", "ar") == "2010"


def test_a_capital_dotted_i_folds_to_i_and_in_turkish_a_dotless_capital_to_dotless_i() -> None:
    # casefold gives "İ" an "i" and a combining dot: "İstanbul" never matched "istanbul"
    assert terms("İstanbul", "en") == terms("istanbul", "en") == ["istanbul"]
    assert content_terms("İzmir ve Irak", "tr") == content_terms("izmir ve \u0131rak", "tr")
    assert acronyms("İstanbul İzmir") == ["ii"]


def test_a_soft_hyphen_or_zero_width_character_inside_a_word_leaves_it_whole() -> None:
    whole = terms("Bundesregierung", "de")
    for hidden in ("\u00ad", "\u200b", "\u200d", "\u2060", "\ufeff"):
        assert terms(f"Bundes{hidden}regierung", "de") == whole


def test_inflected_words_share_a_stem() -> None:
    assert content_terms("Бразилии", "ru") == content_terms("Бразилия", "ru")
    assert content_terms("Schulen", "de") == content_terms("Schule", "de")
    assert content_terms("stepped", "en") == content_terms("step", "en")


def test_stopwords_and_question_words_are_left_out_per_language() -> None:
    assert content_terms("Сколько стран входит в бассейн?", "ru") == content_terms(
        "стран входит бассейн", "ru"
    )
    assert content_terms("What did the United States say?", "en") == content_terms(
        "United States", "en"
    )


@pytest.mark.slow
def test_english_stopwords_are_nltks_list_read_without_importing_llamaindex() -> None:
    code = (
        "import sys; from ingest.terms import stopwords; words = stopwords('en'); "
        "print(len(words), 'llama_index.core' in sys.modules, 'nltk' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.split()[1:] == ["False", "False"]
    from llama_index.core.utils import globals_helper  # noqa: PLC0415

    assert _nltk_english_stopwords() == set(globals_helper.stopwords)


def test_an_acronym_meets_its_spelled_out_name() -> None:
    spelled = content_terms("What did the United States say?", "en")
    assert "us" in spelled
    assert "us" in content_terms("The U.S. administration said", "en")
    assert "us" in content_terms("The US said", "en")
    assert "it" in content_terms("The IT department", "en")  # not the stopword "it"
    assert "eu" in content_terms("Die Europäische Union", "de")
    # a sentence's capitalised first word is no part of a name; five words are not a name
    assert "tgmf" not in content_terms("The Great Molasses Flood", "en")
    assert "usiac" not in content_terms("United States Industrial Alcohol Company", "en")


def test_a_name_read_as_initials_keeps_its_words() -> None:
    assert spelled_acronyms("What did the United States say?", "en") == {
        "us": frozenset({"unit", "state"})
    }
    assert spelled_acronyms("Wann wurde die Europäische Union gegründet?", "de") == {
        "eu": frozenset(content_terms("Europäische Union", "de")) - {"eu"}
    }
    assert spelled_acronyms("Who landed on the Moon?", "en") == {}


def test_text_without_spaces_becomes_character_bigrams() -> None:
    assert terms("亚马逊雨林", "zh") == ["亚马", "马逊", "逊雨", "雨林"]
    assert terms("IPCC和Galor", "zh") == ["ipcc", "galor"]  # 和 (and) is a stopword


def test_korean_words_match_across_their_particles() -> None:
    # 수도 (capital) with the particle 이다 in the article, 는 in the question
    article, question = "서울은 대한민국의 수도이다.", "대한민국의 수도는 어디인가?"
    assert {"수도", "대한", "민국"} <= content_terms(article, "ko") & content_terms(question, "ko")


def test_thai_lao_khmer_and_burmese_runs_are_split_into_dictionary_words() -> None:
    # XQuAD's Thai: the question's words inside a sentence that writes no space between them
    sentence = "ทีมรับของแพนเธอร์สถอดใจที่คะแนน 308 ได้อันดับที่หกของลีก"
    question = "ทีมรับของแพนเธอร์สยอมแพ้ที่คะแนนเท่าไร"
    assert {"ทีม", "แพน", "คะแนน"} <= content_terms(question, "th") & content_terms(sentence, "th")
    assert "ที่" not in content_terms(sentence, "th")  # a stopword, found once it is a word
    assert words("ພາສາລາວແມ່ນພາສາ", "lo") == ["ພາສາ", "ລາວ", "ແມ່ນ", "ພາສາ"]
    assert len(words("ភាសាខ្មែរគឺជាភាសា", "km")) > 1
    assert len(words("မြန်မာဘာသာစကား", "my")) > 1


SCRIPTS = {
    "ru": ("абвгдежзиклмнопрстуфхцчшщыэюя", ". "),
    "ar": ("ابتثجحخدذرزسشصضطظعغفقكلمنهوي", "؟ "),
    "fa": ("ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی\u200c", "؟ "),
    "zh": (
        "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自后",
        "。",
    ),
}


@pytest.mark.parametrize("language", sorted(SCRIPTS))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_offsets_are_exact_in_every_script(language: str, data: st.DataObject) -> None:
    letters, stop = SCRIPTS[language]
    word = st.text(alphabet=st.sampled_from(list(letters)), min_size=1, max_size=8)
    sentence = st.lists(word, min_size=1, max_size=12).map(
        lambda ws: ("" if language == "zh" else " ").join(ws) + stop.strip()
    )
    spacing = st.sampled_from(["", " ", "\n", "\n\n", " \n "] if language == "zh" else [" ", "\n"])
    parts = data.draw(st.lists(st.tuples(sentence, spacing), min_size=1, max_size=30))
    article = make_article("/generated.txt", "".join(s + gap for s, gap in parts))
    for chunk in chunk_article(article, chunk_size=40, chunk_overlap=8):
        assert chunk.text == article.text[chunk.start : chunk.end]
        for start, end in sentence_spans(article.text, chunk.start, chunk.end, language):
            assert article.text[start:end].strip() == article.text[start:end]
            assert chunk.start <= start < end <= chunk.end


HARBOUR = (
    "# Der Hafen von Rostock\n\n"
    "Der Hafen von Rostock wurde im Jahr 1960 eröffnet und ist heute der größte Ostseehafen "
    "Deutschlands. Jedes Jahr werden dort etwa 25 Millionen Tonnen Güter umgeschlagen. Die "
    "Fähren fahren vor allem nach Dänemark, Schweden und Finnland.\n"
)


def _ingested(
    tmp_path: Path, embedder: Embedder, texts: dict[str, str], seeds: tuple[str, ...] = ()
) -> tuple[Answerer, ChromaStore]:
    """A store of ``texts`` (file name → text) and the named seed files, and its answerer."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    for seed in seeds:
        shutil.copy(SEEDS / seed, folder)
    defaults = load_settings(overrides={"data_dir": str(tmp_path / "data")})
    store = ChromaStore.open_persistent(defaults.data_dir, embedder.fingerprint)
    Ingestor(store, embedder, defaults).add_paths([folder])
    answerer = Answerer(store, store.keywords, embedder, defaults.retrieval, defaults.answer)
    return answerer, store


def test_a_question_in_one_language_is_answered_from_an_article_in_another(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    # an English article beside the German one
    answerer, store = _ingested(
        tmp_path, real_embedder, {"hafen.md": HARBOUR}, seeds=("rosetta-stone.md",)
    )
    answer = answerer.ask("When was the port of Rostock opened?")
    assert not answer.abstained
    assert answer.quotes[0].text.startswith("Der Hafen von Rostock wurde im Jahr 1960 eröffnet")
    assert_quotes_verbatim(store, answer.quotes)
    # The German words of the same question find it through both retrievers as well.
    german = answerer.ask("Wann wurde der Hafen von Rostock eröffnet?")
    assert german.quotes[0].text == answer.quotes[0].text


KHAJU = (
    "# پل خواجو\n\n"
    "پل خواجو یکی از پل‌های تاریخی اصفهان است. "
    "این پل در دوران شاه عباس دوم در حدود سال ۱۰۶۰ خورشیدی بر روی رودخانه زاینده‌رود ساخته شد و "
    "طول آن نزدیک به ۱۳۳ متر و عرض آن حدود ۱۲ متر است و دو طبقه دارد که طبقه پایین آن بیست و "
    "چهار دهانه دارد و آب رودخانه از میان این دهانه‌ها و از زیر سنگ‌های بزرگ کف پل می‌گذرد. "
    "مردم شهر در شب‌های تابستان بر روی پله‌های سنگی پل می‌نشینند.\n"
)


def test_a_persian_sentence_longer_than_a_chunk_is_quoted_whole(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    # 128 tokens of an English tokenizer hold about 150 Persian characters: the chunks cut the
    # 265-character sentence that answers, and the quote must still be the sentence
    answerer, store = _ingested(tmp_path, real_embedder, {"khaju.md": KHAJU})
    (article,) = store.articles()
    sentence = next(
        article.text[start:end]
        for start, end in sentence_spans(article.text, language="fa")
        if "دهانه" in article.text[start:end]
    )
    chunking = load_settings().chunking
    chunks = chunk_article(article, chunking.chunk_size, chunking.chunk_overlap)
    assert not any(sentence in chunk.text for chunk in chunks)  # no chunk holds it whole
    answer = answerer.ask("طبقه پایین پل خواجو چند دهانه دارد؟")  # how many arches, below?
    assert not answer.abstained
    assert sentence in answer.quotes[0].text
    assert_quotes_verbatim(store, answer.quotes)
