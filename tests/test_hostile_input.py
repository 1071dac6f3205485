"""Broken and hostile input never stops inquote: one bad source fails alone, with its reason."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import cli
from config.errors import ConfigError
from config.settings import load_settings
from ingest.chroma_collections import store_fault
from ingest.html_text import extract_html
from ingest.web import article_from_html
from tests.conftest import SEEDS
from tests.fake_web import pdf_file
from tests.test_cli import run

INQUOTE = Path(sys.executable).with_name("inquote")
PARAGRAPHS = [
    "The council met on Monday to discuss the harbour budget for the coming year in detail.",
    "After a long debate the vote passed by seven to two, and work starts in the spring.",
    "The mayor said the new quay would let larger ferries call at the port every week.",
]
UNCLOSED = [
    "<aside><ul><li>Bus<li>Bikes</ul></aside>",
    "<nav><ul><li>Home<li>News<li>Sport</nav>",
    "<form><select><option>One<option>Two</select></form>",
    "<header><p>Subscribe today<p>Log in</header>",
]


def pdf(content: bytes, *, length: bytes | None = None, flate: bool = False) -> bytes:
    """A one-page PDF whose page draws ``content``; ``length`` overrides the declared /Length."""
    stream = zlib.compress(content) if flate else content
    declared = length or str(len(stream)).encode()
    filters = b" /Filter /FlateDecode" if flate else b""
    return pdf_file([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources"
        b" << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
        b"<< /Length " + declared + filters + b" >>\nstream\n" + stream + b"\nendstream",
    ])  # fmt: skip


def hostile_folder(tmp_path: Path) -> Path:
    """The seeds beside a self-referencing PDF, a PDF bomb, a page in a bogus charset, a page with
    unclosed elements in its boilerplate, a FIFO and links out of the folder."""
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    (folder / "self-length.pdf").write_bytes(pdf(b"BT /F1 12 Tf (Hi) Tj ET", length=b"4 0 R"))
    bomb = b"BT /F1 12 Tf 72 700 Td (" + b"A" * 40 + b") Tj ET\n" + b" " * 60_000_000
    (folder / "bomb.pdf").write_bytes(pdf(bomb, flate=True))
    (folder / "bogus-charset.html").write_bytes(
        b'<html><head><meta charset="bogus-xyz"><title>Odd</title></head><body><article><p>'
        + "Caf\u00e9 owners in the old town said the new rules came too fast for them.".encode(
            "latin-1"
        )
        + b"</p></article></body></html>"
    )
    body = "".join(
        f"<p>{text}</p>{noise}" for text, noise in zip(PARAGRAPHS, UNCLOSED, strict=False)
    )
    (folder / "unclosed.html").write_text(
        f"<html><head><title>Harbour vote</title></head><body><article>{body}</article>"
        "</body></html>",
        encoding="utf-8",
    )
    os.mkfifo(folder / "pipe.txt")
    (folder / "zeros.txt").symlink_to("/dev/zero")
    outside = tmp_path / "outside.txt"
    outside.write_text("A file that lives outside the folder being ingested.", encoding="utf-8")
    (folder / "outside.txt").symlink_to(outside)
    return folder


@pytest.mark.slow  # a 60 MB PDF bomb
def test_a_folder_of_hostile_files_fails_each_alone_and_stores_the_rest(tmp_path: Path) -> None:
    folder = hostile_folder(tmp_path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    env = {"INQUOTE_INGEST__MAX_PDF_STREAM_BYTES": "5000000"}
    result = run(tmp_path / "data", "ingest", str(folder), env=env)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    failed = [line for line in result.stderr.splitlines() if line.startswith("  failed: ")]
    reasons = "\n".join(failed)
    assert "self-length.pdf: refused, the PDF trips a safety limit" in reasons
    assert "bomb.pdf: refused, the PDF trips a safety limit (Limit reached while decomp" in reasons
    assert "bogus-charset.html: not UTF-8 text, and its declared charset 'bogus-xyz'" in reasons
    assert "pipe.txt: not a regular file" in reasons
    assert len(failed) == 4
    assert "a symbolic link out of" in result.stderr  # zeros.txt and outside.txt: skipped
    listing = run(tmp_path / "data", "list", "--json").stdout
    listed = [json.loads(line) for line in listing.splitlines()]
    titles = {article["title"] for article in listed}
    assert len([p for p in SEEDS.iterdir() if p.name != "NOTICE"]) + 1 == len(listed)
    assert "Harbour vote" in titles
    stored = run(tmp_path / "data", "ask", "--json", "What did the mayor say about the quay?")
    assert "larger ferries" in json.loads(stored.stdout)["answer"]
    assert grown_mb < 512


def test_store_holds_every_paragraph_of_the_unclosed_page(tmp_path: Path) -> None:
    folder = hostile_folder(tmp_path)
    run(tmp_path / "data", "ingest", str(folder / "unclosed.html"))
    [article] = [
        json.loads(line) for line in run(tmp_path / "data", "list", "--json").stdout.split("\n")
        if line
    ]  # fmt: skip
    answer = json.loads(run(tmp_path / "data", "ask", "--json", "How did the vote go?").stdout)
    assert article["title"] == "Harbour vote"
    assert "seven to two" in answer["answer"]


VOCABULARY = ["harbour", "council", "budget", "vote", "quay", "ferry", "mayor", "port", "city"]
words = st.lists(st.sampled_from(VOCABULARY), min_size=12, max_size=30)


@settings(max_examples=40, deadline=None)
@given(
    paragraphs=st.lists(words.map(lambda ws: " ".join(ws).capitalize() + "."), min_size=1,
                        max_size=6, unique=True),
    noise=st.lists(st.sampled_from(["", *UNCLOSED]), min_size=6, max_size=6),
    wrapped=st.booleans(),
)  # fmt: skip
def test_no_paragraph_is_lost_to_unclosed_boilerplate(
    paragraphs: list[str], noise: list[str], wrapped: bool
) -> None:
    body = "".join(f"<p>{text}</p>{extra}" for text, extra in zip(paragraphs, noise, strict=False))
    page = f"<html><head><title>T</title></head><body>{body}</body></html>"
    if wrapped:
        page = page.replace("<body>", "<body><article>").replace("</body>", "</article></body>")
    text = extract_html(page).text
    for paragraph in paragraphs:
        assert paragraph in text


def test_mutated_pdfs_fail_with_a_reason_and_never_escape(tmp_path: Path) -> None:
    good = pdf(b"BT /F1 12 Tf 72 700 Td (" + b"The tide report says the surge was high. " * 4
               + b") Tj ET")  # fmt: skip
    rng = random.Random(7)
    folder = tmp_path / "mutants"
    folder.mkdir()
    for index in range(60):
        mutant = bytearray(good)
        for _ in range(rng.randint(1, 12)):
            mutant[rng.randrange(len(mutant))] = rng.randrange(256)
        cut = rng.randrange(len(mutant) // 2, len(mutant) + 1)
        (folder / f"mutant-{index:02d}.pdf").write_bytes(bytes(mutant[:cut]))
    result = run(tmp_path / "data", "ingest", str(folder))
    assert "Traceback" not in result.output
    outcomes = [line for line in result.stderr.splitlines() if line.startswith("  failed: ")]
    stored = run(tmp_path / "data", "list", "--json").stdout.splitlines()
    assert len(outcomes) + len(stored) == 60  # every mutant: stored whole, or failed with a reason


def test_a_batch_of_questions_survives_undecodable_and_empty_lines(seeded_dir: Path) -> None:
    lines = (
        b"Who deciphered the hieroglyphs?\n\xff\xfe not text\n\n"
        b"Which gas pipeline certification did Germany suspend?\n"
    )
    env = {"INQUOTE_DATA_DIR": str(seeded_dir), "INQUOTE_LLM__BACKEND": "extractive"}
    result = CliRunner().invoke(cli, ["ask", "--json", "-"], input=lines, env=env)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [bool(a.get("error")) for a in answers] == [False, True, True, False]
    assert not answers[0]["abstained"]
    assert not answers[3]["abstained"]
    assert answers[1]["error"] == "The question is not valid UTF-8 text"
    assert answers[2]["error"] == "The question is empty"
    assert all({"question", "answer", "abstained", "quotes", "backend"} <= set(a) for a in answers)


def test_a_megabyte_question_in_a_batch_gets_its_error_and_the_batch_goes_on(
    seeded_dir: Path,
) -> None:
    lines = b"x" * 1_000_000 + b"\nWho deciphered the hieroglyphs?\n"
    env = {"INQUOTE_DATA_DIR": str(seeded_dir), "INQUOTE_LLM__BACKEND": "extractive"}
    result = CliRunner().invoke(cli, ["ask", "--json", "-"], input=lines, env=env)
    refused, answered = (json.loads(line) for line in result.stdout.splitlines())
    assert refused["error"].startswith("The question is 1000000 characters long; the limit is")
    assert len(refused["question"]) < 1000  # the error does not echo the megabyte back
    assert not answered["abstained"]


def test_an_empty_or_huge_question_is_refused_with_one_line(tmp_path: Path) -> None:
    empty = run(tmp_path, "ask", "  ")
    assert empty.exit_code == 2
    assert "The question is empty" in empty.stderr
    huge = run(tmp_path, "ask", "x" * 100_000)
    assert huge.exit_code == 1
    assert "limit is 4096 (answer.max_question_chars)" in huge.stderr
    assert "Traceback" not in huge.output


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INQUOTE_OLLAMA__TIMEOUT_SECONDS": "inf"}, "'ollama.timeout_seconds': .* finite number"),
        ({"INQUOTE_FETCH__DEADLINE_SECONDS": "nan"}, "'fetch.deadline_seconds': .* finite number"),
        ({"INQUOTE_DATA_DIR": ""}, "'data_dir': Value error, is empty"),
    ],
)  # fmt: skip
def test_config_values_that_mean_nothing_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "inquote.toml"
    config.write_bytes(b"[answer]\nmax_quotes = 2 # caf\xe9\n")
    result = run(tmp_path, "--config", str(config), "list")
    assert result.exit_code == 1
    assert "is not UTF-8 text" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("depth", [300, 3_000, 20_000])
def test_text_nested_thousands_of_elements_deep_is_kept(tmp_path: Path, depth: int) -> None:
    body = "<div>" * depth + "".join(f"<p>{text}</p>" for text in PARAGRAPHS) + "</div>" * depth
    page = tmp_path / "deep.html"
    page.write_text(f"<html><head><title>Deep harbour</title></head><body>{body}</body></html>")
    assert run(tmp_path / "data", "ingest", str(page)).exit_code == 0
    answer = json.loads(run(tmp_path / "data", "ask", "--json", "How did the vote go?").stdout)
    assert answer["quotes"][0]["title"] == "Deep harbour"
    assert "seven to two" in answer["quotes"][0]["text"]


@pytest.mark.slow
def test_a_file_slower_to_read_than_the_deadline_fails_alone(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "slow.md").write_text("**a " * 250_000)  # a megabyte of unclosed emphasis: seconds
    (folder / "vote.txt").write_text("\n\n".join(["Harbour vote", *PARAGRAPHS]))
    limited = {"INQUOTE_INGEST__MAX_PARSE_SECONDS": "0.2"}
    result = run(tmp_path / "data", "ingest", str(folder), env=limited)
    assert result.exit_code == 1
    [failed] = [line for line in result.stderr.splitlines() if "failed: " in line]
    assert "slow.md: reading it took longer than ingest.max_parse_seconds (0.2 s)" in failed
    listed = run(tmp_path / "data", "list").stdout
    assert "Harbour vote" in listed


def test_a_canonical_url_on_another_site_is_not_believed() -> None:
    page = (
        '<html><head><title>Copied</title><link rel="canonical" href="{}"></head><body>'
        "<article><p>The harbour bridge will be rebuilt, the council decided on Monday night.</p>"
        "<p>Work starts in spring and the ferry keeps running during the works.</p></article>"
        "</body></html>"
    )
    spoofed = article_from_html(
        page.format("https://news.example.com/s"), "https://x.example.net/b"
    )
    assert spoofed.source == "https://x.example.net/b"
    own = article_from_html(page.format("https://www.example.com/s"), "https://example.com/s?utm=1")
    assert own.source == "https://www.example.com/s"


def test_a_newline_in_a_file_name_keeps_list_to_one_line_an_article(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "two\nlines.txt").write_text("Two lines\n\nThe name of this file has a newline.")
    run(tmp_path / "data", "ingest", str(folder))
    listed = run(tmp_path / "data", "list").stdout.splitlines()
    assert any(line.endswith("two\\nlines.txt  [default]") for line in listed), listed
    assert listed[-1].startswith("1 articles")


def failing_command(data_dir: Path, *command: str) -> str:
    """What a real ``inquote`` process prints when it must fail with one line, exit code 1."""
    env = {**os.environ, "INQUOTE_DATA_DIR": str(data_dir), "INQUOTE_LLM__BACKEND": "extractive"}
    result = subprocess.run(
        [str(INQUOTE), *command], env=env, capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, (command, output)
    assert "Traceback" not in output
    return output


STORE_COMMANDS = (["list"], ["ask", "Who deciphered the hieroglyphs?"], ["doctor"])


@pytest.mark.slow  # real processes: Chroma keeps a broken store's client for the process's life
def test_a_damaged_store_is_one_line_for_every_command(seeded_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(seeded_dir, data)
    (data / "chroma" / "chroma.sqlite3").write_bytes(b"not a database at all" * 200)
    for command in STORE_COMMANDS:
        output = failing_command(data, *command)
        assert "is damaged" in output
        assert "inquote reindex --from-sources" in output  # its sources are noted


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (OSError(28, "No space left on device"), "is full: free some space"),
        (OSError(30, "Read-only file system"), "is not writable"),
        (RuntimeError("attempt to write a readonly database"), "is not writable"),
        (RuntimeError("database disk image is malformed"), "is damaged"),
        (RuntimeError("database is locked"), "is locked by another process"),
    ],
)
def test_store_faults_say_what_is_wrong_and_what_to_do(error: Exception, says: str) -> None:
    message = str(store_fault(error, Path("/data/chroma")))
    assert says in message
    assert "\n" not in message


@pytest.fixture
def read_only_copy(seeded_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """The seeded data dir, bind-mounted read-only (root only; skipped where mounting is denied)."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    mounted = tmp_path / "read-only"
    mounted.mkdir()
    bind = subprocess.run(
        ["mount", "--bind", str(seeded_dir), str(mounted)], capture_output=True, check=False
    )
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bind.stderr.decode(errors='replace').strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mounted)], check=True)
        yield mounted
    finally:
        subprocess.run(["umount", str(mounted)], check=False)


@pytest.mark.slow  # real processes on a read-only mount
def test_a_read_only_store_is_one_line_saying_how_to_copy_it(read_only_copy: Path) -> None:
    # Measured: Chroma 1.5 opens its SQLite file for writing even to read, so a read-only store
    # can't be served; each command says so and how to copy it.
    for command in [*STORE_COMMANDS, ["ingest", str(SEEDS / "rosetta-stone.md")]]:
        output = failing_command(read_only_copy, *command)
        assert "is not writable" in output
        assert "point --data-dir at the copy" in output
