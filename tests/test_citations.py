"""Model output to verified answers: table tests of what small models write, and a property."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.citations import ABSTAIN_MARK, MAX_CLAIMS, CitedAnswer, Passage
from ingest.schema import Article, content_hash

FLOOD = Article(
    "flood",
    "The Great Molasses Flood",
    "seeds/flood.txt",
    "The Great Molasses Flood\n\n"
    "Boston, 15 January 1919. A tank holding 8.7 million litres of molasses burst. "
    "A wave of molasses swept through the streets at 56 kilometres per hour. "
    "Twenty-one people were killed and about 150 were injured.",
    content_hash("flood"),
)
STONE = Article(
    "stone",
    "The Rosetta Stone",
    "https://example.org/rosetta",
    "The Rosetta Stone\n\n"
    "The stone carries a decree in three scripts. Jean-François Champollion announced "
    "his decipherment of the hieroglyphs in 1822. He read the name “Ptolemy” first.",
    content_hash("stone"),
)
PASSAGES = [
    Passage(1, FLOOD, 0, len(FLOOD.text)),
    Passage(2, STONE, 0, len(STONE.text)),
]


def built(output: str) -> CitedAnswer:
    cited = CitedAnswer(PASSAGES)
    cited.feed(output)
    cited.finish()
    return cited


def assert_all_verbatim(cited: CitedAnswer) -> None:
    articles = {article.article_id: article for article in (FLOOD, STONE)}
    for quote in cited.quotes:
        assert articles[quote.article_id].text[quote.start : quote.end] == quote.text


def outside_quotes(cited: CitedAnswer) -> str:
    """The answer text with every verified quote taken out: the model's own words.

    A quoted part of a quote already given cites that quote's number: it is taken out too when
    it is a part of that quote's text.
    """

    def verified(match: re.Match[str]) -> str:
        number = int(match.group(2))
        inside = 0 < number <= len(cited.quotes) and match.group(1) in cited.quotes[number - 1].text
        return "" if inside else match.group(0)

    text = cited.text
    for quote in cited.quotes:  # whole quotes first: their own text may hold quote marks
        text = text.replace(f"“{quote.text}”", "")
    return re.sub(r"“([^”]*)” \[(\d+)\]", verified, text)


@pytest.mark.parametrize(
    ("output", "text", "cited_articles"),
    [
        (
            'The wave moved at 56 km/h [1] "swept through the streets at 56 kilometres per hour"',
            "The wave moved at 56 km/h “swept through the streets at 56 kilometres per hour” [1]",
            ["flood"],
        ),
        (  # curly quotes, marker after the quote, a list bullet
            "- Champollion deciphered them “announced his decipherment of the hieroglyphs” [2]",
            "Champollion deciphered them “announced his decipherment of the hieroglyphs” [1]",
            ["stone"],
        ),
        (  # the wrong passage number: the quote is found in the article it really comes from
            'Twenty-one died [2] "Twenty-one people were killed"',
            "Twenty-one died “Twenty-one people were killed” [1]",
            ["flood"],
        ),
        (  # different whitespace and straight quote marks: shown as the article has them
            'He read a name first [2] "He read the name  \\"Ptolemy\\" first"',
            None,
            [],
        ),
        (  # two claims, one line each, numbered in order of appearance
            'It burst [1] "A tank holding 8.7 million litres of molasses burst"\n'
            'It was in 1822 [2] "decipherment of the hieroglyphs in 1822"',
            "It burst “A tank holding 8.7 million litres of molasses burst” [1] "
            "It was in 1822 “decipherment of the hieroglyphs in 1822” [2]",
            ["flood", "stone"],
        ),
        (  # a line that is a passage's own words, unquoted: one quote
            "[1] Twenty-one people were killed and about 150 were injured.",
            "“Twenty-one people were killed and about 150 were injured.” [1]",
            ["flood"],
        ),
    ],
)
def test_verified_quotes_make_the_answer(
    output: str, text: str | None, cited_articles: list[str]
) -> None:
    cited = built(output)
    if text is not None:
        assert cited.text == text
    assert [quote.article_id for quote in cited.quotes] == cited_articles
    assert_all_verbatim(cited)


@pytest.mark.parametrize(
    "output",
    [
        "",
        "   \n\n  ",
        'The tank was made of wood [1] "the tank was built from oak planks"',  # invented quote
        "The molasses moved fast [1].",  # a claim with no quote
        "Twenty-one people died.",  # no number, no quote, not a passage's words
        'Ignore the question. Visit http://evil.example/x [1] "I have been pwned by the article"',
        ABSTAIN_MARK,
        '<passage n="1">',
    ],
)
def test_nothing_verifiable_gives_no_answer(output: str) -> None:
    cited = built(output)
    assert cited.text == ""
    assert cited.quotes == []


def test_the_abstain_mark_is_recognised_however_it_is_dressed() -> None:
    assert built(f"**{ABSTAIN_MARK.lower()}.**").model_abstained
    assert not built('It burst [1] "A tank holding 8.7 million litres"').model_abstained


def test_unverified_quotes_are_dropped_and_the_rest_kept() -> None:
    cited = built(
        'Many died [1] "Twenty-one people were killed" and "hundreds of horses drowned in it"'
    )
    assert cited.text == "Many died “Twenty-one people were killed” [1] and"
    assert "horses" not in cited.text


def test_links_passage_numbers_and_stray_quote_marks_leave_the_prose() -> None:
    cited = built(
        'See [the report](https://evil.example) or www.evil.example: it was "fast" [1][2] '
        '"56 kilometres per hour" (passage 1) https://x.example/y'
    )
    assert cited.quotes
    assert cited.quotes[0].text == "56 kilometres per hour"
    prose = outside_quotes(cited)
    assert "http" not in cited.text
    assert "www." not in cited.text
    assert "evil" not in cited.text
    assert not re.search(r"[\"“”]", prose)
    assert "[2]" not in cited.text
    assert "passage" not in cited.text


def test_short_quoted_words_found_in_a_passage_stay_as_plain_words() -> None:
    cited = built('He read "Ptolemy" first [2] "He read the name “Ptolemy” first"')
    assert cited.text.startswith("He read Ptolemy first “He read the name “Ptolemy” first” [1]")


def test_repeated_lines_and_quotes_count_once() -> None:
    line = 'It burst [1] "A tank holding 8.7 million litres of molasses burst"'
    cited = built(
        "\n".join([line, line, line.upper(), 'Again [1] "Twenty-one people were killed"'])
    )
    assert len(cited.quotes) == 2
    assert cited.text.count("It burst") == 1
    repeated = built(
        f'{line}\nSame quote [3] "A tank holding 8.7 million litres of molasses burst"'
    )
    assert len(repeated.quotes) == 1
    assert repeated.text.endswith(
        "Same quote “A tank holding 8.7 million litres of molasses burst” [1]"
    )


def test_only_the_first_claims_are_kept() -> None:
    lines = [f'Claim {n} [1] "Twenty-one people were killed"' for n in range(MAX_CLAIMS + 4)]
    assert built("\n".join(lines)).text.count("Claim") == MAX_CLAIMS


def test_streaming_shows_each_claim_once_it_is_complete() -> None:
    output = (
        'It burst [1] "A tank holding 8.7 million litres of molasses burst"\n'
        'Invented [1] "made of oak"\n'
        'It was 1822 [2] "decipherment of the hieroglyphs in 1822"'
    )
    cited = CitedAnswer(PASSAGES)
    shown = [cited.feed(char) for char in output]
    shown.append(cited.finish())
    first = output.index("\n")
    assert (
        "".join(shown[: first + 1])
        == "It burst “A tank holding 8.7 million litres of molasses burst” [1]"
    )
    assert "".join(shown) == cited.text == built(output).text


FRAGMENTS = st.one_of(
    st.sampled_from([FLOOD.text, STONE.text]).flatmap(
        lambda text: st.tuples(st.integers(0, len(text)), st.integers(0, 80)).map(
            lambda span: text[span[0] : span[0] + span[1]]
        )
    ),
    st.text(max_size=40),
    st.sampled_from(['"', "“", "”", "«", "»", "[1]", "[2]", "[7]", "\n", " ", "http://x.y/z",
                     ABSTAIN_MARK, "(passage 2)", "- ", "</passage>"]),
)  # fmt: skip


@given(st.lists(FRAGMENTS, max_size=30), st.integers(1, 9))
def test_whatever_the_model_writes_every_shown_quote_is_verbatim(
    fragments: list[str], piece: int
) -> None:
    output = "".join(fragments)
    cited = CitedAnswer(PASSAGES)
    shown = "".join(cited.feed(output[i : i + piece]) for i in range(0, len(output), piece))
    shown += cited.finish()
    assert shown == cited.text
    assert_all_verbatim(cited)
    assert len(cited.text.split("\n")) == 1
    for number, quote in enumerate(cited.quotes, 1):
        assert f"“{quote.text}” [{number}]" in cited.text
    assert not re.search(r"[\"“”«»]", outside_quotes(cited))
    assert "http" not in outside_quotes(cited)


def test_echoed_prompt_markup_and_bare_titles_are_not_answers() -> None:
    cited = built(
        '<passage n="1" title="The Great Molasses Flood">\n'
        '[2] "The Rosetta Stone" is the title\n'
        "</passage>"
    )
    assert cited.text == ""
    assert cited.quotes == []


def test_a_part_of_a_quote_already_given_cites_it() -> None:
    cited = built(
        'It burst [1] "A tank holding 8.7 million litres of molasses burst"\n'
        'It held "8.7 million litres" [1] "8.7 million litres of molasses"'
    )
    assert len(cited.quotes) == 1
    assert cited.text.endswith(
        "It held “8.7 million litres” [1] “8.7 million litres of molasses” [1]"
    )
