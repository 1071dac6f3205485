"""Turn a file into an :class:`Article`: clean text, title, date, stable id, content hash.

PDFs give their text layer through pypdf; a PDF without one (a scan) is refused with the reason.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import stat
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pypdf
from markdown_it import MarkdownIt
from pypdf.errors import LimitReachedError, PdfReadError

from config.errors import SourceError
from config.settings import IngestSettings
from ingest.boilerplate import boilerplate_spans
from ingest.html_text import HtmlArticle, extract_html
from ingest.language import detect_language
from ingest.schema import Article, article_id_for, content_hash

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
# A PDF page with fewer characters of text than this, on average, has no real text layer.
MIN_PDF_CHARS_PER_PAGE = 40
MAX_FILE_BYTES = 20 * 1024 * 1024

_MARKDOWN = MarkdownIt("commonmark")
_INLINE_TEXT = frozenset(("text", "code_inline", "image"))  # an image's content: its alt text
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE_PATTERNS = (
    (re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b"), "iso"),
    (re.compile(rf"\b({_MONTHS})\s+(\d{{1,2}}),?\s+((?:19|20)\d\d)\b", re.IGNORECASE), "mdy"),
    (re.compile(rf"\b(\d{{1,2}})\s+({_MONTHS})\s+((?:19|20)\d\d)\b", re.IGNORECASE), "dmy"),
)


def find_articles(paths: Iterable[Path], follow_symlinks: bool = False) -> Iterator[Path]:
    """Files to ingest: the given files as they are, and supported files found under folders.

    In a folder, a symbolic link that leads out of it is skipped (with a warning) unless
    ``follow_symlinks``; special files (FIFOs, devices, sockets) are yielded, for
    :func:`read_article` to refuse with the reason.
    """
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        root = path.resolve()
        for found in sorted(path.rglob("*")):
            hidden = any(part.startswith(".") for part in found.relative_to(path).parts)
            if hidden or found.suffix.lower() not in SUPPORTED_SUFFIXES or found.is_dir():
                continue
            try:
                target = found.resolve(strict=True)
            except (OSError, RuntimeError) as exc:  # a link loop, or a link to nothing
                log.warning("skipped %s: a symbolic link that leads nowhere (%s)", found, exc)
                continue
            if found.is_symlink() and not follow_symlinks and not target.is_relative_to(root):
                log.warning(
                    "skipped %s: a symbolic link out of %s to %s "
                    "(set ingest.follow_symlinks = true to follow such links)",
                    found,
                    path,
                    target,
                )
                continue
            yield found


def read_article(
    path: Path, source: str | None = None, limits: IngestSettings | None = None
) -> Article:
    """Read and clean one file. Raises :class:`SourceError` with the reason when it can't."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(SUPPORTED_SUFFIXES)
        raise SourceError(
            f"{path}: unsupported file type '{suffix or path.name}' (use {supported})"
        )
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise SourceError(f"{path}: not a regular file (a FIFO, device or socket); skipped")
        size = status.st_size
        if size > MAX_FILE_BYTES:
            raise SourceError(f"{path}: file is {size} bytes, over the {MAX_FILE_BYTES} byte limit")
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceError(f"{path}: no such file") from exc
    except OSError as exc:
        raise SourceError(f"{path}: cannot read it ({exc.strerror})") from exc
    return within_deadline(lambda: _article(path, raw, source, limits), limits, source or str(path))


def _article(path: Path, raw: bytes, source: str | None, limits: IngestSettings | None) -> Article:
    suffix = path.suffix.lower()
    source = source or str(path.resolve())
    if suffix == ".pdf":
        return article_from_pdf(raw, source, limits)
    if b"\x00" in raw:
        raise SourceError(f"{path}: looks binary, not {suffix} text")
    is_html = suffix in {".html", ".htm"}
    markup = _decode(path, raw, _declared_charset(raw) if is_html else None)
    if is_html:
        return article_from_page(extract_html(markup), source)
    if suffix in {".md", ".markdown"}:
        front, body = split_front_matter(markup)
        text = markdown_to_text(body)
        heading = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", body, re.MULTILINE)
        title = front.get("title") or (heading.group(1) if heading else "")
        return make_article(source, text, title=title, published=front.get("date", ""))
    return make_article(source, markup)


def within_deadline(
    parse: Callable[[], Article], limits: IngestSettings | None, source: str
) -> Article:
    """``parse()``, refused once it takes longer than ``limits.max_parse_seconds`` (any format:
    a page, a Markdown file or a PDF crafted to be slow). The parse runs in a daemon thread,
    left to finish in the background: no parser can be interrupted, but the ingest goes on."""
    if limits is None:
        return parse()
    outcome: list[Article | BaseException] = []

    def run() -> None:
        try:
            outcome.append(parse())
        except BaseException as exc:  # raised again in the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=run, name=f"parse {source[:60]}", daemon=True)
    worker.start()
    worker.join(limits.max_parse_seconds)
    if not outcome:
        raise SourceError(
            f"{source}: reading it took longer than ingest.max_parse_seconds "
            f"({limits.max_parse_seconds:g} s); refused"
        )
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


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
        try:
            return raw.decode(charset)
        except LookupError as exc:
            raise SourceError(
                f"{path}: not UTF-8 text, and its declared charset '{charset}' is unknown; "
                "convert it to UTF-8, e.g. `iconv -t UTF-8`"
            ) from exc
        except UnicodeDecodeError:
            pass
    raise SourceError(
        f"{path}: not UTF-8 text (byte {utf8_error.start}); convert it, e.g. `iconv -t UTF-8`"
    ) from utf8_error


def article_from_pdf(data: bytes, source: str, limits: IngestSettings | None = None) -> Article:
    """The text layer of a PDF; a scan without one is refused.

    ``limits`` (``ingest.*``; None: pypdf's own) bound pages, stream sizes, parsing work and
    time; a PDF over one fails with the limit named.
    """
    try:
        with _pdf_limits(limits):
            reader = pypdf.PdfReader(io.BytesIO(data))
            pages = _pdf_pages(reader, source, limits)
            title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except LimitReachedError as exc:
        raise SourceError(
            f"{source}: refused, the PDF trips a safety limit ({exc}); "
            "ingest.max_pdf_stream_bytes and ingest.max_pdf_operations set the size limits"
        ) from exc
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


@contextlib.contextmanager
def _pdf_limits(limits: IngestSettings | None) -> Iterator[None]:
    if limits is None:
        yield
        return
    size = limits.max_pdf_stream_bytes
    with pypdf.apply_configuration(
        maximum_declared_stream_length=size,
        array_based_stream_maximum_output_length=size,
        zlib_maximum_output_length=size,
        lzw_maximum_output_length=size,
        run_length_maximum_output_length=size,
        brotli_maximum_output_length=size,
        stream_parsing_work_maximum_count=limits.max_pdf_operations,
    ):
        yield


def _pdf_pages(reader: pypdf.PdfReader, source: str, limits: IngestSettings | None) -> list[str]:
    """Each page's text, within the page limit."""
    if limits is not None and len(reader.pages) > limits.max_pdf_pages:
        raise SourceError(
            f"{source}: the PDF has {len(reader.pages)} pages, over ingest.max_pdf_pages "
            f"({limits.max_pdf_pages})"
        )
    return [page.extract_text() or "" for page in reader.pages]


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
        boilerplate=tuple(boilerplate_spans(text)),
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
    """A line's text without inline markup, by markdown-it's CommonMark parser (linear time:
    hand-written emphasis patterns backtracked for minutes on a long unclosed ``**``)."""
    [block] = _MARKDOWN.parseInline(line)
    return "".join(token.content for token in block.children or () if token.type in _INLINE_TEXT)
