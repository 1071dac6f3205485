"""Text → search terms, per language: the one tokenizer of keyword retrieval and answer ranking.

1. Normalise: NFKC and case folding (``İstanbul`` as ``istanbul``, not with a combining dot; in
   Turkish and Azerbaijani ``I`` as the dotless i); soft hyphens and zero-width spaces and joiners
   dropped; every decimal digit as ASCII (Persian ``۱۳۷۱`` and Arabic-Indic digits match ``1371``);
   in Arabic script, diacritics and tatweel dropped, alef forms unified, yeh and kaf unified
   (Persian forms, Arabic ones for Arabic text, as each language's Snowball stemmer expects), and
   the zero-width non-joiner read as a word break (articles write ``بین‌المللی``, people type
   ``بین المللی``).
2. Split into words; runs of Han or kana script, written without spaces, and of Hangul, whose
   words carry their particles (``서울은``, ``서울에서``), become overlapping character bigrams,
   as Lucene's CJK analyzer reads them; runs of Thai, Lao, Khmer or Myanmar script, also written
   without spaces between words, are split into words by ICU's dictionaries (icu4py).
3. Drop the language's stopwords and stem with its Snowball stemmer (PyStemmer), where there are
   such for the language; other languages keep their normalised words.
4. Acronyms: ``U.S.``, ``US`` and ``United States`` all give the term ``us`` (kept even where the
   lowercase word is a stopword); a name of two to four capitalised words adds its initials.
"""

from __future__ import annotations

import importlib.util
import threading
import unicodedata
from functools import cache
from itertools import groupby
from pathlib import Path

import regex
import Stemmer
import stopwordsiso
from icu4py.breakers import WordBreaker

# ISO 639-1 code → Snowball algorithm.
SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "eo": "esperanto", "es": "spanish", "et": "estonian",
    "eu": "basque", "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish",
    "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "nb": "norwegian", "ne": "nepali", "nl": "dutch", "nn": "norwegian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip
# English question words beyond the stopword list: they say what kind of answer is wanted,
# not what it is about. (Other languages' stopword lists already hold their question words.)
ENGLISH_QUESTION_WORDS = frozenset(
    (
        "say", "said", "says", "tell", "told", "do", "does", "did", "make", "made", "happen",
        "happened", "mean", "means", "called", "name", "named", "use", "used", "many", "much",
        "kind", "type", "way", "ever", "also", "one",
    )
)  # fmt: skip
ISO_ALIASES = {"nb": "no", "nn": "no"}
NLTK_ENGLISH = ("_static", "nltk_cache", "corpora", "stopwords", "english")
ARABIC_LANGUAGES = frozenset(("ar", "arz", "ary"))
# Turkish and Azerbaijani write the capital of ``i`` as ``İ``, and ``I`` is that of the dotless i
TURKIC_LANGUAGES = frozenset(("tr", "az"))

_stemming = threading.Lock()
_WORD = regex.compile(r"\w+")
_DOTTED = regex.compile(r"\b(?:\p{Lu}\.){2,}")
_CAPITALS = regex.compile(r"\b\p{Lu}{2,}\b")
_NAME = regex.compile(
    r"\b\p{Lu}\p{Ll}+\b(?: \p{Lu}\p{Ll}+\b)*"
)  # capitalised words, one space apart
_BIGRAM_SCRIPT = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]+")
# Scripts written without spaces between words, whose words ICU's dictionaries find
_DICTIONARY_SCRIPT = regex.compile(r"[\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]+")
_UNSPACED_RUN = regex.compile(rf"{_BIGRAM_SCRIPT.pattern}|{_DICTIONARY_SCRIPT.pattern}")
_DIGIT = regex.compile(r"\d")
_ARABIC_MARKS = regex.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
# Alef with hamza above/below, with madda, wasla → bare alef; zero-width non-joiner → space.
_ALEF_FORMS = str.maketrans(
    {"\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627", "\u200c": " "}
)
# Arabic yeh, alef maksura → Farsi yeh; Arabic kaf → keheh; heh with yeh, teh marbuta → heh.
_PERSIAN_FORMS = str.maketrans(
    {
        "\u064a": "\u06cc",
        "\u0649": "\u06cc",
        "\u0643": "\u06a9",
        "\u06c0": "\u0647",
        "\u0629": "\u0647",
    }
)
# Soft hyphen, zero-width space and joiner, word joiner, byte order mark: invisible inside a word
# ("Bundes\u00adregierung" is "Bundesregierung"), where they would split it or hide it
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200d\u2060\ufeff"))
_TURKIC_CAPITALS = str.maketrans({"I": "\u0131", "\u0130": "i"})
# Farsi yeh → Arabic yeh; keheh → Arabic kaf.
_ARABIC_FORMS = str.maketrans({"\u06cc": "\u064a", "\u06a9": "\u0643"})


def _fold_case(text: str) -> str:
    """``text`` case-folded, ``İ`` as ``i`` (casefold gives ``i`` and a combining dot)."""
    return text.casefold().replace("i\u0307", "i")


def normalize(text: str, language: str = "") -> str:
    """``text`` folded for matching (see the module's docstring); not for display."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    if language in TURKIC_LANGUAGES:
        text = text.translate(_TURKIC_CAPITALS)
    text = _fold_case(text)
    text = _DIGIT.sub(lambda match: str(unicodedata.decimal(match.group(), 0)), text)
    if _has_arabic_script(text):
        text = _ARABIC_MARKS.sub("", text).translate(_ALEF_FORMS)
        forms = _ARABIC_FORMS if language in ARABIC_LANGUAGES else _PERSIAN_FORMS
        text = text.translate(forms)
    return text


def terms(text: str, language: str = "") -> list[str]:
    """The content terms of ``text`` in order, repeats kept (for BM25); acronyms last."""
    ignored = stopwords(language)
    words = []
    for word in _words(normalize(text, language)):
        if word not in ignored and (len(word) > 1 or _BIGRAM_SCRIPT.fullmatch(word)):
            words.append(word)
    stemmer = _stemmer(language)
    if stemmer is not None:
        with _stemming:  # a Stemmer object is not safe to share between threads
            words = list(stemmer.stemWords(words))
    return words + acronyms(text, ignored)


def acronyms(text: str, ignored: frozenset[str] = frozenset()) -> list[str]:
    """``U.S.`` and ``US`` as ``us``; ``United States`` (2-4 capitalised words) as ``us`` too.

    Words in ``ignored`` (stopwords: a sentence's capitalised first word) break a name.
    """
    found = [_fold_case(match.group().replace(".", "")) for match in _DOTTED.finditer(text)]
    # "US", "IT": kept where the lowercase word is a stopword (other capitals are words already)
    found += [
        word for match in _CAPITALS.finditer(text) if (word := _fold_case(match.group())) in ignored
    ]
    return found + [initials for initials, _ in _names(text, ignored)]


def spelled_acronyms(text: str, language: str = "") -> dict[str, frozenset[str]]:
    """The names of ``text`` that :func:`acronyms` reads as initials: initials → the name's terms.

    ``United States`` → ``{"us": {"unit", "state"}}``: a text writing ``U.S.`` holds the name
    as much as one spelling it out.
    """
    ignored = stopwords(language)
    return {
        initials: frozenset(terms(" ".join(name).casefold(), language)) - {initials}
        for initials, name in _names(text, ignored)
    }


def _names(text: str, ignored: frozenset[str]) -> list[tuple[str, list[str]]]:
    """Runs of two to four capitalised words, with their initials, casefolded."""
    found = []
    for match in _NAME.finditer(text):
        # a capitalised stopword ("The" opening a sentence) is no part of a name: it splits one
        words = match.group().split(" ")
        for is_name, group in groupby(words, key=lambda word: _fold_case(word) not in ignored):
            name = list(group)
            if is_name and 2 <= len(name) <= 4:
                found.append((_fold_case("".join(word[0] for word in name)), name))
    return found


def content_terms(text: str, language: str = "") -> set[str]:
    """The distinct content terms of ``text``."""
    return set(terms(text, language))


def words(text: str, language: str = "") -> list[str]:
    """Every word of ``text``, normalised, stopwords kept (question words among them); runs of
    Han, kana or Hangul script as character bigrams."""
    return _words(normalize(text, language))


def _words(text: str) -> list[str]:
    words = []
    for word in _WORD.findall(text):
        position = 0
        for run in _UNSPACED_RUN.finditer(word):
            if run.start() > position:
                words.append(word[position : run.start()])
            words.extend(_unspaced_words(run.group()))
            position = run.end()
        if position < len(word):
            words.append(word[position:])
    return words


def _unspaced_words(chars: str) -> list[str]:
    """A word's run of one of the scripts read in pieces: dictionary words where ICU has them
    (Thai, Lao, Khmer, Myanmar), overlapping character bigrams for Han, kana and Hangul."""
    if _DICTIONARY_SCRIPT.fullmatch(chars):
        return list(WordBreaker(chars, ""))
    return [chars] if len(chars) == 1 else [chars[i : i + 2] for i in range(len(chars) - 1)]


def _has_arabic_script(text: str) -> bool:
    return any("\u0600" <= char <= "\u06ff" for char in text)


@cache
def stopwords(language: str) -> frozenset[str]:
    """The language's stopwords, normalised like the text they are compared with.

    From stopwords-iso (58 languages, question words included: Arabic ``ماذا``, Chinese
    ``多少``), except English: its English list has over 1,200 words with content words among
    them ("million", "computer"), so English keeps NLTK's classic list (shipped inside
    llama-index-core) plus the question words above.
    """
    if language == "en":
        words: set[str] = _nltk_english_stopwords() | ENGLISH_QUESTION_WORDS
    elif (iso := ISO_ALIASES.get(language, language)) in stopwordsiso.langs():
        words = set(stopwordsiso.stopwords(iso))
    else:
        return frozenset()
    return frozenset(term for word in words for term in _words(normalize(word, language)))


def _nltk_english_stopwords() -> set[str]:
    """NLTK's English list, read from the copy llama-index-core ships, without importing
    LlamaIndex (over a second) or NLTK on the read path."""
    spec = importlib.util.find_spec("llama_index.core")  # imports only the namespace package
    locations = spec.submodule_search_locations if spec else None
    english = Path(locations[0], *NLTK_ENGLISH) if locations else None
    if english is None or not english.is_file():  # laid out otherwise: ask LlamaIndex itself
        from llama_index.core.utils import globals_helper  # noqa: PLC0415

        return set(globals_helper.stopwords)
    return set(english.read_text(encoding="utf-8").split())


@cache
def _stemmer(language: str) -> Stemmer.Stemmer | None:
    algorithm = SNOWBALL.get(language)
    return Stemmer.Stemmer(algorithm) if algorithm else None
