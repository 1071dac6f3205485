"""Turn a file into an :class:`Article`: clean text, title, date, stable id, content hash.

PDFs give their text layer through pypdf; a PDF without one (a scan) is refused with the reason.
"""

from __future__ import annotations

import contextlib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pypdf
from pypdf.errors import PdfReadError

from config.errors import SourceError
from ingest.html_text import HtmlArticle, extract_html
from ingest.language import detect_language
from ingest.schema import Article, article_id_for, content_hash

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
# A PDF page with fewer characters of text than this, on average, has no real text layer.
MIN_PDF_CHARS_PER_PAGE = 40
MAX_FILE_BYTES = 20 * 1024 * 1024

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE_PATTERNS = (
    (re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b"), "iso"),
    (re.compile(rf"\b({_MONTHS})\s+(\d{{1,2}}),?\s+((?:19|20)\d\d)\b", re.IGNORECASE), "mdy"),
    (re.compile(rf"\b(\d{{1,2}})\s+({_MONTHS})\s+((?:19|20)\d\d)\b", re.IGNORECASE), "dmy"),
)


def find_articles(paths: Iterable[Path]) -> Iterator[Path]:
    """Files to ingest: the given files as they are, and supported files found under folders."""
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in found.relative_to(path).parts)
                if found.is_file() and found.suffix.lower() in SUPPORTED_SUFFIXES and not hidden:
                    yield found
        else:
            yield path


def read_article(path: Path, source: str | None = None) -> Article:
    """Read and clean one file. Raises :class:`SourceError` with the reason when it can't."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(SUPPORTED_SUFFIXES)
        raise SourceError(
            f"{path}: unsupported file type '{suffix or path.name}' (use {supported})"
        )
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SourceError(f"{path}: file is {size} bytes, over the {MAX_FILE_BYTES} byte limit")
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceError(f"{path}: no such file") from exc
    except OSError as exc:
        raise SourceError(f"{path}: cannot read it ({exc.strerror})") from exc
    if suffix == ".pdf":
        return article_from_pdf(raw, source or str(path.resolve()))
    if b"\x00" in raw:
        raise SourceError(f"{path}: looks binary, not {suffix} text")
    is_html = suffix in {".html", ".htm"}
    markup = _decode(path, raw, _declared_charset(raw) if is_html else None)
    source = source or str(path.resolve())
    if is_html:
        return article_from_page(extract_html(markup), source)
    if suffix in {".md", ".markdown"}:
        front, body = split_front_matter(markup)
        text = markdown_to_text(body)
        heading = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", body, re.MULTILINE)
        title = front.get("title") or (heading.group(1) if heading else "")
        return make_article(source, text, title=title, published=front.get("date", ""))
    return make_article(source, markup)


def _declared_charset(raw: bytes) -> str | None:
    """The charset an HTML page declares in its first bytes (``<meta charset>``), if any."""
    match = _CHARSET.search(raw[:4096])
    return match.group(1).decode("ascii").lower() if match else None


def _decode(path: Path, raw: bytes, charset: str | None) -> str:
    """UTF-8 (the default), or the page's declared charset when it is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if charset:
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            return raw.decode(charset)
    raise SourceError(
        f"{path}: not UTF-8 text (byte {utf8_error.start}); convert it, e.g. `iconv -t UTF-8`"
    ) from utf8_error


def article_from_pdf(data: bytes, source: str) -> Article:
    """The text layer of a PDF; a scan without one is refused."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except (PdfReadError, ValueError, KeyError) as exc:
        raise SourceError(f"{source}: not a readable PDF ({exc})") from exc
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if len(text) < MIN_PDF_CHARS_PER_PAGE * max(len(pages), 1):
        raise SourceError(
            f"{source}: the PDF has no text layer (a scan?) — run OCR on it first "
            "(e.g. `ocrmypdf in.pdf out.pdf`), then add the result"
        )
    return make_article(source, text, title=title)


def article_from_page(page: HtmlArticle, source: str) -> Article:
    """The article of an extracted HTML page, saved as a file or fetched (one path for both)."""
    if not page.text:
        raise SourceError(f"{source}: no article text found on the page")
    article = make_article(source, page.text, title=page.title, published=page.published)
    return replace(article, author=page.author, site=page.site)


def make_article(source: str, raw_text: str, title: str = "", published: str = "") -> Article:
    """Build an article from text of any origin; the one place text is cleaned and titled."""
    text = clean_text(raw_text)
    if not text:
        raise SourceError(f"{source}: holds no text")
    title = clean_text(title).replace("\n", " ") or _first_line(text)
    return Article(
        article_id=article_id_for(source),
        title=title,
        source=source,
        text=text,
        content_hash=content_hash(text),
        published=parse_date(published) or parse_date(text[:600]),
        language=detect_language(text),
    )


def clean_text(text: str) -> str:
    """Normalise line ends, drop control characters and trailing spaces, squeeze blank lines."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _first_line(text: str, limit: int = 120) -> str:
    line = text.split("\n", 1)[0].strip()
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def parse_date(text: str) -> str:
    """The first date in ``text`` as ``YYYY-MM-DD``, or ``""``."""
    for pattern, order in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            year, month, day = _date_parts(match.groups(), order)
            try:
                return date(year, month, day).isoformat()
            except ValueError:
                continue
    return ""


def _date_parts(groups: tuple[str | None, ...], order: str) -> tuple[int, int, int]:
    first, second, third = (group or "" for group in groups)
    if order == "iso":
        return int(first), int(second), int(third)
    if order == "mdy":
        return int(third), datetime.strptime(first[:3], "%b").month, int(second)
    return int(third), datetime.strptime(second[:3], "%b").month, int(first)


def split_front_matter(markup: str) -> tuple[dict[str, str], str]:
    """``key: value`` lines between leading ``---`` fences, and the body after them."""
    match = re.match(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", markup, re.DOTALL)
    if not match:
        return {}, markup
    front = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if sep and key.strip():
            front[key.strip().lower()] = value
    return front, markup[match.end() :]


def markdown_to_text(markdown: str) -> str:
    """Plain text of a Markdown body: the words a reader sees, without the markup."""
    lines = []
    fenced = False
    for line in markdown.split("\n"):
        if re.match(r"^\s*(```|~~~)", line):
            fenced = not fenced
            continue
        if fenced:
            lines.append(line)
            continue
        if re.match(r"^\s*([-*_])(\s*\1){2,}\s*$", line):  # horizontal rule
            lines.append("")
            continue
        plain = re.sub(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", r"\1", line)  # heading
        plain = re.sub(r"^\s*(>\s?)+", "", plain)  # blockquote
        plain = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", plain)  # list marker
        lines.append(_markdown_inline(plain))
    return "\n".join(lines)


def _markdown_inline(line: str) -> str:
    line = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", line)  # image -> alt text
    line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)  # link -> its text
    line = re.sub(r"`([^`]+)`", r"\1", line)
    line = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", line)
    line = re.sub(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])", r"\2", line)
    return re.sub(r"</?[A-Za-z][^>]*>", "", line)
