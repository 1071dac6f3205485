"""When a question asks about: the latest news, a named day or month, or a time since.

"latest", "most recently", "newest" (and their like in the other languages inquote's sets are
in) ask for the newest article that answers; "on 24 February", "in March 2022", "today",
"yesterday", "this week" and "since Monday" name days, which dateparser (200+ languages) reads
relative to ``answer.now`` (default: today). dateparser takes 0.2 s to import, so it is imported
only for a question with a digit or a relative date word. A bare year ("in 1822") names when
something happened, not when it was reported: it is left alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from bot.extractive import ScoredSentence
from ingest.schema import Scope

_LATEST = re.compile(
    r"\b(latest|newest|most recent(ly)?|recent(ly)?|last (news|update)|what'?s new|anything new"
    r"|up to date|posledn\w*|последн\w*|новейш\w*|свеж\w*|neueste\w*|aktuell\w*|jüngst\w*"
    r"|siste|nyeste|nylig)\b|آخرین|جدیدترین|تازه‌ترین|أحدث|آخر|الأخير|最新|最近",
    re.IGNORECASE,
)
# words that ask for the newest articles, not for a topic: "the latest news on …"
_NEWS = re.compile(
    r"\b(news|updates?|developments|новост\w*|nachrichten|neuigkeiten|nyheter\w*)\b"
    r"|اخبار|أخبار|新闻|消息",
    re.IGNORECASE,
)
# words that make a phrase a date without a month's name: "today", "this week", "since Monday"
_RELATIVE = (
    r"today|yesterday|tonight|week|month|monday|tuesday|wednesday|thursday|friday|saturday"
    r"|sunday|сегодня|вчера|неделе|heute|gestern|woche|dag|går|uken|امروز|دیروز|هفته|اليوم|أمس"
    r"|الأسبوع|今天|昨天|本周"
)
_DATE_WORDS = re.compile(rf"\d|\b(?:{_RELATIVE})\b", re.IGNORECASE)
_RELATIVE_RE = re.compile(rf"(?:{_RELATIVE})", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}[./]\d{1,2}[./]\d{2,4}$")
_SINCE = re.compile(
    r"(since|after|from|seit|nach|\u0441|после|siden|etter|از|منذ|بعد|自|以来)\W*$", re.I
)
_UNTIL = re.compile(r"(before|until|till|up to|bis|vor|до|før|inntil|تا|قبل|حتى|之前)\W*$", re.I)
_YEAR = re.compile(r"\b\d{4}\b")
LATEST_MARGIN = 0.1  # of the question's words an article holds: this close to the most is on topic
MAX_DATE_WORDS = 4  # "on the 24th of February", "24. Februar 2022"
_DATEPARSER_LANGUAGES = {"en", "ru", "de", "nb", "fa", "ar", "zh", "fr", "es", "it", "pt", "nl"}


@dataclass(frozen=True)
class When:
    """What a question says about time: ``latest``, and the days it names (ISO, inclusive;
    ``""``: open). ``yearless``: the question named a day or month without its year."""

    latest: bool = False
    since: str = ""
    until: str = ""
    yearless: bool = False


def when_asked(question: str, language: str, now: date) -> When:
    """What ``question`` (in ``language``, "" if unknown) asks about time, as of ``now``."""
    latest = bool(_LATEST.search(question))
    if not _DATE_WORDS.search(question):
        return When(latest)
    from dateparser.date import DateDataParser  # noqa: PLC0415 (0.2 s: only when needed)

    parser = DateDataParser(
        languages=[language] if language in _DATEPARSER_LANGUAGES else None,
        settings={
            "RELATIVE_BASE": datetime(now.year, now.month, now.day),
            "PREFER_DATES_FROM": "past",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    words = [_ascii_digits(word.strip("?!.,;:()\"'«»“”؟")) for word in question.split()]
    for first, last, found in _dates(words, parser):
        day, period = found
        start, end = _period(day, period, now)
        before = " ".join(words[:first])
        if _SINCE.search(before):
            return When(latest, since=start.isoformat())
        if _UNTIL.search(before):
            return When(latest, until=end.isoformat())
        named = " ".join(words[first:last])
        yearless = period != "week" and not _YEAR.search(named) and not _RELATIVE_RE.search(named)
        return When(latest, start.isoformat(), end.isoformat(), yearless)
    return When(latest)


def _dates(words: list[str], parser: Any) -> Iterator[tuple[int, int, tuple[date, str]]]:
    """(first, last, (day, period)) of each date phrase ``words[first:last]`` names: around each
    word with a digit or a relative date word, the longest run of up to :data:`MAX_DATE_WORDS`
    words that dateparser reads as a day, week or month."""
    for anchor, word in enumerate(words):
        if not word or not (re.search(r"\d", word) or _RELATIVE_RE.fullmatch(word)):
            continue
        for size in range(MAX_DATE_WORDS, 0, -1):
            for first in range(max(anchor - size + 1, 0), anchor + 1):
                last = first + size
                if last > len(words):
                    continue
                data = parser.get_date_data(" ".join(words[first:last]))
                if (
                    data.date_obj is not None
                    and data.period in {"day", "week", "month"}
                    and _names_a_date(words[first:last], parser)
                ):
                    yield first, last, (data.date_obj.date(), data.period)
                    break
            else:
                continue
            break


def _ascii_digits(word: str) -> str:
    """``word`` with Persian, Arabic and other decimal digits as ASCII ones (dateparser reads
    only those as numbers)."""
    return "".join(str(unicodedata.decimal(char)) if char.isdecimal() else char for char in word)


def _names_a_date(words: list[str], parser: Any) -> bool:
    """Whether ``words`` hold a month's name, a relative date word or a whole numeric date: not
    only numbers that dateparser could read as one ("8.7 million", "141 to 5")."""
    return any(
        _NUMERIC_DATE.match(word)
        or _RELATIVE_RE.fullmatch(word)
        or (word.isalpha() and parser.get_date_data(word).period == "month")
        for word in words
    )


def _period(day: date, period: str, now: date) -> tuple[date, date]:
    """The first and last day of the ``period`` holding ``day`` (a week: up to ``now``)."""
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, min(start + timedelta(days=6), now)
    if period == "month":
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)
    return day, day


def dated_scope(scope: Scope, when: When, days: Sequence[int], today: date) -> Scope:
    """``scope`` narrowed to the days ``when`` names; a day or month named without its year is
    the latest such with articles (up to ``today``): "24 February" in a store of 2022 news is
    24 February 2022. A question about the past of a history article names days no article was
    published on: the caller keeps ``scope`` when the narrowed one is empty."""
    since, until = when.since, when.until
    if when.yearless and since and until:
        first, last = int(since[5:].replace("-", "")), int(until[5:].replace("-", ""))
        years = [
            day // 10000
            for day in days
            if first <= day % 10000 <= last and day <= int(today.strftime("%Y%m%d"))
        ]
        if years:
            since, until = f"{max(years)}{since[4:]}", f"{max(years)}{until[4:]}"
    return replace(
        scope,
        since=max(scope.since, since),
        until=min(day for day in (scope.until, until) if day) if scope.until or until else "",
    )


def newest_first(ranked: Sequence[ScoredSentence]) -> list[ScoredSentence]:
    """``ranked`` with the best sentence of the newest dated article on the question's topic in
    front: an article holding nearly as many of the question's words as the one holding most
    (within :data:`LATEST_MARGIN` of its share)."""
    best: dict[str, ScoredSentence] = {}
    for item in ranked:  # best first: each article's first is its best
        best.setdefault(item.article.article_id, item)
    if not best:
        return list(ranked)
    top = max(item.article_coverage for item in best.values())
    on_topic = [item for item in best.values() if item.article_coverage >= top - LATEST_MARGIN]
    newest = max(on_topic, key=lambda item: item.article.published)  # undated: "" sorts first
    if not newest.article.published:
        return list(ranked)
    return [newest, *(item for item in ranked if item is not newest)]


def without_recency(question: str) -> str:
    """``question`` without its "latest"-like words and "news", which say it wants the newest
    articles, not which: an answer need not hold them."""
    return " ".join(_NEWS.sub(" ", _LATEST.sub(" ", question)).split())
