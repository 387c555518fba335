"""The composition root builds the chat client only when a model server is configured."""

from __future__ import annotations

from pathlib import Path

from core.llm.openai_compatible import OpenAICompatibleChatModel
from ops.settings import EmbeddingSettings, LLMSettings, Settings
from ops.wiring import build_services


async def test_chat_client_is_built_and_closed_when_configured(
    tmp_path: Path, model_cache: Path
) -> None:
    """With a base URL the services hold the OpenAI-compatible client; aclose closes it."""
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        embedding=EmbeddingSettings(cache_dir=model_cache),
        llm=LLMSettings(base_url="http://127.0.0.1:9/v1", model="m"),
    )
    services = build_services(settings)
    assert isinstance(services.chat_model, OpenAICompatibleChatModel)
    await services.aclose()
    assert services.chat_model._client.is_closed


async def test_no_chat_client_without_a_model_server(tmp_path: Path, model_cache: Path) -> None:
    """Without a base URL answers are extractive: no client is built, and aclose is a no-op."""
    settings = Settings(
        _env_file=None, data_dir=tmp_path, embedding=EmbeddingSettings(cache_dir=model_cache)
    )
    services = build_services(settings)
    assert services.chat_model is None
    await services.aclose()
