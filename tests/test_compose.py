"""docker-compose.yml checked structurally (no Docker engine here): what runs, pinned, healthy."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import chromadb
import pytest
import yaml

from tests.conftest import REPO


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))
    return loaded


def test_the_services_are_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"ollama", "ollama-pull", "chroma", "bot", "ingest"}
    assert set(compose["volumes"]) == {"ollama-models", "chroma-data", "bot-data"}


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        tag = image.rpartition(":")[2]
        if name in {"bot", "ingest"}:
            assert service["build"] == "."
            continue
        assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{name}: {image} is not pinned"


def test_chroma_is_pinned_to_the_client_version(compose: dict[str, Any]) -> None:
    chroma = compose["services"]["chroma"]
    version = chroma["image"].rpartition(":")[2]
    assert version == chromadb.__version__
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    [pin] = [dep for dep in pyproject["project"]["dependencies"] if dep.startswith("chromadb")]
    assert f">={version}," in pin
    assert "ports" not in chroma  # reachable only on the compose network
    assert chroma["volumes"] == ["chroma-data:/data"]


def test_services_are_healthchecked_and_the_bot_waits_for_them(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("ollama", "chroma"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    assert services["bot"]["depends_on"] == {
        "ollama": {"condition": "service_healthy"},
        "ollama-pull": {"condition": "service_completed_successfully"},
        "chroma": {"condition": "service_healthy"},
    }
    assert services["bot"]["command"] == ["telegram"]
    assert services["ollama"]["volumes"] == ["ollama-models:/root/.ollama"]
    pull = " ".join(services["ollama-pull"]["entrypoint"])
    assert "ollama pull" in pull
    assert services["ollama-pull"]["environment"]["OLLAMA_HOST"] == "http://ollama:11434"
    env = services["bot"]["environment"]
    assert env["INQUOTE_STORE__MODE"] == "server"
    assert env["INQUOTE_STORE__HOST"] == "chroma"
    assert env["INQUOTE_OLLAMA__URL"] == "http://ollama:11434"
    assert services["ingest"]["entrypoint"] == ["inquote", "ingest"]
    assert services["ingest"]["environment"] == env  # the same store


def test_env_example_lists_every_variable() -> None:
    compose_text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z_0-9]+)=", example, re.MULTILINE))
    referenced = set(re.findall(r"\$\{([A-Z_0-9]+)(?::-[^}]*)?\}", compose_text))
    assert referenced <= listed
    assert {"INQUOTE_TELEGRAM__TOKEN", "INQUOTE_TELEGRAM__ALLOWED_USERS"} <= listed


def test_the_gpu_override_and_dockerfile() -> None:
    gpu = yaml.safe_load((REPO / "docker-compose.gpu.yml").read_text(encoding="utf-8"))
    [device] = gpu["services"]["ollama"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("#")
    assert "FROM python:3.11-slim" in dockerfile
    assert 'ENTRYPOINT ["inquote"]' in dockerfile
    assert 'CMD ["telegram"]' in dockerfile
