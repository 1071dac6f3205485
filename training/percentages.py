"""Which languages' answers state their confidence as a percentage: from held-out answers.

A language's confidence is calibrated on its cross-validated development answers, pooled over
the sources they come from. A percentage is shown only where that one calibration holds on each
source with ``MIN_SOURCE_ANSWERS`` answers: an expected calibration error of ``MAX_ERROR`` at
most, the bar the held-out files are held to. Where it does not, the same stated confidence is
right at different rates from one kind of article and question to another, and no one number
means what it says: the answer says how sure it is in words alone (``--json`` keeps the
probability). English, the first to fail (2026-12-04): its calibration gave SQuAD v2 dev's
answers an ECE of 0.035 and XQuAD's English ones 0.257 — SQuAD's unanswerable questions, written
to look answered, draw sure answers that are wrong, and XQuAD has none; on the held-out English
sample the ECE was 0.087 and on the English news fixture 0.260.
"""

from __future__ import annotations

from bot.answerability import Judge
from bot.evaluation import calibration_error

MAX_ERROR = 0.08
MIN_SOURCE_ANSWERS = 200

Answers = list[tuple[float, bool]]  # (raw confidence, first quote right)


def percentage_languages(by_source: dict[tuple[str, str], Answers], judge: Judge) -> list[str]:
    """The calibrated languages (``judge.calibration``, not the pooled one) whose calibration
    holds, within ``MAX_ERROR``, on each of their sources (``by_source``: (set, language) → its
    held-out answers) with ``MIN_SOURCE_ANSWERS`` answers."""
    languages, failing = set(), set()
    for (_, language), pairs in by_source.items():
        if not language or language not in judge.calibration:
            continue
        languages.add(language)
        calibrated = [(judge.calibrated(confidence, language), ok) for confidence, ok in pairs]
        if len(pairs) >= MIN_SOURCE_ANSWERS and (calibration_error(calibrated) or 0.0) > MAX_ERROR:
            failing.add(language)
    return sorted(languages - failing)
