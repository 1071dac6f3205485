"""A model's JSON to verified answers: table tests of what small models write, and a property."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.citations import MAX_CLAIMS, CitedAnswer, Passage, answer_schema
from ingest.schema import Article, content_hash
from tests.conftest import NOT_ANSWERED_JSON, answer_json

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
    return re.sub(r"“(.*?)” \[(\d+)\]", verified, text, flags=re.DOTALL)


def claim(text: str, *quotes: tuple[int, str]) -> dict[str, object]:
    return {"text": text, "quotes": [{"passage": n, "quote": q} for n, q in quotes]}


def written(*claims: dict[str, object], answerable: bool = True) -> str:
    return json.dumps({"answerable": answerable, "claims": list(claims)}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("output", "text", "cited_articles"),
    [
        (
            answer_json(("The wave moved at 56 km/h", 1,
                         "swept through the streets at 56 kilometres per hour")),
            "The wave moved at 56 km/h\n"
            "    “swept through the streets at 56 kilometres per hour” [1]",
            ["flood"],
        ),
        (  # the wrong passage number: the quote is found in the article it really comes from
            answer_json(("Twenty-one died", 2, "Twenty-one people were killed")),
            "Twenty-one died\n    “Twenty-one people were killed” [1]",
            ["flood"],
        ),
        (  # different whitespace and straight quote marks: shown as the article has them
            answer_json(("He read a name first", 2, 'He read the name  "Ptolemy" first')),
            "He read a name first\n    “He read the name “Ptolemy” first” [1]",
            ["stone"],
        ),
        (  # two claims, numbered in order of appearance
            answer_json(("It burst", 1, "A tank holding 8.7 million litres of molasses burst"),
                        ("It was in 1822", 2, "decipherment of the hieroglyphs in 1822")),
            "It burst\n    “A tank holding 8.7 million litres of molasses burst” [1]\n"
            "It was in 1822\n    “decipherment of the hieroglyphs in 1822” [2]",
            ["flood", "stone"],
        ),
        (  # one claim, two quotes
            written(claim("Many died", (1, "Twenty-one people were killed"),
                          (1, "about 150 were injured"))),
            "Many died\n    “Twenty-one people were killed” [1]\n    “about 150 were injured” [2]",
            ["flood", "flood"],
        ),
        (  # two sentences run together: each found on its own
            answer_json(("It burst, and many died", 1,
                         "A tank holding 8.7 million litres of molasses burst. "
                         "Twenty-one people were killed and about 150 were injured.")),
            "It burst, and many died\n"
            "    “A tank holding 8.7 million litres of molasses burst.” [1]\n"
            "    “Twenty-one people were killed and about 150 were injured.” [2]",
            ["flood", "flood"],
        ),
    ],
)  # fmt: skip
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
        "The Purity Distilling Company owned it.",  # not JSON at all
        answer_json(("The tank was made of wood", 1, "the tank was built from oak planks")),
        written(claim("The molasses moved fast")),  # a claim with no quote
        answer_json(("Visit http://evil.example/x", 1, "I have been pwned by the article")),
        NOT_ANSWERED_JSON,
        answer_json(("Short", 1, "Boston")),  # too short to tell where it is from
        answer_json(("The title", 2, "The Rosetta Stone")),  # a bare title says nothing
        '{"answerable": true, "claims": [{"text": "It burst", "quotes": [{"passage": 1, "quo',
    ],
)
def test_nothing_verifiable_gives_no_answer(output: str) -> None:
    cited = built(output)
    assert cited.text == ""
    assert cited.quotes == []


def test_the_model_saying_the_passages_do_not_answer_is_an_abstention() -> None:
    assert built(NOT_ANSWERED_JSON).model_abstained
    quoted_anyway = written(claim("It burst", (1, "A tank holding 8.7 million")), answerable=False)
    assert built(quoted_anyway).model_abstained
    assert built(quoted_anyway).quotes == []
    assert not built(answer_json(("It burst", 1, "A tank holding 8.7 million"))).model_abstained


def test_unverified_quotes_are_dropped_and_the_rest_kept() -> None:
    cited = built(
        written(claim("Many died", (1, "Twenty-one people were killed"),
                      (1, "hundreds of horses drowned in it")))
    )  # fmt: skip
    assert cited.text == "Many died\n    “Twenty-one people were killed” [1]"
    assert [claim.quotes for claim in cited.claims] == [(1,)]


def test_links_passage_numbers_and_stray_quote_marks_leave_the_prose() -> None:
    cited = built(
        answer_json(
            (
                'See [the report](https://evil.example) or www.evil.example: "fast" [1][2] '
                "(passage 1) https://x.example/y",
                1,
                "56 kilometres per hour",
            )
        )
    )
    assert cited.quotes[0].text == "56 kilometres per hour"
    prose = cited.claims[0].text
    assert "http" not in cited.text
    assert "www." not in cited.text
    assert "evil" not in cited.text
    assert not re.search(r"[\"“”]", prose)
    assert "[2]" not in cited.text
    assert "passage" not in cited.text


def test_repeated_claims_and_quotes_count_once() -> None:
    burst = ("It burst", 1, "A tank holding 8.7 million litres of molasses burst")
    cited = built(answer_json(burst, burst, ("Again", 1, "Twenty-one people were killed")))
    assert len(cited.quotes) == 2
    assert cited.text.count("It burst") == 1
    repeated = built(answer_json(burst, ("Same quote", 2, burst[2])))
    assert len(repeated.quotes) == 1
    assert repeated.text.endswith(
        "Same quote\n    “A tank holding 8.7 million litres of molasses burst” [1]"
    )


def test_only_the_first_claims_are_kept() -> None:
    claims = [(f"Claim {n}", 1, "Twenty-one people were killed") for n in range(MAX_CLAIMS + 4)]
    assert built(answer_json(*claims)).text.count("Claim") == MAX_CLAIMS


def test_streaming_shows_each_claim_once_the_next_begins_and_json_cut_short_keeps_them() -> None:
    output = answer_json(
        ("It burst", 1, "A tank holding 8.7 million litres of molasses burst"),
        ("Invented", 1, "made of oak planks by the city"),
        ("It was 1822", 2, "decipherment of the hieroglyphs in 1822"),
    )
    cited = CitedAnswer(PASSAGES)
    shown = [cited.feed(char) for char in output]
    shown.append(cited.finish())
    second = output.index('{"text": "Invented"')
    assert "".join(shown[:second]) == ""  # the first claim may still grow
    assert "".join(shown[: second + 1]) == (
        "It burst\n    “A tank holding 8.7 million litres of molasses burst” [1]"
    )
    assert "".join(shown) == cited.text == built(output).text
    cut = output[: output.index('{"text": "It was 1822"') + 40]
    assert (
        built(cut).text == "It burst\n    “A tank holding 8.7 million litres of molasses burst” [1]"
    )


def test_the_schema_fixes_passage_numbers_and_can_fix_quotes_to_sentences() -> None:
    free = answer_schema(PASSAGES)
    jsonschema.validate(json.loads(answer_json(("It burst", 2, "anything at all"))), free)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(answer_json(("It burst", 3, "anything"))), free)
    sentences = answer_schema(PASSAGES, ["Twenty-one people were killed."])
    jsonschema.validate(json.loads(answer_json(("x", 1, "Twenty-one people were killed."))),
                        sentences)  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(answer_json(("x", 1, "people were killed"))), sentences)


TEXTS = st.one_of(
    st.sampled_from([FLOOD.text, STONE.text]).flatmap(
        lambda text: st.tuples(st.integers(0, len(text)), st.integers(0, 80)).map(
            lambda span: text[span[0] : span[0] + span[1]]
        )
    ),
    st.text(max_size=40),
    st.sampled_from(['"', "“", "”", "«", "»", "[1]", "[2]", "[7]", "\n", " ", "http://x.y/z",
                     "http:[1]//x.y", "(passage 2)", "- ", "</passage>"]),
)  # fmt: skip
CLAIMS = st.builds(
    lambda text, quotes: {"text": text, "quotes": [{"passage": n, "quote": q} for n, q in quotes]},
    TEXTS,
    st.lists(st.tuples(st.integers(1, 2), TEXTS), min_size=1, max_size=3),
)


@given(st.lists(CLAIMS, max_size=8), st.booleans(), st.integers(1, 9), st.integers(0, 2000))
def test_whatever_the_model_writes_every_shown_quote_is_verbatim(
    claims: list[dict[str, object]], answerable: bool, piece: int, cut: int
) -> None:
    output = json.dumps({"answerable": answerable, "claims": claims}, ensure_ascii=False)
    output = output[: max(cut, len(output) // 2)]  # often cut short, as num_predict cuts
    cited = CitedAnswer(PASSAGES)
    shown = "".join(cited.feed(output[i : i + piece]) for i in range(0, len(output), piece))
    shown += cited.finish()
    assert shown == cited.text
    assert_all_verbatim(cited)
    assert all("\n" not in claim.text for claim in cited.claims)  # a claim's prose: one line
    for number, quote in enumerate(cited.quotes, 1):
        assert f"“{quote.text}” [{number}]" in cited.text
    assert not re.search(r"[\"“”«»]", outside_quotes(cited))
    assert not re.search(r"https?://|www\.", outside_quotes(cited), re.IGNORECASE)
    assert {n for c in cited.claims for n in c.quotes} == set(range(1, len(cited.quotes) + 1))


def test_a_part_of_a_quote_already_given_cites_it() -> None:
    cited = built(
        answer_json(
            ("It burst", 1, "A tank holding 8.7 million litres of molasses burst"),
            ("It held 8.7 million litres", 1, "8.7 million litres of molasses"),
        )
    )
    assert len(cited.quotes) == 1
    assert cited.text.endswith(
        "It held 8.7 million litres\n    “8.7 million litres of molasses” [1]"
    )
    assert [claim.quotes for claim in cited.claims] == [(1,), (1,)]
