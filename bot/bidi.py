"""Right-to-left text beside left-to-right text, kept in order on screen. Pure code.

A Persian or Arabic quote followed by a citation ``[1]`` in a left-to-right line would pull the
number into the quote's right-to-left run. Wrapping such text in Unicode's first-strong isolate
(U+2068 … U+2069) keeps it one unit: it reads right to left inside, and what follows it stays
after it. Text without right-to-left letters is left as it is.
"""

from __future__ import annotations

import unicodedata

FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"


def has_right_to_left(text: str) -> bool:
    return any(unicodedata.bidirectional(char) in {"R", "AL"} for char in text)


def isolate(text: str) -> str:
    """``text`` as one bidirectional unit when it holds right-to-left letters."""
    if not has_right_to_left(text):
        return text
    return f"{FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"
