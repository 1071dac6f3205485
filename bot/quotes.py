"""Quotes are data: found in, and checked against, the stored article text. Pure code.

A quote may be offered with different whitespace or quote marks than the article has (a model
rewrites ``“`` as ``"``); :func:`locate_quote` finds it after normalising both sides and maps the
match back to exact offsets, so what is shown is always ``article.text[start:end]``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ingest.schema import Article

MIN_QUOTE_CHARS = 12

_QUOTE_MARKS = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
        "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    }
)  # fmt: skip


@dataclass(frozen=True)
class Quote:
    """Verbatim text of a stored article: ``text == article.text[start:end]``."""

    text: str
    article_id: str
    title: str
    source: str
    start: int
    end: int
    published: str = ""

    def as_json(self) -> dict[str, str | int]:
        return {
            "text": self.text,
            "article_id": self.article_id,
            "title": self.title,
            "source": self.source,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True)
class Claim:
    """One statement of an answer: the model's words (empty for extractive answers) and the
    numbers (from 1) of the answer's quotes that back it."""

    text: str
    quotes: tuple[int, ...]

    def as_json(self) -> dict[str, object]:
        return {"text": self.text, "quotes": list(self.quotes)}


def normalize(text: str) -> tuple[str, list[int]]:
    """NFKC, plain quote marks, whitespace runs as one space; plus each output char's source index.

    Leading and trailing whitespace is dropped.
    """
    chars: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        for piece in unicodedata.normalize("NFKC", char).translate(_QUOTE_MARKS):
            if piece.isspace() or unicodedata.category(piece) == "Cf":
                if piece.isspace() and chars and chars[-1] != " ":
                    chars.append(" ")
                    origins.append(index)
                continue
            chars.append(piece)
            origins.append(index)
    if chars and chars[-1] == " ":
        chars.pop()
        origins.pop()
    return "".join(chars), origins


def locate_quote(
    article_text: str, claimed: str, near: int = 0, min_chars: int = MIN_QUOTE_CHARS
) -> tuple[int, int] | None:
    """Offsets of ``claimed`` in ``article_text`` (the occurrence closest to ``near``), or None.

    None when the claimed text is shorter than ``min_chars`` after normalising or is not in the
    article.
    """
    needle, _ = normalize(unicodedata.normalize("NFC", claimed))  # stored text is NFC too
    if len(needle) < min_chars:
        return None
    haystack, origins = normalize(article_text)
    best: tuple[int, int] | None = None
    position = haystack.find(needle)
    while position >= 0:
        if _on_character_edges(haystack, origins, position, position + len(needle)):
            start, end = origins[position], origins[position + len(needle) - 1] + 1
            if best is None or abs(start - near) < abs(best[0] - near):
                best = (start, end)
        position = haystack.find(needle, position + 1)
    return best


def _on_character_edges(text: str, origins: list[int], start: int, end: int) -> bool:
    """Whether ``text[start:end]`` (normalised) maps back to whole characters of the article.

    False when the span would split a letter from its combining accent, or take only part of a
    character that normalising expanded (``ﬁ`` → ``fi``).
    """
    starts_clean = start == 0 or origins[start - 1] != origins[start]
    ends_clean = end == len(text) or origins[end] != origins[end - 1]
    splits_accent = unicodedata.combining(text[start]) or (
        end < len(text) and unicodedata.combining(text[end])
    )
    return starts_clean and ends_clean and not splits_accent


def quote_from_article(article: Article, claimed: str, near: int = 0) -> Quote | None:
    """A verified quote of ``article`` for the claimed text, or None when it is not there."""
    span = locate_quote(article.text, claimed, near)
    if span is None:
        return None
    start, end = span
    return Quote(
        text=article.text[start:end],
        article_id=article.article_id,
        title=article.title,
        source=article.source,
        start=start,
        end=end,
        published=article.published,
    )


def is_verbatim(quote: Quote, article: Article) -> bool:
    """The last check before a quote is shown: its text is exactly the article's at its offsets."""
    return (
        quote.article_id == article.article_id
        and 0 <= quote.start < quote.end <= len(article.text)
        and article.text[quote.start : quote.end] == quote.text
    )
