"""Article text and metadata out of an HTML page: one extraction for files and fetched pages.

trafilatura parses the page into a tree (lxml, as HTML5 parsers do: an unclosed ``<li>`` or
``<p>`` ends where the page's structure says, never swallowing what follows), keeps the article
body and leaves menus, cookie banners, sidebars, forms and comments out. Its metadata gives the
title, date, author, site name and the page's canonical URL. The tree is parsed with lxml's
``huge_tree`` (libxml2 otherwise drops what is nested deeper than 256 elements); a page nested
deeper still (past libxml2's hard limit) is read as the plain text of its elements, in order.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import lxml.etree
import lxml.html
import trafilatura

log = logging.getLogger(__name__)

# How deep libxml2 nests elements with ``huge_tree`` (past it, content is dropped).
LIBXML_DEPTH = 2048
# Elements whose content a reader never sees as text.
_UNSEEN = frozenset(("script", "style", "template", "noscript", "head", "svg", "math"))
_VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"))  # fmt: skip


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
    found: dict[str, Any] = {}
    try:
        tree = lxml.html.document_fromstring(markup, parser=lxml.html.HTMLParser(huge_tree=True))
    except (lxml.etree.ParserError, ValueError):  # no element at all, or an unparsable page
        tree = None
    if tree is not None:
        extracted = trafilatura.bare_extraction(
            tree, url=url, with_metadata=True, include_comments=False, favor_precision=True
        )
        if extracted is not None:
            found = extracted if isinstance(extracted, dict) else extracted.as_dict()
    text = str(found.get("text") or "")
    if not text.strip():
        deep = _TextCollector.read(markup)
        if deep.deepest > LIBXML_DEPTH:
            log.warning(
                "%s nests elements %d deep, past what an HTML parser keeps: "
                "read as all of its text",
                url or "the page",
                deep.deepest,
            )
            found["title"] = found.get("title") or " ".join(deep.title)
            text = "\n".join(deep.runs)
    canonical = str(found.get("url") or "")
    return HtmlArticle(
        title=str(found.get("title") or ""),
        text=re.sub(r"\n+", "\n\n", text).strip(),
        published=str(found.get("date") or ""),
        author=str(found.get("author") or ""),
        site=str(found.get("sitename") or ""),
        canonical=canonical if canonical.startswith(("http://", "https://")) else "",
    )


class _TextCollector(HTMLParser):
    """A page's title and every run of visible text, in order, and how deep its elements nest
    (a stream, with no tree: so no depth limit)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.runs: list[str] = []
        self.title: list[str] = []
        self.deepest = 0
        self._open: list[str] = []
        self._unseen = 0

    @classmethod
    def read(cls, markup: str) -> _TextCollector:
        collector = cls()
        collector.feed(markup)
        collector.close()
        return collector

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        self._open.append(tag)
        self.deepest = max(self.deepest, len(self._open))
        self._unseen += tag in _UNSEEN

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:  # close it and whatever was left open inside it
            while self._open:
                closed = self._open.pop()
                self._unseen -= closed in _UNSEEN
                if closed == tag:
                    break

    def handle_data(self, data: str) -> None:
        words = " ".join(data.split())
        if words and self._open and self._open[-1] == "title":
            self.title.append(words)
        elif words and not self._unseen:
            self.runs.append(words)
