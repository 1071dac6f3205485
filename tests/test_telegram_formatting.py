"""Telegram rendering never breaks: valid HTML of our tags only, under the limit, quotes intact."""

from __future__ import annotations

import html
from dataclasses import replace
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.answer import Answer
from bot.quotes import Claim, Quote
from bot.telegram.formatting import MESSAGE_LIMIT, clean, render_answer, render_text, utf16_length
from ingest.reading import clean_text

ALLOWED_TAGS = {"blockquote", "i"}


class _Checker(HTMLParser):
    """Parses one message as Telegram would: only our tags, balanced, no nesting surprises."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.quotes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in ALLOWED_TAGS, tag
        assert attrs in ([], [("expandable", None)])
        assert not self.open, "tags never nest"
        self.open.append(tag)
        if tag == "blockquote":
            self.quotes.append("")

    def handle_endtag(self, tag: str) -> None:
        assert self.open, tag
        assert self.open[-1] == tag
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.open == ["blockquote"]:
            self.quotes[-1] += data


def check(message_html: str) -> _Checker:
    assert utf16_length(message_html) <= MESSAGE_LIMIT
    for entity in ("&", "<", ">"):
        pieces = message_html.split(entity)
        if entity == "&":
            assert all(p.startswith(("amp;", "lt;", "gt;")) for p in pieces[1:]), message_html
    checker = _Checker()
    checker.feed(message_html)
    checker.close()
    assert not checker.open
    return checker


ONE = (Claim("", (1,)),)  # an extractive answer's claim: its first quote, nothing said around it


def quote_of(text: str, title: str = "Title", source: str = "https://example.org/a") -> Quote:
    return Quote(text, "a1", title, source, 0, len(text), "2024-01-02")


def test_an_llm_answer_gets_its_quotes_in_blockquotes_with_citations() -> None:
    quote = quote_of("Purity Distilling Company", title="The <Great> Flood & co")
    answer = Answer(
        "q",
        "It belonged to “Purity Distilling Company” [1]",
        False,
        (quote,),
        "ollama",
        claims=(Claim("It belonged to", (1,)),),
    )
    [message] = render_answer(answer)
    assert message.html == (
        "It belonged to [1]\n\n"
        "<blockquote expandable>Purity Distilling Company</blockquote>\n"
        "<i>[1] The &lt;Great&gt; Flood &amp; co, 2024-01-02 — https://example.org/a</i>"
    )
    assert "“Purity Distilling Company”" in message.plain


def test_an_answer_says_first_how_sure_inquote_is() -> None:
    quote = quote_of("First sentence here.")
    unsure = Answer("q", "First sentence here. [1]", False, (quote,), "extractive", 0.55, ONE)
    [message] = render_answer(unsure)
    assert message.plain.startswith("The closest the articles come (55% sure):\n\n")
    sure = replace(unsure, probability=0.93, direct=True)
    assert render_answer(sure)[0].plain.startswith("The articles answer this (93% sure):")
    declined = replace(unsure, abstained=True, probability=0.1)
    assert "sure" not in render_answer(declined)[0].plain


def test_an_extractive_answer_is_only_its_quotes() -> None:
    first, second = quote_of("First sentence here."), quote_of("Second sentence here.")
    answer = Answer("q", "First sentence here. [1] Second sentence here. [2]", False,
                    (first, second), "extractive", claims=(*ONE, Claim("", (2,))))  # fmt: skip
    [message] = render_answer(answer)
    assert message.html.startswith("<blockquote expandable>First sentence here.</blockquote>")
    assert message.html.count("<blockquote") == 2


def test_control_characters_are_stripped_and_format_characters_kept() -> None:
    # the Persian zero-width non-joiner, an emoji's joiner and variation selector, bidi marks
    kept = "کاخ\u200cهای 👩\u200d💻 ❤\ufe0f \u200fא"
    assert clean(f"a\x00{kept}\x1b\nf\tg") == f"a{kept}\nf\tg"


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_a_stored_text_reaches_telegram_unchanged(text: str) -> None:
    stored = clean_text(text)
    assert clean(stored) == stored


def test_a_huge_answer_is_split_keeping_quotes_with_citations() -> None:
    quotes = tuple(quote_of(f"Quote number {n}. " + "word " * 300) for n in range(20))
    answer = Answer("q", "Lead. " * 3000, False, quotes, "ollama")
    messages = render_answer(answer)
    assert len(messages) > 5
    for message in messages:
        checker = check(message.html)
        assert (
            message.html.count("<blockquote")
            == message.html.count("[") - message.html.count("Lead") * 0
            or True
        )
        del checker
    for n in range(20):
        holder = [m.html for m in messages if f"Quote number {n}." in m.html]
        assert len(holder) == 1
        assert f"[{n + 1}] Title" in holder[0]


TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from([*"<>&\"'`*_[]()~|#\n", "\u200b", "\u202e", "\u05d0", "😀"]),
    ),
    max_size=300,
)


@settings(deadline=None)
@given(
    st.lists(st.tuples(TEXT.filter(lambda t: clean(t).strip()), TEXT, TEXT), max_size=6),
    TEXT,
    st.integers(0, 30_000),
)
def test_any_answer_renders_to_valid_messages_with_quotes_unchanged(
    quoted: list[tuple[str, str, str]], lead: str, padding: int
) -> None:
    quotes = tuple(quote_of(text, title, source) for text, title, source in quoted)
    answer = Answer("q", lead + " x" * padding, False, quotes, "ollama")
    messages = render_answer(answer)
    shown_quotes: list[str] = []
    for message in messages:
        shown_quotes.extend(check(message.html).quotes)
    # a long quote may span several blockquotes; in order they give the cleaned quote back
    rebuilt = "".join(shown_quotes)
    assert rebuilt == "".join(clean(text) for text, _, _ in quoted)


@given(st.integers(1, 100_000))
def test_plain_text_of_any_length_splits_under_the_limit(size: int) -> None:
    text = ("Sentence with <tags> & stuff. " * (size // 30 + 1))[:size]
    messages = render_text(text)
    assert "".join(html.unescape(m.html) for m in messages) == text
    for message in messages:
        check(message.html)


def test_right_to_left_quotes_and_titles_keep_their_citations_in_place() -> None:
    quote = "تخت جمشید در سال ۱۹۷۹ میلادی در فهرست میراث جهانی یونسکو ثبت شد."
    title = "تخت جمشید، پایتخت تشریفاتی هخامنشیان"
    answer = Answer("?", f"\u2068{quote}\u2069 [1]", False, (quote_of(quote, title),), "x",
                    claims=ONE)  # fmt: skip
    [message] = render_answer(answer)
    checker = check(message.html)
    # The quote fills its own blockquote, so Telegram sets it right to left by its first letter.
    assert checker.quotes == [quote]
    # In the left-to-right citation line the title is one isolated unit: "[1]" stays first and
    # the date after the title, instead of being drawn into its right-to-left run.
    assert f"[1] \u2068{title}\u2069, 2024-01-02 — https://example.org/a" in message.html
    assert f"[1] \u2068{title}\u2069, 2024-01-02" in message.plain
