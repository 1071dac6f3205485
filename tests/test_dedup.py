"""MinHash near-duplicate detection on pairs that must and must not merge."""

from __future__ import annotations

import random

import pytest

from config.settings import Settings, load_settings
from ingest.dedup import Stories, signature, similarity
from ingest.pipeline import Ingestor
from ingest.reading import make_article, read_article
from ingest.schema import Article, content_hash
from ingest.store import ChromaStore
from tests.conftest import SEEDS, FakeEmbedder

THRESHOLD = load_settings().dedup.near_duplicate_threshold
FLOOD = read_article(SEEDS / "great-molasses-flood-1919.txt").text
STONE = read_article(SEEDS / "rosetta-stone.md").text


def article(article_id: str, text: str) -> Article:
    return Article(article_id, article_id, article_id, text, content_hash(text),
                   signature=signature(text))  # fmt: skip


@pytest.mark.parametrize(
    "copy",
    [
        FLOOD,
        "BOSTON (Wire) — " + FLOOD + "\n\nRead more on our website. Subscribe to our newsletter.",
        FLOOD.replace("Twenty-one people were killed", "21 people died").replace("\n\n", "\n"),
        "Molasses disaster remembered\n\nBy staff\n\n" + FLOOD.split("\n\n", 2)[2],
    ],
)
def test_republished_copies_merge(copy: str) -> None:
    assert similarity(signature(FLOOD), signature(copy)) >= THRESHOLD
    found = Stories([article("flood", FLOOD)]).nearest(article("copy", copy), THRESHOLD)
    assert found is not None
    assert found[0].article_id == "flood"


@pytest.mark.parametrize(
    "other",
    [
        STONE,
        read_article(SEEDS / "apollo-11-moon-landing.html").text,
        # same topic, same names, different story
        "The Great Molasses Flood of 1919 is remembered every January in the North End of Boston. "
        "This year a plaque was unveiled near the site of the Purity Distilling Company tank, and "
        "local historians gave tours explaining how the disaster changed building regulations.",
    ],
)
def test_different_stories_do_not_merge(other: str) -> None:
    assert similarity(signature(FLOOD), signature(other)) < 0.1
    assert Stories([article("flood", FLOOD)]).nearest(article("other", other), THRESHOLD) is None


def test_duplicates_are_never_originals() -> None:
    copy = article("copy", FLOOD + " ")
    linked = Article("dup", "dup", "dup", FLOOD, content_hash(FLOOD), duplicate_of="flood")
    assert Stories([linked]).nearest(copy, THRESHOLD) is None


def test_the_most_similar_of_many_stories_is_found_and_never_the_article_itself() -> None:
    rng = random.Random(7)
    words = FLOOD.split()
    stories = [article(f"story-{n}", " ".join(rng.sample(words, len(words)))) for n in range(300)]
    stories.append(article("flood", FLOOD))
    known = Stories(stories)  # more than its first room for 64, so it grows
    copy = FLOOD.replace("molasses", "syrup", 1)
    found = known.nearest(article("copy", copy), THRESHOLD)
    assert found is not None
    assert found[0].article_id == "flood"
    assert known.nearest(article("flood", copy), THRESHOLD) is None  # its own earlier version


def test_articles_one_at_a_time_read_the_stored_stories_once_then_only_what_changed(
    fake_store: ChromaStore,
    fake_embedder: FakeEmbedder,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingestor = Ingestor(fake_store, fake_embedder, settings)  # as a feed watcher or the bot holds
    fake_store.keywords.catch_up()  # the keyword index's own first look at the store, done
    reads = []
    summaries = fake_store.article_summaries

    def counted() -> list[Article]:
        reads.append(1)
        return summaries()

    monkeypatch.setattr(fake_store, "article_summaries", counted)
    assert ingestor.add_article(make_article("flood.txt", FLOOD)).status == "added"
    wire = "BOSTON (Wire) — " + FLOOD
    assert ingestor.add_article(make_article("wire.txt", wire)).status == "duplicate"
    assert ingestor.add_article(make_article("stone.txt", STONE)).status == "added"
    assert len(reads) == 1  # the whole store once; then the articles written since
    fake_store.remove_article(make_article("flood.txt", FLOOD).article_id)
    again = ingestor.add_article(make_article("again.txt", "Molasses (Wire) — " + FLOOD))
    assert again.status == "added"  # not a duplicate of an article that is gone
