"""From the JSON a model wrote to an answer whose every quote is verified. Pure code.

The model is asked for JSON that :func:`answer_schema` fixes: whether the passages answer the
question, and claims, each its prose and the passages' exact words that support it, with the
passage numbers. The backends enforce the schema while decoding, but nothing the model writes is
trusted:

* each quoted span is looked up in the article of the passage it cites, then in the other passages'
  articles (a wrong number is corrected, not believed); found, it is replaced by the article's own
  text at the found offsets; not found, it is split into its sentences (a model joins two) and each
  is looked up alone; what is still not found is dropped;
* a claim keeps its prose only if at least one of its quotes was verified; prose loses any quote
  marks (so nothing unverified looks quoted), links and passage numbers;
* a quote of nothing but the article's title says nothing and is not shown;
* repeated claims are dropped; only the first :data:`MAX_CLAIMS` are kept;
* JSON cut short (the model ran out of tokens) keeps the claims it completed.

The JSON arrives as the model streams; each claim is verified and shown once the model has moved on
to the next one, so an answer can be shown claim by claim: its prose on a line, then its quotes,
each on a line of its own, set in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pydantic_core

from bot.quotes import Claim, Quote, is_verbatim, normalize, quote_from_article
from ingest.chunking import sentence_spans
from ingest.schema import Article

log = logging.getLogger(__name__)

MAX_CLAIMS = 6
# A claim shows as its prose on one line, then each quote on a line of its own, set in by this:
# the model's words and the article's are never run together.
QUOTE_INDENT = "    "
MAX_QUOTES_PER_CLAIM = 3

_MARKER = re.compile(
    r"\[\s*(?:passages?|sources?|p\.?)?\s*(\d+)[^\]\n]{0,20}\]|\(\s*passages?\s+(\d+)\s*\)",
    re.IGNORECASE,
)
_MARKDOWN_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
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


def answer_schema(passages: Sequence[Passage], quotable: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON schema of an answer over ``passages``.

    ``quotable``: when given, a quote must be one of these texts (the passages' sentences), which
    a backend's grammar can enforce while decoding.
    """
    quote: dict[str, Any] = {"enum": list(quotable)} if quotable else {"type": "string"}
    return {
        "type": "object",
        "properties": {
            "answerable": {"type": "boolean"},
            "claims": {
                "type": "array",
                "maxItems": MAX_CLAIMS,
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "quotes": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_QUOTES_PER_CLAIM,
                            "items": {
                                "type": "object",
                                "properties": {
                                    "passage": {
                                        "type": "integer",
                                        "minimum": 1,
                                        "maximum": max(len(passages), 1),
                                    },
                                    "quote": quote,
                                },
                                "required": ["passage", "quote"],
                            },
                        },
                    },
                    "required": ["text", "quotes"],
                },
            },
        },
        "required": ["answerable", "claims"],
    }


class CitedAnswer:
    """Builds the answer claim by claim from the model's streamed JSON; see the module docstring."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self._passages = list(passages)
        self._written = ""
        self._taken = 0  # claims of the JSON looked at so far
        self._seen: set[str] = set()
        self._shown: list[str] = []
        self.claims: list[Claim] = []
        self.quotes: list[Quote] = []
        self.model_abstained = False

    @property
    def text(self) -> str:
        return "\n".join(self._shown)

    def feed(self, piece: str) -> str:
        """Takes more model output; returns the answer text that became ready to show."""
        self._written += piece
        written = _parsed(self._written)
        if written.get("answerable") is False:
            self.model_abstained = True
        claims = written.get("claims")
        if not isinstance(claims, list):
            return ""
        return self._take(claims[:-1])  # the last claim may still grow

    def finish(self) -> str:
        """Takes what the model wrote last; returns its text to show, if any."""
        try:
            written = pydantic_core.from_json(self._written or "{}")
            complete = True
        except ValueError:
            written, complete = _parsed(self._written), False
        if not isinstance(written, dict):
            log.info("the model wrote no JSON object")
            return ""
        if written.get("answerable") is False:
            self.model_abstained = True
        claims = written.get("claims")
        if not isinstance(claims, list):
            return ""
        if not complete:
            log.info("the model's JSON was cut short; its last, unfinished claim is dropped")
            claims = claims[:-1]
        return self._take(claims)

    def _take(self, claims: Sequence[Any]) -> str:
        shown = []
        for written in claims[self._taken :]:
            self._taken += 1
            text = self._claim(written)
            if text:
                shown.append(text if not self._shown else "\n" + text)
                self._shown.append(text)
        return "".join(shown)

    def _claim(self, written: Any) -> str:
        """The claim rebuilt around its verified quotes; empty when none verified."""
        if self.model_abstained or len(self.claims) >= MAX_CLAIMS or not isinstance(written, dict):
            return ""
        prose = _prose(str(written.get("text", "")))
        key = normalize(prose.casefold())[0] + repr(written.get("quotes"))
        if key in self._seen:
            return ""
        self._seen.add(key)
        offered = written.get("quotes")
        numbered: dict[int, str] = {}  # citation number -> the words shown for it
        for item in offered[:MAX_QUOTES_PER_CLAIM] if isinstance(offered, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("quote"), str):
                continue
            cited = item.get("passage")
            for quote in self._verified(item["quote"], cited if isinstance(cited, int) else None):
                numbered.setdefault(self._number(quote), quote.text)
        if not numbered:
            return ""
        self.claims.append(Claim(prose, tuple(numbered)))
        quoted = "\n".join(f"{QUOTE_INDENT}“{text}” [{n}]" for n, text in numbered.items())
        return f"{prose}\n{quoted}" if prose else quoted

    def _verified(self, claimed: str, cited: int | None) -> list[Quote]:
        """The claimed words as verified quotes: whole, or else sentence by sentence."""
        quote = self._verify(claimed, cited)
        if quote is not None:
            return [quote]
        language = next(
            (p.article.language for p in self._passages if p.number == cited),
            self._passages[0].article.language if self._passages else "",
        )
        spans = sentence_spans(claimed, language=language)
        if len(spans) < 2:
            return []
        parts = [self._verify(claimed[start:end], cited) for start, end in spans]
        return [part for part in parts if part is not None]

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


def _parsed(written: str) -> dict[str, Any]:
    """As much of the model's JSON object as is complete so far (an empty one if none)."""
    try:
        value = pydantic_core.from_json(written, allow_partial=True)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _prose(text: str) -> str:
    """Model prose as shown: one line, no links, no passage numbers, nothing that looks quoted."""
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _STRAY_MARKS.sub("", _MARKER.sub("", text))
    text = " ".join(_URL.sub("", text).split())  # last: removing a mark could join a link
    return re.sub(r"\s+([,.;:!?])", r"\1", text)
