"""Article text and metadata out of an HTML page: one extraction for files and fetched pages.

trafilatura parses the page into a tree (lxml, as HTML5 parsers do: an unclosed ``<li>`` or
``<p>`` ends where the page's structure says, never swallowing what follows), keeps the article
body and leaves menus, cookie banners, sidebars, forms and comments out. Its metadata gives the
title, date, author, site name and the page's canonical URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import trafilatura


@dataclass(frozen=True)
class HtmlArticle:
    title: str
    text: str  # paragraphs separated by blank lines; "" when the page has no article text
    published: str = ""
    author: str = ""
    site: str = ""
    canonical: str = ""  # the page's declared canonical http(s) URL, if any


def extract_html(markup: str, url: str | None = None) -> HtmlArticle:
    """The article of an HTML page (``url``: where it was fetched from, if it was)."""
    extracted = trafilatura.bare_extraction(
        markup, url=url, with_metadata=True, include_comments=False, favor_precision=True
    )
    found: dict[str, Any] = {}
    if extracted is not None:
        found = extracted if isinstance(extracted, dict) else extracted.as_dict()
    canonical = str(found.get("url") or "")
    return HtmlArticle(
        title=str(found.get("title") or ""),
        text=re.sub(r"\n+", "\n\n", str(found.get("text") or "")).strip(),
        published=str(found.get("date") or ""),
        author=str(found.get("author") or ""),
        site=str(found.get("sitename") or ""),
        canonical=canonical if canonical.startswith(("http://", "https://")) else "",
    )
