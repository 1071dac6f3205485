"""Sentence-aware chunks and sentence spans, with character offsets into the article text.

Sentences are split by the article's language with sentencex (Wikimedia's rule-based segmenter:
abbreviations per language, ``؟`` and ``。`` and their kin as sentence ends). LlamaIndex's
``SentenceSplitter`` packs those sentences into chunks; we then locate every chunk in the article
so each carries exact ``start``/``end`` offsets (``chunk.text == text[start:end]``).

Chunk sizes are in tokens. English chunks count LlamaIndex's (OpenAI's cl100k, on which the size
was set); other languages' count the embedder's own where it is known: cl100k spends a token on
every character or two of Arabic, Greek or Hindi, so their chunks held 100 to 150 characters.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import regex
import sentencex

from ingest.schema import Article, Chunk, chunk_id_for

if TYPE_CHECKING:
    from llama_index.core.node_parser import SentenceSplitter

# Languages sentencex has no rules of, split by a close relative's (Danish knows "kl." and "7.").
SENTENCE_RULES = {"nb": "da", "nn": "da", "no": "da"}
# A one-letter word and its point, in a script other than Latin (whose initials sentencex knows,
# and where "Ptolemy V." or "a function of n." ends a sentence)
_INITIAL = regex.compile(r"(?<!\w)[^\W\d_\p{Latin}]\.\s*$")
_ORDINAL = regex.compile(r"(?<![\d.])\d{1,2}\.\s*$")  # German writes "19." for "19th"
# A sentence a chunk's edge cuts is quoted whole up to this length (99.7% of XQuAD's sentences
# outside Thai, whose "sentences" are paragraphs); a longer one as far as the chunk holds it.
LONGEST_WHOLE_SENTENCE = 600


def chunk_article(
    article: Article,
    chunk_size: int,
    chunk_overlap: int,
    count_tokens: Callable[[str], int] | None = None,
) -> list[Chunk]:
    """Split an article into overlapping, sentence-aligned chunks with exact offsets; sizes in
    ``count_tokens``'s tokens (the embedder's) unless the article is English or it is None."""
    tokenizer = None
    if count_tokens is not None and article.language != "en":
        tokenizer = partial(_counted, count_tokens)
    pieces = _splitter(chunk_size, chunk_overlap, article.language, tokenizer).split_text(
        article.text
    )
    chunks = []
    cursor = 0
    for index, piece in enumerate(pieces):
        start, end = _locate(article.text, piece, cursor)
        cursor = start  # an overlapping chunk may start where the one before it did
        chunks.append(
            Chunk(
                chunk_id=chunk_id_for(article.article_id, article.content_hash, index),
                article_id=article.article_id,
                content_hash=article.content_hash,
                index=index,
                start=start,
                end=end,
                text=article.text[start:end],
            )
        )
    return chunks


def _counted(count_tokens: Callable[[str], int], text: str) -> list[int]:
    """As many items as ``text`` has tokens: LlamaIndex's tokenizer gives a list it counts."""
    return [0] * count_tokens(text)


def _splitter(
    chunk_size: int,
    chunk_overlap: int,
    language: str,
    tokenizer: Callable[[str], list[int]] | None,
) -> SentenceSplitter:
    """LlamaIndex's splitter (``tokenizer``: None for its own, cl100k), imported on the write path
    only: answering needs :func:`sentence_spans`, not LlamaIndex, and should not wait for it."""
    from llama_index.core.node_parser import SentenceSplitter  # noqa: PLC0415

    def split(text: str) -> list[str]:
        return [text[start:end] for start, end in _sentence_bounds(text, language)]

    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        chunking_tokenizer_fn=split,
        tokenizer=tokenizer,
    )


def _locate(text: str, piece: str, cursor: int) -> tuple[int, int]:
    """Where ``piece`` starts in ``text`` at or after ``cursor``; whitespace may differ."""
    start = text.find(piece, cursor)
    if start >= 0:
        return start, start + len(piece)
    words = piece.split()
    pattern = r"\s+".join(regex.escape(word) for word in words)
    match = regex.compile(pattern).search(text, cursor)
    if match is None:
        raise AssertionError(f"chunk not found in its article: {piece[:60]!r}")
    return match.start(), match.end()


def sentence_spans(
    text: str, start: int = 0, end: int | None = None, language: str = ""
) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text[start:end]``, as offsets into ``text``.

    Line breaks end sentences too (headings and list items often have no full stop); a span has
    no leading or trailing whitespace.
    """
    end = len(text) if end is None else end
    spans = []
    for line in regex.finditer(r"[^\n]+", text[start:end]):
        base = start + line.start()
        for sentence_start, sentence_end in _sentence_bounds(line.group(), language):
            piece = line.group()[sentence_start:sentence_end]
            stripped = piece.strip()
            if stripped:
                lead = sentence_start + len(piece) - len(piece.lstrip())
                spans.append((base + lead, base + lead + len(stripped)))
    return spans


def chunk_sentences(text: str, start: int, end: int, language: str = "") -> list[tuple[int, int]]:
    """The sentences of ``text`` that ``text[start:end]`` (a chunk) holds any of, whole.

    A chunk's edge may fall inside a sentence: LlamaIndex cuts a sentence longer than a chunk,
    and chunks counted in cl100k's tokens (an Ollama embedder's) hold 100 to 150 characters of
    Arabic, Persian, Greek or Hindi (half the Greek and Hindi sentences of XQuAD were cut). Such
    a sentence is taken whole where it is no longer
    than :data:`LONGEST_WHOLE_SENTENCE`, else as far as the chunk holds it.
    """
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    around = (
        max(line_start, start - LONGEST_WHOLE_SENTENCE),
        min(len(text) if line_end < 0 else line_end, end + LONGEST_WHOLE_SENTENCE),
    )
    spans = []
    for first, last in sentence_spans(text, *around, language):
        if last <= start or first >= end:
            continue
        if last - first <= LONGEST_WHOLE_SENTENCE or start <= first < last <= end:
            spans.append((first, last))
            continue
        piece = text[max(first, start) : min(last, end)]
        lead = max(first, start) + len(piece) - len(piece.lstrip())
        if piece.strip():
            spans.append((lead, lead + len(piece.strip())))
    return spans


def widened(text: str, start: int, end: int, language: str = "") -> tuple[int, int]:
    """``text[start:end]`` (a chunk) widened to the whole sentences at its edges
    (:func:`chunk_sentences`): a passage shown or read opens and closes with a sentence's."""
    spans = chunk_sentences(text, start, end, language)
    return (spans[0][0], spans[-1][1]) if spans else (start, end)


def _no_end(text: str, cut: int, language: str) -> bool:
    """Is ``cut`` a sentence end sentencex sees where there is none? Where the text goes on in
    lowercase (a sentence opens with a capital in every cased script: "Y. pestis", "im 16. und
    17. Jahrhundert"); at the point of a decimal number in Persian or Arabic-Indic digits (not in
    ASCII ones); at the point of a one-letter initial before a name outside the Latin script
    (``Майкл Э. Манн``, ``مالكوم ك. هيوز``); and at the point of a German ordinal ("im 19.
    Jahrhundert")."""
    before, after = text[max(0, cut - 8) : cut].rstrip(), text[cut : cut + 8].lstrip()[:1]
    if after.islower():
        return True
    if (
        text[cut - 2 : cut - 1].isdecimal()
        and text[cut - 1 : cut] == "."
        and text[cut : cut + 1].isdecimal()
    ):
        return True  # a point between two digits, no space: "0.6"
    if language == "de" and _ORDINAL.search(before):
        return after.isalpha()
    return bool(_INITIAL.search(before)) and after.isalpha()


def _sentence_bounds(text: str, language: str) -> list[tuple[int, int]]:
    """Sentences of ``text`` as consecutive spans that cover it, whitespace included."""
    rules = SENTENCE_RULES.get(language, language) or "en"
    found = sentencex.get_sentence_boundaries(rules, text)
    cuts = sorted({int(sentence["end_index"]) for sentence in found} - {0, len(text)})
    edges = [0, *(cut for cut in cuts if not _no_end(text, cut, language)), len(text)]
    return list(itertools.pairwise(edges))
