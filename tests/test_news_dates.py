"""News questions (issue 26): publication dates from every kind of source, "latest", a named day,
"what is this article about?", and boilerplate never quoted as an answer.

Over three dated articles on one story (``tests/fixtures/dated-news``, written for inquote) and
the seeds, through the real pipeline and the `inquote` command line.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.answering import Answerer
from bot.recency import when_asked
from config.settings import Settings, load_settings
from ingest.embedding import Embedder
from ingest.pipeline import Ingestor
from ingest.reading import read_article
from ingest.store import ChromaStore
from tests.conftest import (
    NOT_ANSWERED_JSON,
    SEEDS,
    FakeEmbedder,
    FakeGenerator,
    answer_json,
    answerer_leading_with_the_tenth,
    assert_quotes_verbatim,
)
from tests.fake_web import FakeSite, serve
from tests.test_cli import run

DATED = Path(__file__).parent / "fixtures" / "dated-news"
NOW = {"INQUOTE_ANSWER__NOW": "2026-12-02"}


def ask(data_dir: Path, question: str, *options: str) -> dict[str, Any]:
    result = run(data_dir, "ask", question, "--json", *options, env=NOW)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    stored = {a["article_id"]: a for a in map(json.loads, run(data_dir, "list", "--json").stdout
                                              .splitlines())}  # fmt: skip
    for quote in answer["quotes"]:
        quote["published"] = stored[quote["article_id"]]["published"]
    return answer


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("newsroom")
    result = run(data_dir, "ingest", str(SEEDS), str(DATED))
    assert result.exit_code == 0, result.output
    return data_dir


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest news about Russia and Ukraine?",
        "What is the most recent news from Ukraine?",
        "What happened most recently in the war?",
    ],
)
def test_latest_quotes_the_newest_article_first_and_says_its_date(
    newsroom: Path, question: str
) -> None:
    answer = ask(newsroom, question)
    assert answer["quotes"][0]["published"] == "2022-03-02", answer
    if not answer["abstained"]:
        assert "The latest, from 2022-03-02:" in answer["answer"]


@pytest.mark.parametrize(
    ("question", "day"),
    [
        ("What happened on 24 February?", "2022-02-24"),
        ("What happened on 22 February 2022?", "2022-02-22"),
        ("What happened in March 2022?", "2022-03-02"),
        ("Что произошло 24 февраля?", "2022-02-24"),
    ],
)
def test_a_question_naming_a_day_quotes_that_days_article(
    newsroom: Path, question: str, day: str
) -> None:
    answer = ask(newsroom, question)
    assert {quote["published"] for quote in answer["quotes"]} == {day}


def test_a_question_about_the_past_still_reads_history_articles(newsroom: Path) -> None:
    """A day no article was published on is when something happened: no filter then."""
    answer = ask(newsroom, "Which lunar module landed on 20 July 1969?")
    assert not answer["abstained"]
    assert answer["quotes"][0]["text"].startswith("Eagle landed in the Sea of Tranquility")


def test_since_keeps_to_articles_published_from_that_day(newsroom: Path) -> None:
    answer = ask(newsroom, "What did Putin announce?", "--since", "2022-02-23")
    assert answer["quotes"]
    assert all(quote["published"] >= "2022-02-23" for quote in answer["quotes"])


@pytest.mark.parametrize(
    ("question", "opening"),
    [
        ("What is the Rosetta Stone article about?", "The Rosetta Stone is a slab of granodiorite"),
        ("What is the Mehr News Agency article about?", "TEHRAN-Russian President Vladimir Putin"),
        (
            "Summarise the article about the Great Molasses Flood.",
            "Boston, 15 January 1919. Shortly after noon, a steel storage tank",
        ),
        ("Summarize the story about the second round of talks", "GOMEL, 2 March 2022"),
    ],
)
def test_what_an_article_is_about_is_its_opening_and_central_sentences(
    newsroom: Path, question: str, opening: str
) -> None:
    answer = ask(newsroom, question)
    assert not answer["abstained"]
    quotes = answer["quotes"]
    assert quotes[0]["text"].startswith(opening)
    assert len({quote["article_id"] for quote in quotes}) == 1
    assert [quote["start"] for quote in quotes] == sorted(quote["start"] for quote in quotes)
    assert not any("licensed under" in quote["text"] for quote in quotes)


def test_summary_command_quotes_the_lead(newsroom: Path) -> None:
    stored = [json.loads(line) for line in run(newsroom, "list", "--json").stdout.splitlines()]
    talks = next(a for a in stored if a["published"] == "2022-03-02")
    result = run(newsroom, "summary", talks["article_id"], "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["quotes"][0]["text"].startswith("GOMEL, 2 March 2022 — Ukrainian and Russian")
    missing = run(newsroom, "summary", "no-such-article")
    assert missing.exit_code == 1
    assert "inquote list" in missing.output


@pytest.mark.parametrize(
    "question",
    [
        "Who licensed the content of the site?",
        "Under which licence is the content?",
        "Who took the photo?",
        "Where can I read more about how the war began?",
        "How do I sign up for the newsletter?",
    ],
)
def test_boilerplate_is_never_quoted_as_an_answer(newsroom: Path, question: str) -> None:
    answer = ask(newsroom, question)
    shown = answer["quotes"][:1] if not answer["abstained"] else []
    for quote in shown:
        assert "licensed under" not in quote["text"].lower()
        assert not quote["text"].startswith(("Photo:", "Read more", "Sign up"))


def test_boilerplate_lines_are_marked_at_ingest(settings: Settings, tmp_path: Path) -> None:
    article = read_article(DATED / "2022-02-24-invasion.md")
    [(start, end)] = article.boilerplate
    assert article.text[start:end].startswith("All content on this site is licensed under")
    store = ChromaStore.open_persistent(tmp_path / "data", FakeEmbedder().fingerprint)
    Ingestor(store, FakeEmbedder(), settings).add_paths([DATED])
    stored = store.get_article(article.article_id)
    assert stored is not None
    assert stored.boilerplate == article.boilerplate


PAGE = """<html><head><title>{title}</title>{head}</head>
<body><article><h1>{title}</h1><p>{body}</p></article></body></html>"""
BODY = "The harbour ferry service resumed its full timetable after the storm repairs were done."


def page(title: str, head: str = "", body: str = BODY) -> tuple[int, dict[str, str], bytes]:
    markup = PAGE.format(title=title, head=head, body=body)
    return 200, {"Content-Type": "text/html; charset=utf-8"}, markup.encode()


def test_publication_dates_come_from_every_kind_of_source(tmp_path: Path) -> None:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "datePublished": "2022-02-21"}
    routes = {
        "/meta": page("Meta", '<meta property="article:published_time" content="2022-02-20">'),
        "/jsonld": page("Json", f'<script type="application/ld+json">{json.dumps(ld)}</script>'),
        "/time": page("Time", body=f'<time datetime="2022-02-19">19 February</time> {BODY}'),
        "/undated": page("Undated", body=BODY.replace("harbour", "river")),
        "/feed.xml": (200, {"Content-Type": "application/rss+xml"}, b""),
    }
    with serve(FakeSite(routes=dict(routes))) as site:
        items = (f"<item><title>Undated</title><link>{site.url}/undated</link>"
                 "<pubDate>Fri, 18 Feb 2022 09:00:00 GMT</pubDate></item>")  # fmt: skip
        feed = f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
        site.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, feed.encode())
        env = {
            "INQUOTE_FETCH__ALLOW_PRIVATE_ADDRESSES": "true",
            "INQUOTE_DEDUP__NEAR_DUPLICATE_THRESHOLD": "1",
        }
        urls = [f"{site.url}/{path}" for path in ("meta", "jsonld", "time")]
        assert run(tmp_path, "ingest", *urls, env=env).exit_code == 0
        assert run(tmp_path, "ingest", "--feed", f"{site.url}/feed.xml", env=env).exit_code == 0
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "front.md").write_text(
        "---\ntitle: Front\ndate: 2022-02-17\n---\n\nText.\n"
    )
    (tmp_path / "files" / "dateline.txt").write_text(
        "Dateline\n\nKYIV, 16 February 2022 — The talks went on into the night.\n"
    )
    (tmp_path / "files" / "none.txt").write_text("No date\n\nNothing here says when it was.\n")
    assert run(tmp_path, "ingest", str(tmp_path / "files")).exit_code == 0
    listed = [json.loads(line) for line in run(tmp_path, "list", "--json").stdout.splitlines()]
    days = {
        article["title"]: (article["published"], article["published_day"]) for article in listed
    }
    assert days == {
        "Meta": ("2022-02-20", 20220220),
        "Json": ("2022-02-21", 20220221),
        "Time": ("2022-02-19", 20220219),
        "Undated": ("2022-02-18", 20220218),  # from its feed entry
        "Front": ("2022-02-17", 20220217),
        "Dateline": ("2022-02-16", 20220216),
        "No date": ("", 0),
    }


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("What happened yesterday?", "2026-12-01", "2026-12-01"),
        ("Anything new since Monday?", "2026-11-30", ""),
        ("What happened this week?", "2026-11-30", "2026-12-02"),
        ("What happened before 1 March 2022?", "", "2022-03-01"),
        ("Was geschah am 24. Februar 2022?", "2022-02-24", "2022-02-24"),
        ("How much molasses, 8.7 million litres?", "", ""),
        ("What did the 141 to 5 vote demand?", "", ""),
        ("Who deciphered the hieroglyphs in 1822?", "", ""),
    ],
)
def test_days_named_in_questions(question: str, since: str, until: str) -> None:
    when = when_asked(question, "", date(2026, 12, 2))
    assert (when.since, when.until) == (since, until)


def test_digest_lists_what_was_added_since_a_day_newest_first(newsroom: Path) -> None:
    result = run(newsroom, "digest", "--since", "2020-01-01")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == "8 articles added since 2020-01-01"
    titles = [line for line in lines[:-1] if not line.startswith(" ")]
    assert titles[0].endswith("(2026-11-26)")  # the Persian seed: the newest publication day
    assert titles.index(
        "Russia recognises two breakaway regions of eastern Ukraine (2022-02-22)"
    ) < (titles.index("The Great Molasses Flood of 1919 (1919-01-15)"))
    assert "licensed under" not in result.stdout
    later = run(newsroom, "digest", "--since", "2999-01-01")
    assert later.stdout.splitlines() == ["0 articles added since 2999-01-01"]


def test_with_an_llm_a_summary_is_its_claims_each_with_a_verified_quote(
    seeded_dir: Path, real_embedder: Embedder
) -> None:
    settings = load_settings(overrides={"data_dir": str(seeded_dir)})
    store = ChromaStore.open_persistent(seeded_dir, real_embedder.fingerprint)
    written = answer_json(
        ("It is a slab carrying one decree", 1, "The same decree appears on it three times"),
        ("which the French found", 1, "French soldiers found the stone in July 1799"),
        ("and which no article says", 1, "The stone was carved by Ptolemy himself"),
    )
    model = FakeGenerator(written, NOT_ANSWERED_JSON)
    answerer = Answerer(
        store, store.keywords, real_embedder, settings.retrieval, settings.answer, generator=model
    )
    summary = answerer.ask("What is the Rosetta Stone article about?")
    assert not summary.abstained
    assert [quote.text for quote in summary.quotes] == [
        "The same decree appears on it three times",
        "French soldiers found the stone in July 1799",
    ]  # the claim whose quote is not in the article is dropped
    assert_quotes_verbatim(store, summary.quotes)
    assert "Rosetta Stone" in model.history[0][-1]["content"]
    # a model that verifies nothing: the article's own opening, as without an LLM
    fallback = answerer.ask("What is the Rosetta Stone article about?")
    assert fallback.quotes[0].text.startswith("The Rosetta Stone is a slab of granodiorite")


def test_a_learned_first_pick_never_reorders_the_latest(
    newsroom: Path, real_embedder: Embedder
) -> None:
    # The pick would lead with an older article's sentence; "the latest" keeps the newest
    # article first all the same.
    answerer = answerer_leading_with_the_tenth(newsroom, real_embedder)
    answer = answerer.ask("What is the latest news about Russia and Ukraine?")
    assert answer.quotes[0].published == "2022-03-02"
