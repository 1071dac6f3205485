"""Answers as Telegram HTML messages that never break. Pure code.

Every piece of article or model text is escaped and cleaned of control characters;
tags come only from here, and so do the bidirectional isolates that keep a right-to-left title in
its place in a citation line (:mod:`bot.bidi`). Quotes go in expandable blockquotes, each
followed by its article's title, date and source, and a quote is never separated from its
citation. Messages stay under Telegram's 4096-character limit (counted, conservatively, on the
HTML with its tags, in UTF-16 units as Telegram counts), split on paragraph, then sentence, then
word boundaries.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bot.answer import Answer
from bot.bidi import isolate
from bot.quotes import Quote

MESSAGE_LIMIT = 4096
_KEPT_CONTROLS = {"\n", "\t"}


@dataclass(frozen=True)
class RenderedMessage:
    """One message to send: its HTML, and the same words as plain text for a fallback."""

    html: str
    plain: str


@dataclass(frozen=True)
class _Block:
    """Text shown together: optional quote (in a blockquote) and the lines after it."""

    quote: str
    lines: str


def clean(text: str) -> str:
    """``text`` without control characters (but newlines and tabs) and lone surrogates: only
    what a stored article can't hold anyway (``ingest.reading.clean_text``). Format characters
    stay — the zero-width non-joiner of Persian words, emoji joiners, an article's own bidi
    marks — so a quote arrives exactly as stored."""
    return "".join(
        char
        for char in text
        if char in _KEPT_CONTROLS or unicodedata.category(char) not in {"Cc", "Cs"}
    )


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def render_answer(answer: Answer) -> list[RenderedMessage]:
    """The answer as messages: its claims (prose and quote numbers), then each quote with its
    citation. An answer without claims (an abstention) shows its text."""
    lead = (
        " ".join(
            " ".join([clean(claim.text), *(f"[{number}]" for number in claim.quotes)]).strip()
            for claim in answer.claims
        )
        if answer.claims
        else clean(answer.text)
    )
    blocks = [_Block("", answer.lead)] if answer.lead else []
    if re.sub(r"[\s\[\]\d]", "", lead):  # more than citation numbers
        blocks.append(_Block("", lead))
    for number, quote in enumerate(answer.quotes, 1):
        cited = citation(quote.title, quote.published, quote.source)
        blocks.append(_Block(clean(quote.text), f"[{number}] {cited}"))
    return pack(blocks)


def render_digest(
    header: str, items: Sequence[tuple[Quote, str]], per_message: int
) -> list[RenderedMessage]:
    """A digest: ``header``, then each article's quote and its citation line, at most
    ``per_message`` articles a message."""
    messages: list[RenderedMessage] = []
    for first in range(0, len(items), per_message):
        blocks = [_Block("", clean(header))] if first == 0 else []
        for quote, citation in items[first : first + per_message]:
            blocks.append(_Block(clean(quote.text), citation))
        messages += pack(blocks)
    return messages


def citation(title: str, published: str, source: str) -> str:
    """An article's citation line as a chat sees it: title, date, and its web address if any."""
    dated = f", {published}" if published else ""
    shown = public_source(source)
    return f"{isolate(clean(title))}{dated}" + (f" — {clean(shown)}" if shown else "")


def public_source(source: str) -> str:
    """What a chat may see of an article's source: its web address, never a server's path."""
    return source if source.startswith(("http://", "https://")) else ""


def render_text(text: str) -> list[RenderedMessage]:
    """Plain text from our own code (help, lists) as safe messages."""
    return pack([_Block("", clean(text))])


def pack(blocks: Sequence[_Block]) -> list[RenderedMessage]:
    """Blocks into as few messages as fit, never splitting a block unless it alone is too long."""
    messages: list[RenderedMessage] = []
    html_parts: list[str] = []
    plain_parts: list[str] = []
    for block in blocks:
        for piece_html, piece_plain in _block_pieces(block):
            joined = "\n\n".join([*html_parts, piece_html])
            if html_parts and utf16_length(joined) > MESSAGE_LIMIT:
                messages.append(RenderedMessage("\n\n".join(html_parts), "\n\n".join(plain_parts)))
                html_parts, plain_parts = [], []
            html_parts.append(piece_html)
            plain_parts.append(piece_plain)
    if html_parts:
        messages.append(RenderedMessage("\n\n".join(html_parts), "\n\n".join(plain_parts)))
    return messages


def _block_pieces(block: _Block) -> Iterator[tuple[str, str]]:
    """``(html, plain)`` pieces of a block, each under the limit; the citation ends the last."""
    if not block.quote:
        for part in _split(block.lines, MESSAGE_LIMIT):
            yield html.escape(part, quote=False), part
        return
    lines_html = f"<i>{html.escape(block.lines, quote=False)}</i>"
    room = MESSAGE_LIMIT - utf16_length(lines_html) - 64
    parts = _split(block.quote, max(room, 256))
    for index, part in enumerate(parts):
        quoted = f"<blockquote expandable>{html.escape(part, quote=False)}</blockquote>"
        if index == len(parts) - 1:
            if utf16_length(quoted + "\n" + lines_html) <= MESSAGE_LIMIT:
                yield f"{quoted}\n{lines_html}", f"“{part}”\n{block.lines}"
            else:  # a citation too long to share a message (a very long title or source)
                yield quoted, f"“{part}”"
                for line in _split(block.lines, MESSAGE_LIMIT - 16):
                    yield f"<i>{html.escape(line, quote=False)}</i>", line
        else:
            yield quoted, f"“{part}”"


def _split(text: str, limit: int) -> list[str]:
    """``text`` in pieces whose escaped HTML fits ``limit``, cut at paragraphs, sentences or words.

    The pieces joined give ``text`` back exactly.
    """
    pieces = []
    while _escaped_length(text) > limit:
        fit = _fitting_prefix(text, limit)
        cut = fit
        for separator in ("\n\n", "\n", ". ", " "):
            position = text.rfind(separator, 0, fit - len(separator) + 1)
            if position > 0 and text[:position].strip():
                cut = position + len(separator)
                break
        pieces.append(text[:cut])
        text = text[cut:]
    if text or not pieces:
        pieces.append(text)
    return pieces


def _fitting_prefix(text: str, limit: int) -> int:
    """The longest prefix that fits, in whole characters (never half a surrogate pair)."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _escaped_length(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _escaped_length(text: str) -> int:
    return utf16_length(html.escape(text, quote=False))
