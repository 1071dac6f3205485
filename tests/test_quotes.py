"""Quote verification: the part of inquote that must never be wrong."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.quotes import (
    MIN_QUOTE_CHARS,
    Quote,
    is_verbatim,
    locate_quote,
    normalize,
    quote_from_article,
)
from ingest.schema import Article, article_id_for, content_hash

TEXT = (
    "Putin said Moscow was sending troops “to keep the peace”.\n\n"
    "Lavrov says  ‘our colleagues will not stop’ and calls it predictable.\n"
    "The café in Zürich closed in 2014. The café in Zürich closed in 2014."
)


def article(text: str = TEXT) -> Article:
    source = "/articles/test.txt"
    return Article(article_id_for(source), "Test", source, text, content_hash(text))


@pytest.mark.parametrize(
    ("claimed", "expected"),
    [
        # exact
        ("Putin said Moscow was sending troops", "Putin said Moscow was sending troops"),
        # straight quotes for curly ones
        ('troops "to keep the peace".', "troops “to keep the peace”."),
        ("says 'our colleagues will not stop'", "says  ‘our colleagues will not stop’"),
        # whitespace differs: newlines, runs, tabs, padding
        ("peace”. Lavrov says", "peace”.\n\nLavrov says"),
        ("  Lavrov\tsays ‘our   colleagues  ", "Lavrov says  ‘our colleagues"),
        # decomposed accents (NFD) match the stored NFC text
        ("The cafe\u0301 in Zu\u0308rich closed", "The café in Zürich closed"),
        # full-width letters fold under NFKC
        ("Ｐｕｔｉｎ said Moscow", "Putin said Moscow"),
    ],
)
def test_locate_quote_finds_the_verbatim_span(claimed: str, expected: str) -> None:
    span = locate_quote(TEXT, claimed)
    assert span is not None
    start, end = span
    assert TEXT[start:end] == expected


@pytest.mark.parametrize(
    "claimed",
    [
        "Putin said Moscow was sending tanks",  # one word changed
        "Putin  said  Moscow  was  sending  troops  to keep the peace",  # quote marks dropped
        "putin said moscow was sending troops",  # case differs
        "short",  # under the minimum length
        "",
        "   \n\t ",
        "the peace”.Lavrov says",  # whitespace removed where the text has some
    ],
)
def test_locate_quote_refuses_what_is_not_there(claimed: str) -> None:
    assert locate_quote(TEXT, claimed) is None


def test_locate_quote_picks_the_occurrence_nearest_the_hint() -> None:
    first = TEXT.index("The café in Zürich closed in 2014.")
    second = TEXT.index("The café in Zürich closed in 2014.", first + 1)
    assert locate_quote(TEXT, "The café in Zürich closed in 2014.", near=0) == (first, first + 34)
    assert locate_quote(TEXT, "The café in Zürich closed in 2014.", near=len(TEXT)) == (
        second,
        second + 34,
    )


def test_minimum_length_counts_normalised_characters() -> None:
    exact = TEXT[:MIN_QUOTE_CHARS]
    assert locate_quote(TEXT, exact) == (0, MIN_QUOTE_CHARS)
    assert locate_quote(TEXT, exact[:-1]) is None


def test_normalize_maps_every_character_back() -> None:
    normal, origins = normalize("  a\u00a0 “b”\n\nc\u200bd ")
    assert normal == 'a "b" cd'
    assert len(origins) == len(normal)
    assert origins == sorted(origins)


def test_quote_from_article_carries_the_article() -> None:
    stored = article()
    quote = quote_from_article(stored, "Lavrov says 'our colleagues will not stop'")
    assert quote is not None
    assert quote.text == stored.text[quote.start : quote.end]
    assert quote.article_id == stored.article_id
    assert is_verbatim(quote, stored)
    assert quote_from_article(stored, "Lavrov says our friends will stop") is None


@pytest.mark.parametrize(
    "change",
    [
        {"text": "Putin said Moscow was sending tanks"},
        {"start": 1},
        {"end": 10_000},
        {"start": 20, "end": 10},
        {"article_id": "another-article"},
    ],
)
def test_is_verbatim_rejects_any_tampering(change: dict[str, object]) -> None:
    stored = article()
    quote = quote_from_article(stored, "Putin said Moscow was sending troops")
    assert quote is not None
    fields = {**quote.__dict__, **change}
    assert not is_verbatim(Quote(**fields), stored)


# -- properties ---------------------------------------------------------------------------


def stored(raw: str) -> str:
    """Text as ingest stores it: NFC (ingest.reading.clean_text); accents follow letters."""
    return unicodedata.normalize("NFC", re.sub(r"(^|[\W_])\u0301+", r"\1", raw))


texts = (
    st.text(alphabet=st.sampled_from(list("abcdef XYZ.,\n\t“”‘’\"'é\u0301\u00a0ﬁ-")), max_size=300)
    .map(stored)
    .filter(bool)
)
spacing = st.sampled_from([" ", "  ", "\n", "\t", "\u00a0"])


@given(texts, st.data())
def test_any_found_span_is_the_claim_after_normalising(text: str, data: st.DataObject) -> None:
    """Whatever is claimed, a returned span holds exactly the claim, normalised."""
    claimed = data.draw(st.text(alphabet=st.sampled_from(list('abc XY.“"\n')), max_size=40))
    span = locate_quote(text, claimed, min_chars=1)
    if span is None:
        return
    start, end = span
    assert 0 <= start < end <= len(text)
    assert normalize(text[start:end])[0] == normalize(claimed)[0]


@given(texts, st.data())
def test_a_slice_of_the_text_is_always_found(text: str, data: st.DataObject) -> None:
    """Any slice, re-spaced and with quote marks straightened, is found again."""
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    assume(not unicodedata.combining(text[start]))
    assume(end == len(text) or not unicodedata.combining(text[end]))
    original = text[start:end]
    words = original.split()
    assume(words)
    respaced = data.draw(spacing).join(words)
    claimed = respaced.translate(str.maketrans("“”‘’", "\"\"''"))
    span = locate_quote(text, claimed, near=start, min_chars=1)
    assert span is not None
    found = text[span[0] : span[1]]
    assert normalize(found)[0] == normalize(claimed)[0]
