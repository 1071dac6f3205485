"""The answer the read path gives: what every front-end shows and ``--json`` prints.

Kept apart from :mod:`bot.answering` (which needs the store, the model and Chroma) so that reading
an answer back, from the Telegram journal or for `inquote doctor`, imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.quotes import Claim, Quote

LEADS = {"direct": "The articles answer this", "closest": "The closest the articles come"}


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    abstained: bool
    quotes: tuple[Quote, ...]
    backend: str
    # How likely the answer's first quote is right (calibrated: bot/data/JUDGE.md); for an
    # abstention, that of the best sentence it declined. None: nothing to judge.
    probability: float | None = None
    # What the answer says, claim by claim, each with the numbers of its quotes.
    claims: tuple[Claim, ...] = ()
    # The judge's probability that the articles answer the question (below its threshold: abstain).
    answerable: float | None = None
    direct: bool = False  # sure enough to say "The articles answer this"
    # ``probability`` was calibrated on held-out answers in the language asked, and held on each
    # source of them (bot/data/JUDGE.md): shown as a percentage; else the answer says how sure
    # it is in words alone
    calibrated: bool = True
    timings: Mapping[str, float] = field(default_factory=dict, compare=False)

    @property
    def confidence(self) -> str:
        """``direct``, ``closest`` (answered, but the judge is unsure) or ``none`` (abstained)."""
        if self.abstained:
            return "none"
        return "direct" if self.direct else "closest"

    @property
    def lead(self) -> str:
        """How sure inquote is, in a few words to show before the answer; empty if abstained."""
        if self.abstained:
            return ""
        return confidence_lead(self.probability, self.direct, calibrated=self.calibrated)

    def as_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "quotes": [quote.as_json() for quote in self.quotes],
            "backend": self.backend,
            "probability": None if self.probability is None else round(self.probability, 4),
            "answerable": None if self.answerable is None else round(self.answerable, 4),
            "confidence": self.confidence,
            "calibrated": self.calibrated,
            "claims": [claim.as_json() for claim in self.claims],
        }


def confidence_lead(probability: float | None, direct: bool, *, calibrated: bool = True) -> str:
    """An answer's first words: how likely its first quote is right, as a percentage where the
    probability is calibrated for the question's language (``python -m benchmarks.languages``
    prints its reliability per language), else in words alone."""
    if probability is None:
        return ""
    words = LEADS["direct" if direct else "closest"]
    return f"{words} ({probability:.0%} sure):" if calibrated else f"{words}:"


@dataclass(frozen=True)
class Turn:
    """A question of a conversation and its answer."""

    question: str  # as asked
    standalone: str  # as retrieved and answered
    answer: Answer
