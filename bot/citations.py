"""From whatever a model wrote to an answer whose every quote is verified. Pure code.

The model is asked for one claim per line: a sentence, the number of the passage it rests on, and
the passage's words in double quotes. Small models get this wrong in every way — no quotes,
invented quotes, wrong numbers, repeated lines, links, text an article told them to write — so
nothing it writes is trusted:

* each quoted span is looked up in the article of the passage it cites, then in the other passages'
  articles (a wrong number is corrected, not believed); found, it is replaced by the article's own
  text at the found offsets; not found, it is dropped;
* a line without quote marks that is itself a passage's words counts as one quote;
* a line keeps its prose only if at least one of its quotes was verified; prose loses any
  quote marks (so nothing unverified looks quoted), links and the model's passage numbers, and
  gets our numbers, which point at the verified quotes;
* a quote of nothing but the article's title says nothing and is not shown;
* lines echoing the prompt's passage elements are dropped, and so are repeated lines; only the
  first :data:`MAX_CLAIMS` claims are kept.

Lines arrive as the model streams, so an answer can be shown claim by claim as it is verified.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.quotes import MIN_QUOTE_CHARS, Quote, is_verbatim, normalize, quote_from_article
from ingest.schema import Article

ABSTAIN_MARK = "NOT IN THE ARTICLES"
MAX_CLAIMS = 6

_QUOTED = re.compile(r'"([^"\n]+)"|“([^”\n]+)”|„([^“”\n]+)[“”]|«([^»\n]+)»')
_MARKER = re.compile(
    r"\[\s*(?:passages?|sources?|p\.?)?\s*(\d+)[^\]\n]{0,20}\]|\(\s*passages?\s+(\d+)\s*\)",
    re.IGNORECASE,
)
_MARKDOWN_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_PROMPT_MARKUP = re.compile(r"\s*</?\s*(passages?|question)\b", re.IGNORECASE)
_STRAY_MARKS = re.compile(r"[\"“”„«»*`]")


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk as the model sees it: numbered, pointing into its article."""

    number: int
    article: Article
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.article.text[self.start : self.end]


class CitedAnswer:
    """Builds the answer line by line from streamed model output; see the module docstring."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self._passages = list(passages)
        self._pending = ""
        self._seen: set[str] = set()
        self._claims: list[str] = []
        self.quotes: list[Quote] = []
        self.model_abstained = False

    @property
    def text(self) -> str:
        return " ".join(self._claims)

    def feed(self, piece: str) -> str:
        """Takes more model output; returns the answer text that became ready to show."""
        self._pending += piece
        shown = []
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            shown.append(self._take_line(line))
        return "".join(shown)

    def finish(self) -> str:
        """Takes the last, unterminated line; returns its text to show, if any."""
        line, self._pending = self._pending, ""
        return self._take_line(line)

    def _take_line(self, line: str) -> str:
        key, _ = normalize(line.casefold())
        if not key or key in self._seen or len(self._claims) >= MAX_CLAIMS:
            return ""
        self._seen.add(key)
        if ABSTAIN_MARK.casefold() in key:
            self.model_abstained = True
            return ""
        if _PROMPT_MARKUP.match(line):  # the model echoing our passage elements
            return ""
        claim = self._claim(line)
        if claim is None:
            return ""
        self._claims.append(claim)
        return claim if len(self._claims) == 1 else " " + claim

    def _claim(self, line: str) -> str | None:
        """The line rebuilt around its verified quotes, or None when none verified."""
        markers = [
            (match.start(), int(match.group(1) or match.group(2)))
            for match in _MARKER.finditer(line)
        ]
        pieces: list[str] = []
        verified = False
        position = 0
        for match in _QUOTED.finditer(line):
            pieces.append(_prose(line[position : match.start()]))
            claimed = next(group for group in match.groups() if group is not None)
            quote = self._verify(claimed, _cited(markers, match.start(), match.end()))
            if quote is not None:
                verified = True
                pieces.append(f"“{quote.text}” [{self._number(quote)}]")
            elif self._is_short_passage_phrase(claimed):
                pieces.append(_STRAY_MARKS.sub("", claimed))
            position = match.end()
        pieces.append(_prose(line[position:]))
        if position == 0:  # no quote marks: the line may still be a passage's words, copied
            quote = self._verify(_LIST_PREFIX.sub("", pieces[-1]), _cited(markers, 0, len(line)))
            if quote is not None:
                verified = True
                pieces = [f"“{quote.text}” [{self._number(quote)}]"]
        if not verified:
            return None
        claim = " ".join(" ".join(piece.split()) for piece in pieces if piece.strip())
        return re.sub(r"\s+([,.;:!?])", r"\1", _LIST_PREFIX.sub("", claim))

    def _verify(self, claimed: str, cited: int | None) -> Quote | None:
        """The claimed words as a verified quote of the cited passage's article, else another's."""
        ordered = sorted(self._passages, key=lambda passage: passage.number != cited)
        for passage in ordered:
            quote = quote_from_article(passage.article, claimed, near=passage.start)
            if quote is not None and is_verbatim(quote, passage.article):
                return None if quote.text == passage.article.title else quote
        return None

    def _number(self, quote: Quote) -> int:
        """The answer's citation number for ``quote``.

        A quote given again, or a part of one already given, cites that one.
        """
        for number, known in enumerate(self.quotes, 1):
            if known.article_id == quote.article_id and (
                known.start <= quote.start and quote.end <= known.end
            ):
                return number
        self.quotes.append(quote)
        return len(self.quotes)

    def _is_short_passage_phrase(self, claimed: str) -> bool:
        """A few quoted words ("Mehr") too short to verify as a quote, but in a passage."""
        needle, _ = normalize(claimed)
        return len(needle) < MIN_QUOTE_CHARS and any(
            needle in normalize(passage.text)[0] for passage in self._passages
        )


def _cited(markers: Sequence[tuple[int, int]], start: int, end: int) -> int | None:
    """The passage number a quote cites: the nearest marker before it, else the first after."""
    before = [number for position, number in markers if position < start]
    after = [number for position, number in markers if position >= end]
    return before[-1] if before else (after[0] if after else None)


def _prose(text: str) -> str:
    """Model prose as shown: no links, no passage numbers, nothing that looks like a quote."""
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _MARKER.sub("", text)
    return _STRAY_MARKS.sub("", text)
