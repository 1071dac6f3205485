"""Data flows one way: ruff refuses an import of bot/ in ingest/, and of either in config/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

RUFF = Path(sys.executable).with_name("ruff")


def ruff_on(path: str, source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUFF), "check", "--select", "TID251", "--stdin-filename", path, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("ingest/probe.py", "from bot.answering import Answerer\n"),
        ("ingest/probe.py", "import bot.cli\n"),
        ("config/probe.py", "from ingest.store import ChromaStore\n"),
        ("config/probe.py", "from bot.app import Library\n"),
    ],
)
def test_an_import_against_the_flow_fails_the_lint(path: str, source: str) -> None:
    result = ruff_on(path, source)
    assert result.returncode == 1
    assert "TID251" in result.stdout


def test_imports_along_the_flow_pass() -> None:
    assert ruff_on("bot/probe.py", "from ingest.store import ChromaStore\n").returncode == 0
    assert ruff_on("ingest/probe.py", "from config.settings import Settings\n").returncode == 0
