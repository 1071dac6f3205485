"""What an article is about: its lead and its most central sentences, verbatim, in article order.

Asked as "What is the X article about?", "Summarise X", "tl;dr X" (and their like in the other
languages inquote's sets are in), with ``inquote summary ARTICLE_ID``, or ``/summary`` in
Telegram. The lead is the article's first quotable sentence; central sentences are ranked by
TextRank (networkx's PageRank over the sentences' embedding similarities). Neither is ever the
title line or boilerplate (``ingest.boilerplate``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.ports import KeywordSearch, StoredArticles
from bot.quotes import MIN_QUOTE_CHARS, Quote, quote_from_article
from ingest.chunking import sentence_spans
from ingest.embedding import Embedder
from ingest.schema import Article, Scope
from ingest.terms import content_terms

CENTRAL_SENTENCES = 2
DATELINE_WORDS = 5  # a lead this short is a dateline or a kicker, not what happened
MAX_SENTENCES = 200  # ranked of a long article: its opening pages hold its summary
# Of the words a question names an article by, this share must be in the article.
MIN_NAMED = 0.5

_KIND = (
    r"(?:article|story|piece|report|text|news item|post|стать[яиюе]|artikel|artikkelen|saken"
    r"|مقاله|خبر|المقال|الخبر|文章)"
)
# "what is X about?" names an article only with a kind word ("the Rosetta Stone article") or by
# its title; "what are people worried about?" is a question, not a request for a summary
_WHAT_ABOUT = re.compile(
    rf"^what(?:'s| is| was)\s+(?P<subject>.*?)(?P<kind>\s+{_KIND})?\s+(?:all\s+)?about\s*\??$",
    re.IGNORECASE,
)
_SUMMARISE = [
    r"^(?:please\s+)?(?:summari[sz]e|sum up|give (?:me )?(?:a |the )?summary of|tl;?dr(?: of)?)"
    r"\s*(?P<subject>.*?)[.?!]?$",
    r"^(?P<subject>.*?)\s*[,:-]?\s*tl;?dr\s*\??$",
    r"^\u043e ч[её]м\s+(?P<subject>.*?)\s*\??$",  # "what about", Russian
    r"^(?:кратко перескажи|перескажи)\s+(?P<subject>.*)$",
    r"^worum geht es (?:in|bei)\s+(?P<subject>.*?)\s*\??$",
    r"^fasse\s+(?P<subject>.*?)\s+zusammen\s*\.?$",
    r"^hva handler\s+(?P<subject>.*?)\s+om\s*\??$", r"^oppsummer\s+(?P<subject>.*?)\.?$",
    r"^(?P<subject>.*?)\s*درباره(?:\s*ی)?\s*چیست\s*[؟?]?$", r"^خلاصه(?:\s*ی)?\s+(?P<subject>.*)$",
    r"^(?:ما\s+)?موضوع\s+(?P<subject>.*?)\s*[؟?]?$", r"^لخص\s+(?P<subject>.*)$",
    r"^(?P<subject>.*?)(?:讲的是什么|是关于什么的|主要内容是什么)\s*[\uff1f?]?$",
]  # fmt: skip
_SUMMARISE_RE = [re.compile(pattern, re.IGNORECASE) for pattern in _SUMMARISE]
_ON = r"(?:about|on|of|про|\u043e|über|om|درباره(?:\s*ی)?|عن)"  # "the article *about* …"
_FRAME = re.compile(
    rf"^(?:(?:the|a|an|this|that)\s+)?(?:{_KIND}s?(?:\s+{_ON})?\s+)?(?:(?:the|a|an)\s+)?"
    rf"|\s+{_KIND}s?$|[«»\"\u201c\u201d\u2018\u2019]",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AboutRequest:
    """A question asking what an article is about: the words it names the article by (``""``:
    none, "what is this article about?"), and whether they must be in its title."""

    subject: str
    by_title: bool


def about_request(question: str) -> AboutRequest | None:
    """What ``question`` asks a summary of; None when it asks something else."""
    asked = " ".join(question.split())
    if match := _WHAT_ABOUT.match(asked):
        return AboutRequest(_subject(match.group("subject")), by_title=not match.group("kind"))
    for pattern in _SUMMARISE_RE:
        if match := pattern.match(asked):
            return AboutRequest(_subject(match.group("subject")), by_title=False)
    return None


def _subject(words: str) -> str:
    return " ".join(_FRAME.sub(" ", words).split())


def named_article(request: AboutRequest, candidates: Sequence[Article]) -> Article | None:
    """The first of ``candidates`` (in retrieval order) holding the most of the request's words
    (in its title, when the request names it so; else in its title, site, source or text), at
    least :data:`MIN_NAMED` of them."""
    best: tuple[float, Article] | None = None
    for article in candidates:
        wanted = content_terms(request.subject, article.language)
        if not wanted:
            continue
        named = f"{article.title}\n{article.site}\n{article.source}"  # "the Mehr News article"
        where = article.title if request.by_title else f"{named}\n{article.text}"
        share = len(wanted & content_terms(where, article.language)) / len(wanted)
        if share >= MIN_NAMED and (best is None or share > best[0]):
            best = (share, article)
    return best[1] if best else None


def quotable_spans(article: Article) -> list[tuple[int, int]]:
    """The (start, end) of the article's sentences a summary may quote, in order: the lead
    first (with its dateline). Neither its title line nor its boilerplate, nor a fragment."""
    spans = [
        (start, end)
        for start, end in sentence_spans(article.text, language=article.language)
        if end - start >= MIN_QUOTE_CHARS
        and article.text[start:end] != article.title
        and not article.is_boilerplate(start, end)
    ]
    return _with_whole_lead(article.text, spans)


def summary_spans(article: Article, embedder: Embedder) -> list[tuple[int, int]]:
    """The article's lead and its :data:`CENTRAL_SENTENCES` most central other sentences, as
    (start, end) offsets in article order."""
    spans = quotable_spans(article)[:MAX_SENTENCES]
    if len(spans) <= 1 + CENTRAL_SENTENCES:
        return spans
    import networkx as nx  # noqa: PLC0415 (0.3 s to import: only for a summary)

    vectors = np.array(embedder.embed_documents([article.text[s:e] for s, e in spans]))
    similarity = np.clip(vectors @ vectors.T, 0.0, None)
    np.fill_diagonal(similarity, 0.0)
    ranks = nx.pagerank(nx.from_numpy_array(similarity))
    central = sorted(range(1, len(spans)), key=lambda index: -ranks[index])[:CENTRAL_SENTENCES]
    return [spans[index] for index in sorted([0, *central])]


def _with_whole_lead(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` with a dateline that opens the lead's line ("Boston, 15 January 1919.") quoted
    together with the sentence after it, which says what happened."""
    if len(spans) >= 2:
        (start, end), (next_start, next_end) = spans[0], spans[1]
        if len(text[start:end].split()) <= DATELINE_WORDS and "\n" not in text[end:next_start]:
            return [(start, next_end), *spans[2:]]
    return spans


def lead_quote(store: StoredArticles, summary: Article) -> Quote | None:
    """The opening sentence (with its dateline) of the stored article ``summary`` describes,
    verbatim; None when it is gone or has none."""
    article = store.get_article(summary.article_id)
    if article is None:
        return None
    return next(
        (
            quote
            for start, end in quotable_spans(article)[:1]
            if (quote := quote_from_article(article, article.text[start:end], start))
        ),
        None,
    )


def added_since(
    store: StoredArticles, keywords: KeywordSearch, scope: Scope, revision: int | None
) -> list[Article]:
    """What ``scope`` gained since ``revision`` (``time.time_ns()``; None: ever): its articles
    written since, newest first (by publication day, then by when they came), each once (a copy
    of a stored story is not news); their metadata, without text (:func:`lead_quote` reads it
    for those shown). ``keywords``: caught up with the store."""
    fresh = keywords.within(store.articles_since(revision), scope)
    fresh.sort(key=lambda article: (article.published, article.revision), reverse=True)
    return [article for article in fresh if not article.duplicate_of and article.chunk_count]
