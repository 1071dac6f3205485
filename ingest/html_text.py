"""Clean article text and metadata out of an HTML page, with the standard library's parser."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_SKIPPED = {
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "svg",
    "template", "iframe", "button", "select", "textarea", "head",
}  # fmt: skip
_BLOCKS = {
    "p", "div", "section", "article", "main", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5",
    "h6", "blockquote", "pre", "table", "tr", "figure", "figcaption", "dl", "dt", "dd", "hr",
}  # fmt: skip
_VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "source", "area", "base", "col"}
_DATE_META = {
    "article:published_time",
    "datepublished",
    "date",
    "pubdate",
    "dc.date",
    "dcterms.date",
}


@dataclass
class HtmlArticle:
    title: str
    text: str
    published: str


@dataclass
class _State:
    parts: list[str] = field(default_factory=list)
    main_parts: list[str] = field(default_factory=list)
    title: str = ""
    og_title: str = ""
    h1: str = ""
    published: str = ""


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.state = _State()
        self._skip_depth = 0
        self._main_depth = 0
        self._pre_depth = 0
        self._in_title = False
        self._h1_parts: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key.lower(): (value or "") for key, value in attrs}
        if tag == "meta":
            self._meta(attributes)
        elif tag == "time" and not self.state.published:
            self.state.published = attributes.get("datetime", "")
        if tag in _VOID:
            if tag == "br":
                self._emit("\n")
            return
        if tag == "title":
            self._in_title = True
        if tag in _SKIPPED or self._skip_depth:
            self._skip_depth += 1
            return
        if tag in {"article", "main"}:
            self._main_depth += 1
        if tag == "pre":
            self._pre_depth += 1
        if tag == "h1" and not self.state.h1:
            self._h1_parts = []
        if tag in _BLOCKS:
            self._emit("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _VOID:
            return
        if self._skip_depth:
            self._skip_depth -= 1
            return
        if tag in _BLOCKS:
            self._emit("\n\n")
        if tag in {"article", "main"} and self._main_depth:
            self._main_depth -= 1
        if tag == "pre" and self._pre_depth:
            self._pre_depth -= 1
        if tag == "h1" and self._h1_parts is not None:
            self.state.h1 = _squash(" ".join(self._h1_parts))
            self._h1_parts = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.state.title += data
            return
        if self._skip_depth:
            return
        if self._h1_parts is not None:
            self._h1_parts.append(data)
        self._emit(data if self._pre_depth else re.sub(r"\s+", " ", data))

    def _emit(self, text: str) -> None:
        self.state.parts.append(text)
        if self._main_depth:
            self.state.main_parts.append(text)

    def _meta(self, attributes: dict[str, str]) -> None:
        key = (
            attributes.get("property") or attributes.get("name") or attributes.get("itemprop") or ""
        ).lower()
        content = attributes.get("content", "")
        if key == "og:title" and not self.state.og_title:
            self.state.og_title = content
        elif key in _DATE_META and not self.state.published:
            self.state.published = content


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _join_blocks(parts: list[str]) -> str:
    text = "".join(parts)
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def extract_html(markup: str) -> HtmlArticle:
    """Title, body text (the ``<article>``/``<main>`` element when there is one) and date."""
    parser = _Extractor()
    parser.feed(markup)
    parser.close()
    state = parser.state
    main = _join_blocks(state.main_parts)
    text = main if main else _join_blocks(state.parts)
    title = _squash(state.og_title) or state.h1 or _squash(state.title)
    return HtmlArticle(title=title, text=text, published=state.published)
