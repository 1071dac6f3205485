"""Settings: defaults < --config FILE < INQUOTE_* environment < command line; clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.errors import ConfigError
from config.settings import default_data_dir, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inquote.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_load_and_use_the_per_user_data_dir() -> None:
    settings = load_settings()
    assert settings.data_dir == default_data_dir()
    assert settings.embedding.backend == "embedded"
    assert settings.retrieval.top_k == 5
    assert settings.ollama.url == "http://localhost:11434"


def test_each_layer_beats_the_one_before(tmp_path: Path) -> None:
    config = write(
        tmp_path, "[retrieval]\ntop_k = 7\n[answer]\nmax_quotes = 2\nmin_evidence = 0.4\n"
    )
    env = {"INQUOTE_RETRIEVAL__TOP_K": "9", "INQUOTE_ANSWER__MAX_QUOTES": "4"}
    settings = load_settings(config, env, {"retrieval.top_k": "11"})
    assert settings.retrieval.top_k == 11  # command line over env over file
    assert settings.answer.max_quotes == 4  # env over file
    assert settings.answer.min_evidence == 0.4  # file over defaults
    assert settings.chunking.chunk_size == 128  # defaults


def test_data_dir_comes_from_env_or_command_line(tmp_path: Path) -> None:
    env = {"INQUOTE_DATA_DIR": str(tmp_path / "env")}
    assert load_settings(env=env).data_dir == tmp_path / "env"
    flag = load_settings(env=env, overrides={"data_dir": str(tmp_path / "flag")})
    assert flag.data_dir == tmp_path / "flag"


def test_env_names_map_to_nested_keys() -> None:
    env = {
        "INQUOTE_OLLAMA__URL": "http://ollama:11434",
        "INQUOTE_EMBEDDING__BACKEND": "ollama",
        "INQUOTE_LLM__BACKEND": "embedded",
        "INQUOTE_LLM__NUM_CTX": "8192",
        "INQUOTE_CONVERSATION__HISTORY_TURNS": "2",
        "PATH": "/usr/bin",  # not ours: ignored
    }
    settings = load_settings(env=env)
    assert settings.ollama.url == "http://ollama:11434"
    assert settings.embedding.backend == "ollama"
    assert settings.llm.backend == "embedded"
    assert settings.llm.num_ctx == 8192
    assert settings.conversation.history_turns == 2


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        ({"file": "[retrieval]\ntop_kk = 3\n"}, "unknown setting 'retrieval.top_kk' (from "),
        ({"file": "[retreival]\ntop_k = 3\n"}, "unknown setting 'retreival'"),
        ({"env": {"INQUOTE_RETRIEVAL__TOPK": "3"}}, "unknown setting 'retrieval.topk' (from "),
        ({"env": {"INQUOTE_RETRIEVAL__TOP_K": "many"}}, "bad value for 'retrieval.top_k'"),
        ({"env": {"INQUOTE_RETRIEVAL__TOP_K": "0"}}, "bad value for 'retrieval.top_k'"),
        ({"file": '[embedding]\nbackend = "openai"\n'}, "bad value for 'embedding.backend'"),
        ({"file": '[ollama]\nurl = "localhost"\n'}, "bad value for 'ollama.url'"),
        ({"set": {"chunking.chunk_overlap": "500"}}, "chunk_overlap must be smaller"),
        ({"set": {"answer.min_evidence": "2"}}, "bad value for 'answer.min_evidence'"),
        ({"env": {"INQUOTE_LLM__BACKEND": "gpt"}}, "(from INQUOTE_LLM__BACKEND)"),
        ({"set": {"llm.max_tokens": "3000"}}, "max_tokens must be at most half of num_ctx"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, layer: dict[str, Any], expected: str) -> None:
    config = write(tmp_path, layer["file"]) if "file" in layer else None
    with pytest.raises(ConfigError) as caught:
        load_settings(config, layer.get("env", {}), layer.get("set", {}))
    assert expected in str(caught.value)


def test_the_origin_of_a_bad_value_is_named(tmp_path: Path) -> None:
    config = write(tmp_path, "[retrieval]\ntop_k = -1\n")
    with pytest.raises(ConfigError, match=r"retrieval\.top_k.*\(from .*inquote\.toml\)"):
        load_settings(config)
    with pytest.raises(ConfigError, match=r"\(from INQUOTE_RETRIEVAL__TOP_K\)"):
        load_settings(env={"INQUOTE_RETRIEVAL__TOP_K": "-1"})


def test_unreadable_or_broken_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read config file"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[retrieval\n"))
