"""Server mode against a real Chroma server (``chroma run`` from the chromadb package), and the
embedded store's one-writer lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest

from config.errors import StoreError
from config.settings import load_settings
from ingest.embedding import Embedder
from ingest.store import ChromaStore
from tests import loopback
from tests.conftest import SEEDS
from tests.loopback import free_port, server_env
from tests.test_cli import run

pytestmark = pytest.mark.slow  # a real `chroma run` server and inquote processes
INQUOTE = Path(sys.executable).with_name("inquote")


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A Chroma server on a free loopback port, from the chromadb package's own CLI."""
    with loopback.chroma_server(tmp_path_factory.mktemp("chroma-server")) as server:
        yield server.port


def test_reads_see_what_a_concurrent_ingest_writes(
    chroma_server: int, tmp_path: Path, real_embedder: Embedder
) -> None:
    settings = load_settings(
        overrides={"data_dir": str(tmp_path / "reader"), **_dotted(server_env(chroma_server))}
    )
    reader = ChromaStore.open_server(settings.store, real_embedder.fingerprint, settings.data_dir)
    env = {**os.environ, "INQUOTE_DATA_DIR": str(tmp_path / "writer"), **server_env(chroma_server)}
    env["INQUOTE_LLM__BACKEND"] = "extractive"
    writers = [
        subprocess.Popen([INQUOTE, "ingest", str(SEEDS / name)], env=env, stdout=subprocess.PIPE)
        for name in ("rosetta-stone.md", "apollo-11-moon-landing.html")
    ]  # two ingest processes at once: server mode takes no lock
    seen_during = set()
    while any(writer.poll() is None for writer in writers):
        seen_during.add(len(reader.articles()))
        time.sleep(0.05)
    for writer in writers:
        out, _ = writer.communicate()
        assert writer.returncode == 0
        assert b"1 added" in out
    assert len(reader.articles()) == 2
    assert seen_during <= {0, 1, 2}
    asked = subprocess.run(
        [INQUOTE, "ask", "--json", "Who deciphered the hieroglyphs?"],
        env=env, capture_output=True, check=True,
    )  # fmt: skip
    answer = json.loads(asked.stdout)
    assert "Champollion" in answer["quotes"][0]["text"]
    assert not (tmp_path / "writer" / "chroma").exists()  # nothing went to an embedded store


def test_a_running_reader_finds_by_keyword_what_another_host_just_added(
    chroma_server: int, tmp_path: Path
) -> None:
    """Two hosts (two data directories) on one server store: the reader's next question finds
    the new article by a word only it contains, and its keyword index reads that article alone."""
    base = {**os.environ, **server_env(chroma_server), "INQUOTE_LLM__BACKEND": "extractive"}
    reader_env = {**base, "INQUOTE_DATA_DIR": str(tmp_path / "host-a"),
                  "INQUOTE_RETRIEVAL__MODE": "bm25"}  # fmt: skip
    reader = subprocess.Popen(
        [INQUOTE, "-v", "ask", "--json", "-"], env=reader_env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert reader.stdin is not None
    assert reader.stdout is not None
    question = "What happened to the zanzibarian clove harvest?\n"

    def ask() -> list[str]:
        assert reader.stdin is not None
        assert reader.stdout is not None
        reader.stdin.write(question)
        reader.stdin.flush()
        return [quote["text"] for quote in json.loads(reader.stdout.readline())["quotes"]]

    try:
        assert not any("zanzibarian" in quote for quote in ask())
        note = tmp_path / "cloves.txt"
        note.write_text(
            "Cloves\n\nThe zanzibarian clove harvest fell by a third this year, and the "
            "farmers said the rains came late.",
            encoding="utf-8",
        )
        added = subprocess.run(
            [INQUOTE, "ingest", str(note)], env={**base, "INQUOTE_DATA_DIR": str(tmp_path / "b")},
            capture_output=True, check=True,
        )  # fmt: skip
        assert b"1 added" in added.stdout
        assert not (tmp_path / "b" / "keywords").exists()  # an ingest host indexes nothing
        assert any("zanzibarian" in quote for quote in ask())
    finally:
        _, log = reader.communicate(timeout=60)  # closes stdin: the reader's batch ends
    indexed = [line for line in log.splitlines() if "keyword index:" in line]
    assert len(indexed) == 2  # the first look at the store, then the one new article
    assert "keyword index: 1 articles indexed, 0 removed" in indexed[1]


def _dotted(env: dict[str, str]) -> dict[str, str]:
    return {
        name[len("INQUOTE_") :].lower().replace("__", "."): value for name, value in env.items()
    }


def test_a_server_of_another_version_is_refused(
    chroma_server: int, real_embedder: Embedder, tmp_path: Path
) -> None:
    settings = load_settings(overrides=_dotted(server_env(chroma_server)))
    with pytest.raises(StoreError) as refused:
        ChromaStore.open_server(
            settings.store, real_embedder.fingerprint, tmp_path, client_version="0.4.24"
        )
    message = str(refused.value)
    assert f"runs version {chromadb.HttpClient(port=chroma_server).get_version()}" in message
    assert "chromadb 0.4.24 client" in message
    assert "chromadb/chroma:0.4.24" in message


def test_a_dead_server_says_how_to_start_one(real_embedder: Embedder, tmp_path: Path) -> None:
    settings = load_settings(overrides=_dotted(server_env(free_port())))
    with pytest.raises(StoreError, match=r"not reachable .*`docker compose up -d chroma`"):
        ChromaStore.open_server(settings.store, real_embedder.fingerprint, tmp_path)


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from ingest.locking import DataDirLock
lock = DataDirLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_embedded_writer_is_refused_fast(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        refused = run(tmp_path, "ingest", str(SEEDS / "rosetta-stone.md"))
        waited = time.monotonic() - started
        readers = run(tmp_path, "list")  # reading takes no lock
    finally:
        holder.kill()
        holder.communicate()
    assert refused.exit_code == 1
    assert waited < 2
    assert f"is in use by inquote process {holder.pid}" in refused.stderr
    assert "store.mode = server" in refused.stderr
    assert "is in use" not in readers.output  # no wait for the lock; there is no store yet
    assert "There is no store in" in readers.output
    again = run(tmp_path, "ingest", str(SEEDS / "rosetta-stone.md"))  # the lock died with it
    assert again.exit_code == 0, again.output
