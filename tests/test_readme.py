"""README's fresh-machine commands stay true: CI runs README's test command, word for word, and
the answers README shows are what inquote prints over the seeds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.conftest import REPO


def fresh_machine_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```(?:bash|sh)\n(.+?)\n```", readme, re.DOTALL)[:2]


def test_readme_starts_with_a_setup_and_a_test_command() -> None:
    setup, tests = fresh_machine_commands()
    assert "pip install -e ." in setup
    assert "inquote ingest seeds/" in setup
    assert "inquote ask" in setup
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command() -> None:
    _, tests = fresh_machine_commands()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()


def asked_in_readme() -> list[tuple[str, str]]:
    """Each question README and the getting-started page show ``inquote ask`` answering over the
    seeds, with what they show."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    setup, _ = fresh_machine_commands()
    first = re.search(r'inquote ask "(.+?)"$', setup)
    shown = re.search(r"The first command ends with.*?```text\n(.+?)\n```", readme, re.DOTALL)
    assert first
    assert shown
    pairs = [(first.group(1), shown.group(1))]
    guide = (REPO / "docs" / "getting-started.md").read_text(encoding="utf-8")
    for block in re.findall(r"```console\n(.+?)\n```", readme + guide, re.DOTALL):
        for question, output in re.findall(r'^\$ inquote ask "([^"]+)"\n(.+?)(?=^\$|\Z)', block,
                                           re.DOTALL | re.MULTILINE):  # fmt: skip
            pairs.append((question, output))
    return pairs


@pytest.mark.parametrize(("question", "shown"), asked_in_readme(), ids=lambda text: text[:30])
def test_the_readme_shows_what_inquote_prints(seeded_dir: Path, question: str, shown: str) -> None:
    result = CliRunner().invoke(
        cli, ["--data-dir", str(seeded_dir), "ask", question], catch_exceptions=False
    )
    assert result.exit_code == 0

    def placed(text: str) -> str:  # an article id ends in a hash of where its file lies
        return re.sub(r"-[0-9a-f]{8}\b", "-…", text).strip()

    assert placed(result.output) == placed(shown.replace("/home/you/inquote", str(REPO)))
