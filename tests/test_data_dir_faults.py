"""Faults in the data directory: a damaged, missing or full file never crashes inquote or loses an
article; one line names the problem, and derived data (the keyword index) rebuilds itself."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from bot.journal import Journal, journal_damage
from ingest.reading import markdown_to_text
from tests.conftest import SEEDS
from tests.fake_telegram import FakeTelegram, serve, text_update
from tests.loopback import free_port, server_env
from tests.test_cli import run
from tests.test_telegram_bot import bot_process

INQUOTE = Path(sys.executable).with_name("inquote")
QUESTION = "Who deciphered the hieroglyphs?"
NOISE = ("Traceback", "panicked", "RUST_BACKTRACE")


def garble(path: Path) -> None:
    """64 KB of random bytes over the middle of the file (all of it when smaller)."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(max(size // 2 - 32768, 0))
        handle.write(os.urandom(min(65536, size)))


def truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 3)


FAULTS: dict[str, Callable[[Path], None]] = {
    "garbled": garble,
    "truncated": truncate,
    "deleted": Path.unlink,
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("faults-seeded")
    assert run(data_dir, "ingest", str(SEEDS)).exit_code == 0
    return data_dir


@pytest.fixture
def copy(seeded: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(seeded, target)
    return target


def keyword_file(data_dir: Path, kind: str) -> Path:
    [folder] = [found for found in (data_dir / "keywords").iterdir() if found.is_dir()]
    if kind == "segment":
        return next((folder / "tantivy").glob("*.idx"))
    return folder / ("tantivy/meta.json" if kind == "meta" else "articles.sqlite")


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("kind", ["meta", "segment", "table"])
def test_a_damaged_keyword_index_is_rebuilt_and_the_question_answered(
    copy: Path, kind: str, fault: str
) -> None:
    FAULTS[fault](keyword_file(copy, kind))
    result = run(copy, "ask", "--json", QUESTION)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert not answer["abstained"]
    assert "Champollion" in answer["quotes"][0]["text"]
    again = run(copy, "ask", "--json", QUESTION)  # the rebuilt index is whole
    assert "rebuilding" not in again.stderr
    assert json.loads(again.stdout)["quotes"] == answer["quotes"]


@pytest.mark.parametrize("fault", ["garbled", "deleted"])
@pytest.mark.parametrize("kind", ["vectors", "graph", "lock"])
def test_damaged_vector_segments_or_lock_never_stop_a_command(
    copy: Path, kind: str, fault: str
) -> None:
    """Chroma's HNSW segment files are rebuilt by Chroma from its own log; the writer lock is
    taken afresh."""
    segment = next(path for path in (copy / "chroma").iterdir() if path.is_dir())
    files = {"vectors": segment / "data_level0.bin", "graph": segment / "link_lists.bin"}
    FAULTS[fault](files.get(kind, copy / "inquote.lock"))
    for command in (["list"], ["ingest", str(SEEDS / "rosetta-stone.md")]):
        result = run(copy, *command)
        assert result.exit_code == 0, result.output
    answer = json.loads(run(copy, "ask", "--json", QUESTION).stdout)
    assert "Champollion" in answer["quotes"][0]["text"]


def test_a_folder_of_link_loops_beside_a_good_file_stores_the_good_file(tmp_path: Path) -> None:
    folder = tmp_path / "loops"
    folder.mkdir()
    (folder / "a.txt").symlink_to("b.txt")
    (folder / "b.txt").symlink_to("a.txt")
    (folder / "self").symlink_to(".")
    (folder / "good.txt").write_text("Harbour news\n\nThe harbour of Loopville opened in 1901.\n")
    for follow in ("false", "true"):
        data_dir = tmp_path / f"data-{follow}"
        result = run(data_dir, "--set", f"ingest.follow_symlinks={follow}", "ingest", str(folder))
        assert result.exit_code == 0, result.output
        assert "1 added" in result.stdout
        assert "a symbolic link that leads nowhere" in result.stderr


def test_a_damaged_journal_is_kept_aside_and_a_new_one_started(tmp_path: Path) -> None:
    path = tmp_path / "telegram.sqlite3"
    Journal(path).close()
    path.write_bytes(b"this is not a database" * 100)
    assert journal_damage(path) is not None
    journal = Journal.open(path)
    assert journal.pending() == []
    [kept] = tmp_path.glob("telegram.sqlite3.damaged-*")
    assert kept.read_bytes().startswith(b"this is not a database")
    assert journal_damage(path) is None


def test_doctor_reports_a_damaged_journal_and_feeds_file_without_a_traceback(copy: Path) -> None:
    (copy / "telegram.sqlite3").write_bytes(os.urandom(8192))
    result = run(copy, "doctor")
    assert "the Telegram journal" in result.stdout
    assert "damaged" in result.stdout
    (copy / "telegram.sqlite3").unlink()
    (copy / "feeds.json").write_text("[{not json")
    result = run(copy, "doctor")
    assert "feeds.json" in result.stdout
    for command in (["feeds"], ["ingest", "--feed", "http://127.0.0.1:9/feed.xml"]):
        result = run(copy, *command)
        assert result.exit_code == 1
        assert "feeds.json" in result.output
        assert result.output.count("\n") == 1, result.output  # one line
    assert (copy / "feeds.json").read_text() == "[{not json"  # kept for the user to fix


def test_a_long_line_of_unclosed_markdown_is_read_in_linear_time() -> None:
    for line in ("**a " * 25_000, "[a " * 33_000, "_a " * 33_000):
        started = time.perf_counter()
        assert markdown_to_text(line).startswith(line[:20].strip()[:2])
        assert time.perf_counter() - started < 5


def inquote(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real inquote process (a Rust panic writes to the process's stderr, past Python)."""
    env = {**os.environ, "INQUOTE_DATA_DIR": str(data_dir), "INQUOTE_LLM__BACKEND": "extractive"}
    return subprocess.run(
        [str(INQUOTE), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def assert_one_clean_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode in {0, 1}, output
    assert not any(noise in output for noise in NOISE), output
    for word in words:
        assert word in output, output


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["garbled", "truncated"])
def test_a_damaged_store_gives_one_line_from_every_command(copy: Path, fault: str) -> None:
    FAULTS[fault](copy / "chroma" / "chroma.sqlite3")
    for command in (["list"], ["ask", QUESTION], ["ingest", str(SEEDS)], ["remove", "x"]):
        result = inquote(copy, *command)
        assert result.returncode == 1
        assert_one_clean_line(result, "damaged")
    doctor = inquote(copy, "doctor")
    assert_one_clean_line(doctor, "damaged")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2.5 MB filesystem (tmpfs), grown to 64 MB by ``grow``; needs root to mount."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2500k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def harbour_notes(folder: Path, towns: int = 300) -> Path:
    """A folder of one short article per town, each a one-chunk answer to "Who opened the
    harbour of town N?"."""
    folder.mkdir()
    for town in range(towns):
        (folder / f"note{town:03d}.txt").write_text(
            f"Town {town} harbour\n\nThe harbour of town {town} was opened by mayor Name{town} "
            f"in the year {1700 + town}. It has {town} boats and a lighthouse.\n"
        )
    return folder


def grow(mount: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)


@pytest.mark.slow
def test_a_disk_that_fills_during_an_ingest_loses_no_article(
    small_disk: Path, tmp_path: Path
) -> None:
    notes = harbour_notes(tmp_path / "notes")
    data_dir = small_disk / "data"
    first = inquote(data_dir, "ingest", str(notes))
    assert first.returncode == 1
    assert_one_clean_line(first, "is full")
    for command in (["list"], ["ask", "Who opened the harbour of town 7?"]):
        assert_one_clean_line(inquote(data_dir, *command), "is full")
    grow(small_disk)
    again = inquote(data_dir, "ingest", str(notes))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "— 300 chunks in the store" in again.stdout
    for town in (0, 150, 299):
        asked = inquote(data_dir, "ask", "--json", f"Who opened the harbour of town {town}?")
        answer = json.loads(asked.stdout)
        assert f"Name{town} " in answer["quotes"][0]["text"], answer


def test_a_backup_restores_a_store_damaged_since(copy: Path, tmp_path: Path) -> None:
    saved = tmp_path / "backup"
    result = run(copy, "backup", str(saved))
    assert result.exit_code == 0, result.output
    assert not (saved / "keywords").exists()  # derived: rebuilt after a restore
    assert run(copy, "backup", str(saved)).exit_code == 1  # never over an earlier backup
    garble(copy / "chroma" / "chroma.sqlite3")
    assert "damaged" in run(copy, "list").output
    assert "damaged" in run(copy, "backup", str(tmp_path / "second")).output
    result = run(copy, "restore", str(saved))
    assert result.exit_code == 0, result.output
    [aside] = tmp_path.glob("data.before-restore-*")
    assert (aside / "chroma" / "chroma.sqlite3").is_file()  # the damaged one, kept
    answer = json.loads(run(copy, "ask", "--json", QUESTION).stdout)
    assert "Champollion" in answer["quotes"][0]["text"]


def chroma_run(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """``chroma run`` on ``folder`` at ``port`` (the same port again after a restart)."""
    chroma = Path(sys.executable).with_name("chroma")
    server = subprocess.Popen(
        [str(chroma), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError("the Chroma server did not start")


@pytest.mark.slow
def test_a_store_server_killed_mid_ingest_gives_one_line_and_a_rerun_finishes(
    tmp_path: Path,
) -> None:
    notes = harbour_notes(tmp_path / "notes")
    port = free_port()
    env = {**os.environ, **server_env(port), "INQUOTE_DATA_DIR": str(tmp_path / "host")}
    env["INQUOTE_LLM__BACKEND"] = "extractive"
    server = chroma_run(tmp_path / "chroma", port)
    ingest = subprocess.Popen(
        [str(INQUOTE), "ingest", str(notes)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(4)  # the model loaded, the first batches written
    server.kill()
    server.wait()
    out, err = ingest.communicate(timeout=300)
    assert ingest.returncode == 1
    assert not any(noise in out + err for noise in NOISE), err
    assert "the same ingest stores the rest" in err
    server = chroma_run(tmp_path / "chroma", port)
    try:
        again = subprocess.run([str(INQUOTE), "ingest", str(notes)], env=env,
                               capture_output=True, text=True, check=False)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert "— 300 chunks in the store" in again.stdout
    finally:
        server.kill()
        server.wait()


def test_a_source_name_with_terminal_escapes_is_printed_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "harbour\x1b[2J\x1b]0;owned\x07.txt").write_text(
        "Harbour news\n\nThe harbour of Escapeville was opened in 1901 by mayor Berit Olsen.\n"
    )
    data_dir = tmp_path / "data"
    assert run(data_dir, "ingest", str(folder)).exit_code == 0
    result = run(data_dir, "ask", "Who opened the harbour of Escapeville?")
    assert result.exit_code == 0, result.output
    assert "Berit Olsen" in result.stdout
    assert "\x1b" not in result.stdout
    assert "\x07" not in result.stdout
    assert "\\x1b[2J" in result.stdout


def test_a_mistyped_data_dir_or_a_deleted_database_is_named_not_made_anew(
    copy: Path, tmp_path: Path
) -> None:
    for command in (["list"], ["ask", QUESTION], ["doctor"]):
        result = run(tmp_path / "no-such-dir", *command)
        assert result.exit_code == 1
        assert "There is no store in" in result.output
    assert not (tmp_path / "no-such-dir" / "chroma").exists()
    (copy / "chroma" / "chroma.sqlite3").unlink()
    result = run(copy, "list")
    assert result.exit_code == 1
    assert "chroma.sqlite3 is missing" in result.output


class Reader:
    """Collects a process's output in the background, to wait for a line in it."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.text = ""
        assert process.stdout is not None
        stream = self._stream = process.stdout
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Once the process has ended: the rest of its output read, the pipe closed."""
        self._thread.join(timeout=10)
        self._stream.close()

    def _read(self, stream: IO[str]) -> None:
        for piece in iter(lambda: stream.read(1), ""):
            self.text += piece

    def wait_for(self, words: str, count: int = 1, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while self.text.count(words) < count:
            assert time.monotonic() < deadline, self.text
            time.sleep(0.1)


@pytest.mark.slow
def test_chat_says_the_store_server_is_away_and_answers_once_it_is_back(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **server_env(port), "INQUOTE_DATA_DIR": str(tmp_path / "host")}
    env["INQUOTE_LLM__BACKEND"] = "extractive"
    server = chroma_run(tmp_path / "chroma", port)
    try:
        subprocess.run([str(INQUOTE), "ingest", str(SEEDS)], env=env, check=True,
                       capture_output=True)  # fmt: skip
        chat = subprocess.Popen([str(INQUOTE), "chat"], env=env, text=True, bufsize=0,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)  # fmt: skip
        assert chat.stdin is not None
        output = Reader(chat)
        chat.stdin.write(QUESTION + "\n")
        output.wait_for("Champollion")
        server.kill()
        server.wait()
        chat.stdin.write(QUESTION + "\n")
        output.wait_for("ask again once it is back")
        server = chroma_run(tmp_path / "chroma", port)
        chat.stdin.write(QUESTION + "\n")
        output.wait_for("Champollion", count=2)
        chat.stdin.write("/quit\n")
        assert chat.wait(timeout=60) == 0
        output.close()
        chat.stdin.close()
        assert not any(noise in output.text for noise in NOISE), output.text
    finally:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_a_lost_store_is_built_again_from_its_sources(tmp_path: Path) -> None:
    """`reindex --from-sources` reads every noted source again, into the libraries it was in;
    the damaged store is kept aside, and an upload that can't be read again is named."""
    data = tmp_path / "data"
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    assert run(data, "ingest", str(folder)).exit_code == 0
    rosetta = str(folder / "rosetta-stone.md")
    assert run(data, "ingest", "--library", "museums", rosetta).exit_code == 0
    (folder / "takht-e-jamshid-persepolis.md").unlink()  # a source gone since
    (data / "sources.jsonl").unlink()  # a store from before the log: noted at the next ingest
    assert run(data, "ingest", "--library", "museums", rosetta).exit_code == 0
    database = data / "chroma" / "chroma.sqlite3"
    database.write_bytes(b"\0" * 4096)  # the store is lost
    lost = run(data, "list")
    assert lost.exit_code == 1
    assert "inquote reindex --from-sources" in lost.output
    rebuilt = run(data, "reindex", "--from-sources")
    assert rebuilt.exit_code == 1, rebuilt.output  # one source could not be read again
    assert "rebuilt from 5 sources: 4 articles stored, 1 failed" in rebuilt.stdout
    assert "takht-e-jamshid-persepolis.md" in rebuilt.stderr
    assert list(data.glob("chroma.before-rebuild-*/chroma.sqlite3"))  # kept, not deleted
    museums = [json.loads(line) for line in run(data, "list", "--json", "--library",
                                                "museums").stdout.splitlines()]  # fmt: skip
    assert [article["title"] for article in museums] == [
        "The Rosetta Stone and the decipherment of hieroglyphs"
    ]
    answer = json.loads(run(data, "ask", "Who deciphered the hieroglyphs?", "--json").stdout)
    assert "Champollion" in answer["quotes"][0]["text"]
    assert not answer["abstained"]


@pytest.mark.slow
@pytest.mark.parametrize("damaged", ["telegram.sqlite3", "feeds.json", "chroma/chroma.sqlite3"])
def test_the_bot_starts_on_its_damaged_files_or_stops_with_one_line(
    copy: Path, damaged: str
) -> None:
    """`inquote telegram` against the fake Bot API: a damaged journal is kept aside, a damaged
    feeds file (the bot does not poll feeds) left alone, and it answers; a damaged store stops it
    with one line, never a traceback."""
    Journal(copy / "telegram.sqlite3").close()
    (copy / "feeds.json").write_text("[]")
    garble(copy / damaged)
    question = text_update(1, "Who first stepped onto the Moon?", user_id=42)
    with serve(FakeTelegram(updates=[question])) as fake:
        process = bot_process(copy, fake, [42])
        try:
            if damaged.startswith("chroma"):
                _, stderr = process.communicate(timeout=120)
                assert process.returncode == 1
            else:
                fake.wait_for("sendMessage", timeout=120)
                process.send_signal(signal.SIGTERM)
                _, stderr = process.communicate(timeout=30)
                assert process.returncode == 0
        finally:
            process.kill()
    log = stderr.decode()
    assert not any(noise in log for noise in NOISE), log
    if damaged.startswith("chroma"):
        [error] = [line for line in log.splitlines() if " INFO " not in line]
        assert error.startswith("Error: The store at "), log
        assert "is damaged" in error
        return
    assert "Armstrong" in fake.called("sendMessage")[0]["text"]
    if damaged == "telegram.sqlite3":
        assert list(copy.glob("telegram.sqlite3.damaged-*")), "the damaged journal is kept aside"
        assert "journal" in log
        assert "damaged" in log
