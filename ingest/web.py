"""Articles from the web and from PDFs: fetched safely (:mod:`ingest.fetching`), body extracted.

Web pages go through trafilatura, which keeps the article body and its metadata (title, author,
date, canonical URL, site name) and leaves menus, cookie banners and comments out. PDFs give their
text layer (:func:`ingest.reading.article_from_pdf`).
"""

from __future__ import annotations

import logging

from config.errors import SourceError
from ingest.fetching import Fetched, Fetcher
from ingest.html_text import extract_html
from ingest.reading import article_from_page, article_from_pdf, make_article, markdown_to_text
from ingest.schema import Article

log = logging.getLogger(__name__)


def article_from_url(url: str, fetcher: Fetcher) -> Article:
    """The article at ``url``: a web page, plain text or a PDF. Feeds are refused here."""
    fetched = fetcher.fetch(url)
    if fetched.kind == "feed":
        raise SourceError(f"{url} is a feed — add it with `inquote ingest --feed {url}`")
    return article_from_fetched(fetched)


def article_from_fetched(fetched: Fetched) -> Article:
    if fetched.kind == "pdf":
        return article_from_pdf(fetched.body, fetched.url)
    text = fetched.body.decode(fetched.charset or "utf-8", errors="replace")
    if fetched.kind == "html":
        return article_from_html(text, fetched.url)
    if fetched.kind == "markdown":
        return make_article(fetched.url, markdown_to_text(text))
    return make_article(fetched.url, text)


def article_from_html(html: str, url: str) -> Article:
    """The body and metadata of a web page; the source is its canonical URL."""
    page = extract_html(html, url)
    return article_from_page(page, page.canonical or url)
