"""Chunks are sentence-aligned spans of the article with exact offsets and deterministic ids."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunking import (
    LONGEST_WHOLE_SENTENCE,
    chunk_article,
    chunk_sentences,
    sentence_spans,
    widened,
)
from ingest.embedding import Embedder
from ingest.reading import find_articles, make_article, read_article
from tests.conftest import SEEDS


@pytest.mark.parametrize("path", sorted(find_articles([SEEDS])), ids=lambda path: path.name)
def test_seed_chunks_are_exact_spans_that_cover_the_article(path) -> None:
    article = read_article(path)
    chunks = chunk_article(article, chunk_size=128, chunk_overlap=16)
    assert chunks
    for chunk in chunks:
        assert chunk.text == article.text[chunk.start : chunk.end]
        assert chunk.article_id == article.article_id
        assert chunk.content_hash == article.content_hash
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    words = {i for i, ch in enumerate(article.text) if not ch.isspace()}
    assert words <= covered  # no word of the article is left out of every chunk
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_chunk_ids_are_deterministic_and_name_the_version() -> None:
    article = read_article(SEEDS / "mehr-news-donbas-recognition-2022.md")
    first = chunk_article(article, 128, 16)
    again = chunk_article(article, 128, 16)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)
    assert all(
        c.chunk_id.startswith(f"{article.article_id}:{article.content_hash[:12]}:") for c in first
    )


def test_chunks_end_on_sentence_boundaries() -> None:
    article = read_article(SEEDS / "mehr-news-donbas-recognition-2022.md")
    chunks = chunk_article(article, 128, 16)
    for chunk in chunks[:-1]:
        assert chunk.text.rstrip()[-1] in ".!?”\"'’)", chunk.text[-60:]


def test_other_languages_are_chunked_in_the_embedders_tokens(real_embedder: Embedder) -> None:
    count = real_embedder.count_tokens
    assert count is not None
    persian = read_article(SEEDS / "takht-e-jamshid-persepolis.md")
    chunks = chunk_article(persian, 128, 16, count)
    sizes = [count(chunk.text) for chunk in chunks]
    assert all(size <= 128 for size in sizes)
    assert max(sizes) > 100  # cl100k's count left every Persian chunk under 50 of these
    assert len(chunks) < len(chunk_article(persian, 128, 16))
    english = read_article(SEEDS / "apollo-11-moon-landing.html")
    assert chunk_article(english, 128, 16, count) == chunk_article(english, 128, 16)


words = st.text(alphabet=st.sampled_from(list("abcdefghij")), min_size=1, max_size=12)
sentences = st.lists(words, min_size=1, max_size=25).map(lambda ws: " ".join(ws).capitalize() + ".")
separators = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", " \n "])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(sentences, separators), min_size=1, max_size=60))
def test_offsets_round_trip_on_any_spacing(parts: list[tuple[str, str]]) -> None:
    raw = "".join(sentence + sep for sentence, sep in parts)
    article = make_article("/generated.txt", raw)
    for chunk in chunk_article(article, chunk_size=40, chunk_overlap=8):
        assert chunk.text == article.text[chunk.start : chunk.end]
        assert chunk.text.strip()


def test_sentence_spans_split_lines_and_sentences() -> None:
    text = "Heading without stop\nFirst sentence here. Second one!\n\nThird?"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "Heading without stop",
        "First sentence here.",
        "Second one!",
        "Third?",
    ]
    start = text.index("Second")
    assert [text[s:e] for s, e in sentence_spans(text, start, len(text))] == [
        "Second one!",
        "Third?",
    ]


GREEK = (
    "Η Ελληνική Δημοκρατία είναι κράτος της νοτιοανατολικής Ευρώπης, στο νότιο άκρο της "
    "Βαλκανικής χερσονήσου, με πρωτεύουσα την Αθήνα και πληθυσμό περίπου δέκα εκατομμυρίων "
    "κατοίκων σύμφωνα με την απογραφή του 2021. "
)


def test_a_sentence_a_chunk_cuts_is_quoted_whole() -> None:
    # an English tokenizer spends a token on every few Greek letters: a 128-token chunk cuts
    # Greek sentences that an English one of the same length would hold whole
    article = make_article("/greek.txt", GREEK * 6)
    text = article.text
    whole = sentence_spans(text, language="el")
    chunks = chunk_article(article, chunk_size=40, chunk_overlap=8)
    assert any(start < chunk.start < end for chunk in chunks for start, end in whole)
    for chunk in chunks:
        spans = chunk_sentences(text, chunk.start, chunk.end, "el")
        assert spans
        assert set(spans) <= set(whole)
        assert all(start < chunk.end and chunk.start < end for start, end in spans)

    for chunk in chunks:  # a passage shown or read opens and closes with a whole sentence
        start, end = widened(text, chunk.start, chunk.end, "el")
        assert start in {a for a, _ in whole}
        assert end in {b for _, b in whole}
        assert start <= chunk.start + len(chunk.text) - len(chunk.text.lstrip())
        assert end >= chunk.end - len(chunk.text) + len(chunk.text.rstrip())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(sentences, separators), min_size=1, max_size=60), st.data())
def test_chunk_sentences_are_whole_or_as_far_as_the_chunk_holds_them(
    parts: list[tuple[str, str]], data: st.DataObject
) -> None:
    text = "".join(sentence + sep for sentence, sep in parts)
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    whole = sentence_spans(text)
    for first, last in chunk_sentences(text, start, end):
        assert text[first:last] == text[first:last].strip() != ""
        assert first < end
        assert start < last
        if (first, last) not in whole:  # cut by the chunk: only a sentence too long to quote
            assert start <= first < last <= end
            assert any(a <= first < last <= b and b - a > LONGEST_WHOLE_SENTENCE for a, b in whole)
    held = [(a, b) for a, b in whole if a < end and start < b and b - a <= LONGEST_WHOLE_SENTENCE]
    assert set(held) <= set(chunk_sentences(text, start, end))


def test_a_sentence_too_long_to_quote_whole_is_taken_as_far_as_the_chunk_holds_it() -> None:
    text = "Opening line.\n" + "word " * 400 + "end.\nClosing line."
    start = text.index("word") + 1000
    spans = chunk_sentences(text, start, start + 200)
    assert len(spans) == 1
    first, last = spans[0]
    assert start <= first < last <= start + 200
    assert text[first:last] == text[first:last].strip()
