"""Articles from the web and from PDFs: fetched safely (:mod:`ingest.fetching`), body extracted.

Web pages go through :mod:`ingest.html_text` (trafilatura), which keeps the article body and its
metadata (title, author, date, canonical URL, site name) and leaves menus, cookie banners and
comments out. PDFs give their text layer (:func:`ingest.reading.article_from_pdf`).
"""

from __future__ import annotations

import codecs
import logging
import re
from urllib.parse import urlsplit

from tld import get_fld

from config.errors import SourceError
from config.settings import IngestSettings
from ingest.fetching import Fetched, Fetcher
from ingest.html_text import extract_html
from ingest.reading import (
    article_from_page,
    article_from_pdf,
    make_article,
    markdown_to_text,
    within_deadline,
)
from ingest.schema import Article

log = logging.getLogger(__name__)
_IP = re.compile(r"[\d.]+|[0-9a-f:]+")


def article_from_url(url: str, fetcher: Fetcher, limits: IngestSettings | None = None) -> Article:
    """The article at ``url``: a web page, plain text or a PDF. Feeds are refused here."""
    fetched = fetcher.fetch(url)
    if fetched.kind == "feed":
        raise SourceError(f"{url} is a feed — add it with `inquote ingest --feed {url}`")
    return article_from_fetched(fetched, limits)


def article_from_fetched(fetched: Fetched, limits: IngestSettings | None = None) -> Article:
    """The article in a fetched body, read within ``ingest.max_parse_seconds``."""
    return within_deadline(lambda: _article(fetched, limits), limits, fetched.url)


def _article(fetched: Fetched, limits: IngestSettings | None) -> Article:
    if fetched.kind == "pdf":
        return article_from_pdf(fetched.body, fetched.url, limits)
    text = fetched.body.decode(_known_charset(fetched.charset), errors="replace")
    if fetched.kind == "html":
        return article_from_html(text, fetched.url)
    if fetched.kind == "markdown":
        return make_article(fetched.url, markdown_to_text(text))
    return make_article(fetched.url, text)


def _known_charset(declared: str | None) -> str:
    """The declared charset when Python knows it; UTF-8 otherwise (``charset=bogus-xyz``)."""
    if declared:
        try:
            return codecs.lookup(declared).name
        except LookupError:
            log.info("unknown charset %r: decoding as UTF-8", declared)
    return "utf-8"


def article_from_html(html: str, url: str) -> Article:
    """The body and metadata of a web page; the source is its canonical URL on the same site.

    A page may only name a canonical URL on the site it was fetched from (the same registrable
    domain): otherwise any page could file its text under another publisher's story.
    """
    page = extract_html(html, url)
    canonical = page.canonical if page.canonical and same_site(page.canonical, url) else ""
    if page.canonical and not canonical:
        log.info("ignored %s's canonical URL %s: another site", url, page.canonical)
    return article_from_page(page, canonical or url)


def same_site(first: str, second: str) -> bool:
    """Whether two URLs share a registrable domain (``news.example.com`` ~ ``example.com``)."""
    return _site(first) == _site(second)


def _site(url: str) -> str:
    found = get_fld(url, fail_silently=True)
    if found:
        return str(found).lower()
    host = (urlsplit(url).hostname or "").lower()  # an IP address, or a name off the public list
    return host if _IP.fullmatch(host) else ".".join(host.split(".")[-2:])
