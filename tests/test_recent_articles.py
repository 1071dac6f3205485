"""The articles an embedded store read last: kept by version, least recently used out."""

from __future__ import annotations

from ingest.reading import make_article
from ingest.recent_articles import RecentArticles


def test_recent_articles_are_served_by_version_and_the_least_recent_go_first() -> None:
    first, second, third = (make_article(f"note:{n}", f"Text number {n}.") for n in range(3))
    recent = RecentArticles(articles=2, chars=1000)
    recent.keep([first, second])
    assert recent.get([(first.article_id, first.content_hash)]) == {first.article_id: first}
    assert recent.get([(first.article_id, "another version")]) == {}
    recent.keep([third])  # second was used least recently
    versions = [(a.article_id, a.content_hash) for a in (first, second, third)]
    assert set(recent.get(versions)) == {first.article_id, third.article_id}


def test_keeping_an_article_again_does_not_count_its_text_twice() -> None:
    article = make_article("note:long", "A sentence of some length. " * 10)
    recent = RecentArticles(articles=10, chars=len(article.text) + 5)
    for _ in range(3):
        recent.keep([article])
    assert recent.get([(article.article_id, article.content_hash)])
