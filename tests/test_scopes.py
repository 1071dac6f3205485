"""Libraries and dates: a question reads only the articles in its scope, filtered inside the
store and the keyword index before the top-k (issues 26 and 27)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.retrieval import Retriever
from config.settings import Settings
from ingest.pipeline import Ingestor
from ingest.schema import Scope
from ingest.store import ChromaStore
from tests.conftest import SEEDS, FakeEmbedder
from tests.test_cli import run

NEWS = SEEDS / "mehr-news-donbas-recognition-2022.md"
HISTORY = [SEEDS / "rosetta-stone.md", SEEDS / "great-molasses-flood-1919.txt"]
PUTIN = "What did Putin recognise as independent?"


def ask(data_dir: Path, question: str, *options: str) -> dict[str, Any]:
    result = run(data_dir, "ask", question, "--json", *options)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def listed(data_dir: Path, *options: str) -> list[dict[str, Any]]:
    result = run(data_dir, "list", "--json", *options)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def shelves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The news seed in the news library, two history seeds in the history library."""
    data_dir = tmp_path_factory.mktemp("libraries")
    assert run(data_dir, "ingest", "--library", "news", str(NEWS)).exit_code == 0
    history = run(data_dir, "ingest", "--library", "history", *map(str, HISTORY))
    assert history.exit_code == 0, history.output
    return data_dir


def test_a_library_answers_only_from_its_own_articles(shelves: Path) -> None:
    outside = ask(shelves, PUTIN, "--library", "history")
    assert outside["abstained"]
    assert outside["quotes"], "an abstention shows its closest passages"
    assert not any(quote["article_id"].startswith("mehr-news") for quote in outside["quotes"])
    inside = ask(shelves, PUTIN, "--library", "news")
    assert not inside["abstained"]
    assert inside["quotes"][0]["article_id"].startswith("mehr-news")
    assert "Donetsk and Lugansk" in inside["quotes"][0]["text"]
    everywhere = ask(shelves, PUTIN)
    assert not everywhere["abstained"]
    assert everywhere["quotes"][0]["article_id"].startswith("mehr-news")


def test_list_shows_a_library_and_names_every_articles_libraries(shelves: Path) -> None:
    news = listed(shelves, "--library", "news")
    assert [article["article_id"][:9] for article in news] == ["mehr-news"]
    assert news[0]["libraries"] == ",news,"
    assert len(listed(shelves, "--library", "history")) == 2
    assert len(listed(shelves, "--library", "news", "--library", "history")) == 3
    assert listed(shelves, "--library", "sport") == []


def test_a_library_nobody_filled_says_so(shelves: Path) -> None:
    empty = ask(shelves, PUTIN, "--library", "sport")
    assert empty["abstained"]
    assert empty["quotes"] == []
    assert "No stored article is in the sport library" in empty["answer"]


def test_an_article_joins_a_second_library_and_leaves_one_without_losing_the_other(
    tmp_path: Path,
) -> None:
    rosetta = str(HISTORY[0])
    assert run(tmp_path, "ingest", "--library", "history", rosetta).exit_code == 0
    again = run(tmp_path, "ingest", "--library", "museums", rosetta)
    assert "0 added, 0 updated, 1 unchanged" in again.stdout  # not embedded again
    [article] = listed(tmp_path, "--library", "museums")
    assert article["libraries"] == ",history,museums,"
    question = "When was the Rosetta Stone found?"
    assert not ask(tmp_path, question, "--library", "museums")["abstained"]
    out = run(tmp_path, "remove", "--library", "museums", article["article_id"])
    assert out.exit_code == 0
    assert "taken out of museums" in out.stdout
    assert listed(tmp_path, "--library", "museums") == []
    assert not ask(tmp_path, question, "--library", "history")["abstained"]
    assert ask(tmp_path, question, "--library", "museums")["abstained"]
    refused = run(tmp_path, "remove", "--library", "museums", article["article_id"])
    assert refused.exit_code == 1
    assert "is not in the museums library" in refused.output
    last = run(tmp_path, "remove", "--library", "history", article["article_id"])
    assert "removed" in last.stdout
    assert listed(tmp_path) == []


def test_articles_ingested_before_libraries_are_in_the_default_one(seeded_dir: Path) -> None:
    articles = listed(seeded_dir, "--library", "default")
    assert len(articles) == len(listed(seeded_dir)) == 5


def test_library_names_are_checked(tmp_path: Path) -> None:
    result = run(tmp_path, "ask", PUTIN, "--library", "a,b")
    assert result.exit_code == 2
    assert "is not a library name" in result.output


def test_a_filtered_top_k_is_full_when_enough_chunks_pass(
    settings: Settings, fake_embedder: FakeEmbedder, fake_store: ChromaStore, tmp_path: Path
) -> None:
    """Many articles outside the scope match the question better than those inside: the filter
    runs inside the store, so the top-k is still all the scope's own chunks."""
    ingestor = Ingestor(fake_store, fake_embedder, settings)
    for number in range(12):
        path = tmp_path / f"loud-{number}.txt"
        path.write_text(f"Volcano eruption number {number}. The volcano erupted loudly again.\n")
        ingestor.add_paths([path], library="loud")
    quiet = tmp_path / "quiet.txt"
    quiet.write_text(
        "\n\n".join(f"Paragraph {n} on gardens, with a volcano far away." * 6 for n in range(8))
    )
    ingestor.add_paths([quiet], library="quiet")
    retriever = Retriever(fake_store, fake_store.keywords, settings.retrieval)
    question = "volcano eruption"
    vector = fake_embedder.embed_query(question)
    found = retriever.retrieve(question, vector, 5, Scope(libraries=("quiet",)))
    assert len(found) == 5
    assert {hit.article.libraries for hit in found} == {("quiet",)}
    assert retriever.retrieve(question, vector, 5, Scope(libraries=("none-such",))) == []


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three dated articles on one story, and one with no date."""
    folder = tmp_path_factory.mktemp("dated-sources")
    stories = {
        "2022-02-22": "Putin announced that Russia recognised two breakaway regions in the east.",
        "2022-02-24": "Putin announced a military operation, and troops crossed the border.",
        "2022-03-02": "Putin announced talks with Ukraine would go on in Belarus next week.",
    }
    for day, text in stories.items():
        (folder / f"story-{day}.md").write_text(f"---\ntitle: The story on {day}\ndate: {day}\n"
                                                f"---\n\n{text}\n")  # fmt: skip
    (folder / "undated.md").write_text("# Undated\n\nPutin announced nothing on a day unknown.\n")
    data_dir = tmp_path_factory.mktemp("dated")
    assert run(data_dir, "ingest", str(folder)).exit_code == 0
    return data_dir


def test_since_and_until_keep_a_question_to_those_days(dated: Path) -> None:
    later = ask(dated, "What did Putin announce?", "--since", "2022-02-23")
    assert later["quotes"]
    assert {quote["title"] for quote in later["quotes"]} <= {
        "The story on 2022-02-24",
        "The story on 2022-03-02",
    }
    one_day = ask(dated, "What did Putin announce?", "--since", "2022-02-24", "--until",
                  "2022-02-24")  # fmt: skip
    assert {quote["title"] for quote in one_day["quotes"]} == {"The story on 2022-02-24"}
    bad = run(dated, "ask", "What did Putin announce?", "--since", "24 February")
    assert bad.exit_code == 2
    assert "--since" in bad.output


def test_list_sorts_newest_first_and_says_when_an_article_has_no_date(dated: Path) -> None:
    result = run(dated, "list", "--newest")
    lines = [line for line in result.stdout.splitlines() if not line.startswith(" ")]
    days = [line.split()[3] for line in lines[:-1]]
    assert days == ["2022-03-02", "2022-02-24", "2022-02-22", "no"]
    assert "no date" in lines[3]
    since = listed(dated, "--since", "2022-02-23")
    assert sorted(article["published"] for article in since) == ["2022-02-24", "2022-03-02"]
    assert all(article["published_day"] >= 20220223 for article in since)
