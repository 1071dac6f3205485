"""README's fresh-machine commands stay true: CI runs README's test command, word for word."""

from __future__ import annotations

import re

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
