"""Boilerplate in an article's clean text: licence and copyright lines, bylines, photo credits,
"read more" links and newsletter plugs. Found at ingest and kept with the article
(``Article.boilerplate``), so no answer of any kind leads with them.

HTML extraction (trafilatura) already drops a page's navigation and footer; these are the lines
an outlet writes inside the article body, and the lines of articles that come as text or
Markdown. A line is boilerplate when it is short and says one of these things; the patterns cover
the languages inquote's seeds and evaluation sets are in (en, fa, ar, ru, de, nb, zh).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# A longer line is the article's own text, whatever words it uses: a caption that names its
# photographer, a paragraph that ends in "(©NTB)".
MAX_WORDS = 25
CREDIT_MAX_WORDS = 12  # a credit is the photographer's and agency's names, no more

_PLUGS = [
    # licences and copyright
    r"\blicen[cs]ed under\b", r"\bcreative commons\b", r"\ball rights reserved\b", r"©",
    r"\bcopyright\b", r"\ball content by\b", r"\breproduction\b.*\b(prohibited|forbidden)\b",
    r"\bmay not be (re)?published\b", r"کلیه حقوق", r"تمامی حقوق", r"حقوق .*محفوظ",
    r"جميع الحقوق محفوظة", r"все права защищены", r"alle rechte vorbehalten",
    r"alle rettigheter", r"版权所有",
    # bylines
    r"^\W*(by|reporting by|written by|edited by|additional reporting by)\s+\S+(\s+\S+){0,4}\W*$",
    r"^\W*(reporter|editor|correspondent|خبرنگار|مراسل|автор|korrespondent)\s*[:\uff1a]",
    # read more, related, newsletters, sharing
    r"^\W*(read more|read also|see also|related( articles?| stories)?|more on this)\b",
    r"\b(subscribe|sign up)\b.*\b(newsletter|updates|channel)\b", r"^\W*follow us\b",
    r"^\W*share (this|on)\b", r"^\W*(بیشتر بخوانید|بخوانید|اقرأ أيضا|اقرأ المزيد)",
    r"^\W*(читайте также|lesen sie auch|les også|les mer)\b", r"^\W*(相关阅读|延伸阅读)",
]  # fmt: skip
_CREDITS = [
    r"^\W*(photo|image|picture|video|graphic|عکس|صورة|фото|foto|bild)s?(\s+credit)?\s*[:\uff1a|(]",
    r"\b(getty images|ap photo|afp via|reuters/|ntb scanpix)",
]  # fmt: skip
_PLUG = re.compile("|".join(f"(?:{pattern})" for pattern in _PLUGS), re.IGNORECASE)
_CREDIT = re.compile("|".join(f"(?:{pattern})" for pattern in _CREDITS), re.IGNORECASE)


def boilerplate_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of ``text``'s boilerplate lines."""
    return [(start, end) for start, end in _lines(text) if _is_boilerplate(text[start:end])]


def _lines(text: str) -> Iterator[tuple[int, int]]:
    for match in re.finditer(r"[^\n]+", text):
        stripped = match.group().strip()
        if stripped:
            start = match.start() + match.group().index(stripped)
            yield start, start + len(stripped)


def _is_boilerplate(line: str) -> bool:
    words = len(line.split())
    if words <= CREDIT_MAX_WORDS and _CREDIT.search(line):
        return True
    return words <= MAX_WORDS and bool(_PLUG.search(line))
