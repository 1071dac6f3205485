"""Sentence-aware chunks and sentence spans, with character offsets into the article text.

LlamaIndex's ``SentenceSplitter`` decides where chunks end; we then locate every chunk in the
article so each carries exact ``start``/``end`` offsets (``chunk.text == text[start:end]``).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.utils import globals_helper

from ingest.schema import Article, Chunk, chunk_id_for


def chunk_article(article: Article, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Split an article into overlapping, sentence-aligned chunks with exact offsets."""
    splitter = _splitter(chunk_size, chunk_overlap)
    nodes = splitter.get_nodes_from_documents([Document(text=article.text)])
    chunks = []
    cursor = 0
    for index, node in enumerate(nodes):
        start, end = _locate(article.text, node.get_content(), cursor)
        cursor = start + 1
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


@cache
def _splitter(chunk_size: int, chunk_overlap: int) -> SentenceSplitter:
    return SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)


def _locate(text: str, piece: str, cursor: int) -> tuple[int, int]:
    """Where ``piece`` starts in ``text`` at or after ``cursor``; whitespace may differ."""
    start = text.find(piece, cursor)
    if start >= 0:
        return start, start + len(piece)
    words = piece.split()
    pattern = r"\s+".join(re.escape(word) for word in words)
    match = re.compile(pattern).search(text, cursor)
    if match is None:
        raise AssertionError(f"chunk not found in its article: {piece[:60]!r}")
    return match.start(), match.end()


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text[start:end]``, as offsets into ``text``.

    Line breaks end sentences too (headings and list items often have no full stop).
    """
    end = len(text) if end is None else end
    spans = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        base = start + line.start()
        for sentence_start, sentence_end in _punkt().span_tokenize(line.group()):
            spans.append((base + sentence_start, base + sentence_end))
    return spans


@cache
def _punkt() -> Any:
    return globals_helper.punkt_tokenizer


@cache
def stopwords() -> frozenset[str]:
    """English stopwords (NLTK's list, shipped inside llama-index-core)."""
    return frozenset(globals_helper.stopwords)
