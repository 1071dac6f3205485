"""When an answer may say "The articles answer this": per language, from held-out answers.

The judge's confidence is calibrated per language, but a calibrated 0.9 is still right less
than nine times in ten where few answers reach it. A language gets a cut only where its
held-out answers above the cut were right ``DIRECT_RIGHT`` of the time, counted at the low end
of a one-sided 95% Wilson interval: 29 right of 30 is not enough to say so, 97 of 100 is; and
from ``MIN_DIRECT_ANSWERS`` answers. Both were set after held-out figures (as bot/data/JUDGE.md
says): with a 90% bound Arabic passed at 0.85 on 34 development answers (33 right), then was
right 10 times of 14 on the held-out XQuAD sample; with the 95% bound it passed again at 0.85 on
32 answers (32 right), then was right 9 times of 13. A language's development answers come from
a few dozen articles, and answers from one article are right or wrong together: 30 of them are
fewer independent cases than they look, so a cut needed 50. With chunks of languages other than
English sized in the embedder's tokens, German passed at 0.9 on 85 development answers (82 right),
then was right 28 times of 33 on the held-out XQuAD sample: a cut needs 100.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.answerability import Judge

DIRECT_CUTS = tuple(round(0.5 + 0.05 * step, 2) for step in range(10))  # 0.50 … 0.95
DIRECT_RIGHT = 0.9
WILSON_Z = 1.6449  # one-sided 95%
MIN_DIRECT_ANSWERS = 100


def direct_cuts(answered: dict[str, list[tuple[float, bool]]], judge: Judge) -> dict[str, float]:
    """Per calibrated language: the lowest of ``DIRECT_CUTS`` whose held-out answers at or above
    it (``MIN_DIRECT_ANSWERS`` at least) were right ``DIRECT_RIGHT`` of the time, at the low end
    of a one-sided 95% Wilson interval. A language with no such cut is never called direct."""
    cuts = {}
    for language, pairs in sorted(answered.items()):
        if not language or language not in judge.calibration:
            continue
        calibrated = [(judge.calibrated(confidence, language), ok) for confidence, ok in pairs]
        for cut in DIRECT_CUTS:
            above = [ok for confidence, ok in calibrated if confidence >= cut]
            if len(above) >= MIN_DIRECT_ANSWERS and wilson_low(above) >= DIRECT_RIGHT:
                cuts[language] = cut
                break
    return cuts


def wilson_low(outcomes: Sequence[bool]) -> float:
    """The low end of the one-sided 95% Wilson interval of the share of ``outcomes`` true."""
    n, share = len(outcomes), sum(outcomes) / len(outcomes)
    z2 = WILSON_Z**2
    spread = WILSON_Z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))
    return (share + z2 / (2 * n) - spread) / (1 + z2 / n)
