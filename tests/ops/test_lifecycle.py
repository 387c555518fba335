"""open_services builds each client once per process and closes what it opened in reverse
order, also when start-up fails halfway."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import minio
import pytest
import redis
import redis.asyncio
from fastapi.testclient import TestClient
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient
from typer.testing import CliRunner

from adapters.llm.openai_compatible import OpenAICompatibleChatModel
from adapters.llm.redis_rollout import RedisActiveModel
from adapters.storage.s3 import S3ObjectStore
from adapters.storage.writer import SpooledWriter
from bots.github.api import GitHubApi
from bots.identity import UserHasher
from ops.api import create_app
from ops.cli import app as cli
from ops.errors import NotConfigured
from ops.settings import (
    EmbeddingSettings,
    GitHubSettings,
    LLMSettings,
    Settings,
    SlackSettings,
    StateSettings,
    StorageSettings,
)
from ops.wiring import Services, open_services
from rag.embedding import OnnxEmbedder
from rag.retrieval import HybridRetriever
from rag.stores.lancedb import LanceDBStore
from tests.support.vllm_server import free_port

# Every client a process can hold, by the class whose construction opens it.
CLIENTS: dict[str, type] = {
    "s3": minio.Minio,
    "redis": redis.Redis,
    "redis-asyncio": redis.asyncio.Redis,
    "vector store": LanceDBStore,
    "embedder": OnnxEmbedder,
    "model server": OpenAICompatibleChatModel,
    "slack": AsyncWebClient,
    "github": GitHubApi,
    "user hasher": UserHasher,
}

# The closing method of each resource open_services registers, in the order they are opened.
CLOSERS: list[tuple[str, type, str]] = [
    ("s3", S3ObjectStore, "close"),
    ("spool writer", SpooledWriter, "close"),
    ("redis", redis.asyncio.Redis, "aclose"),
    ("redis rollout", RedisActiveModel, "aclose"),
    ("vector store", LanceDBStore, "close"),
    ("retriever", HybridRetriever, "close"),
    ("model server", OpenAICompatibleChatModel, "aclose"),
]
GITHUB_CLOSER = ("github", GitHubApi, "close")  # built by the roles that reach GitHub


def full_settings(tmp_path: Path, model_cache: Path, **sections: Any) -> Settings:
    """S3, Redis and a model server, none of which is contacted while services are built."""
    dead = f"127.0.0.1:{free_port()}"
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
        storage=StorageSettings(
            backend="s3",
            endpoint=dead,
            access_key="leximind-app",
            secret_key=SecretStr("s3-real-secret-123"),
            secure=False,
        ),
        state=StateSettings(redis_url=SecretStr(f"redis://{dead}/0")),
        llm=LLMSettings(base_url=f"http://{dead}/v1", model="base"),
        **sections,
    )


def count_constructions(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    counts: Counter[str] = Counter()
    for name, cls in CLIENTS.items():
        real = cls.__init__

        def counted(self: Any, *args: Any, _real: Any = real, _name: str = name, **kw: Any) -> None:
            counts[_name] += 1
            _real(self, *args, **kw)

        monkeypatch.setattr(cls, "__init__", counted)
    return counts


def record_closes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    closed: list[str] = []
    for name, cls, method in [*CLOSERS, GITHUB_CLOSER]:
        real = getattr(cls, method)
        if method == "aclose":

            async def recorded_async(self: Any, _real: Any = real, _name: str = name) -> None:
                closed.append(_name)
                await _real(self)

            monkeypatch.setattr(cls, method, recorded_async)
        else:

            def recorded(self: Any, _real: Any = real, _name: str = name) -> None:
                closed.append(_name)
                _real(self)

            monkeypatch.setattr(cls, method, recorded)
    return closed


async def test_a_server_builds_each_client_once_and_closes_each_once(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API with every adapter on: one S3 client (shared by the spool writer, the catalog
    and the dashboard), one asyncio Redis client and no synchronous one (the rollout state
    and the bot state share it), one store, embedder, model client, Slack client, GitHub
    client and user hasher; each closed once at the end, last opened first."""
    counts = count_constructions(monkeypatch)
    closed = record_closes(monkeypatch)
    settings = full_settings(
        tmp_path,
        model_cache,
        slack=SlackSettings(
            bot_token=SecretStr("xoxb-1-real-token"),
            signing_secret=SecretStr("a-real-signing-secret"),
            api_url=f"http://127.0.0.1:{free_port()}/api/",
        ),
        github=GitHubSettings(
            token=SecretStr("ghp_real-token"),
            webhook_secret=SecretStr("a-real-webhook-secret"),
            bot_login="leximind-bot",
        ),
    )

    async with open_services(settings, "api") as process:
        assert process.slack and process.github and process.web and process.kit
        assert process.services.object_store is process.objects
        assert closed == []

    assert counts == Counter({**dict.fromkeys(CLIENTS, 1), "redis": 0})
    assert closed == ["github", *(name for name, _, _ in reversed(CLOSERS))]
    assert process.redis is not None
    assert process.kit is not None and process.kit.state._client is process.redis  # type: ignore[attr-defined]
    chat_model = process.services.chat_model
    assert isinstance(chat_model, OpenAICompatibleChatModel) and chat_model._client.is_closed


async def test_a_failure_halfway_closes_what_was_opened_in_reverse_order(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Socket Mode with only HTTP mode's settings (no app token) fails after the bot state
    was opened: everything opened before is closed, last first, and nothing after is built."""
    counts = count_constructions(monkeypatch)
    closed = record_closes(monkeypatch)
    http_only = SlackSettings(
        bot_token=SecretStr("xoxb-1-real-token"), signing_secret=SecretStr("a-signing-secret")
    )
    settings = full_settings(tmp_path, model_cache, slack=http_only)

    with pytest.raises(NotConfigured, match="LEXIMIND_SLACK__APP_TOKEN"):
        async with open_services(settings, "slack"):
            pytest.fail("start-up should have failed")

    assert closed == [name for name, _, _ in reversed(CLOSERS)]
    assert counts["slack"] == 0 and counts["github"] == 0


async def test_a_builder_that_raises_closes_the_clients_before_it(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A builder failing right after the model client leaves no client open."""
    closed = record_closes(monkeypatch)
    settings = full_settings(tmp_path, model_cache)

    def broken(*args: object, **kwargs: object) -> Services:
        raise RuntimeError("the answering service cannot be built")

    monkeypatch.setattr("ops.wiring.lifecycle.build_services", broken)
    with pytest.raises(RuntimeError, match="cannot be built"):
        async with open_services(settings, "cli"):
            pytest.fail("start-up should have failed")

    opened_first = ["s3", "spool writer", "redis", "redis rollout", "vector store", "retriever"]
    assert closed == ["model server", *reversed(opened_first)]


def test_the_api_start_up_names_what_is_not_configured(
    tmp_path: Path, model_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A start-up that lacks a setting fails with the setting's name, logged in one line."""
    settings = Settings(
        _env_file=None, data_dir=tmp_path, embedding=EmbeddingSettings(cache_dir=model_cache)
    )

    def not_configured(services: Services) -> Services:
        raise NotConfigured("set LEXIMIND_EXAMPLE__SETTING")

    app = create_app(settings, adjust_services=not_configured)
    with (
        caplog.at_level(logging.CRITICAL, logger="ops.api"),
        pytest.raises(NotConfigured),
        TestClient(app),
    ):
        pytest.fail("start-up should have failed")
    assert [r.getMessage() for r in caplog.records if r.name == "ops.api"] == [
        "cannot start: set LEXIMIND_EXAMPLE__SETTING"
    ]


def test_a_command_names_the_missing_setting_in_one_line(tmp_path: Path, model_cache: Path) -> None:
    """`leximind model promote` without a model server: exit 1 and one error line naming it
    (MLflow may log its own start-up beside it)."""
    env = {"LEXIMIND_DATA_DIR": str(tmp_path), "LEXIMIND_EMBEDDING__CACHE_DIR": str(model_cache)}
    result = CliRunner().invoke(cli, ["model", "promote", "v1"], env=env)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if "error" in line.lower()]
    assert errors == [
        "error: adapters are served by vLLM: set LEXIMIND_LLM__BASE_URL and LEXIMIND_LLM__MODEL "
        "(the base model's served name)"
    ]
    assert "Traceback" not in result.output


def test_serve_refuses_invalid_settings_before_starting(tmp_path: Path) -> None:
    """`leximind serve` checks the settings first: an error naming them, no traceback, and no
    server starts."""
    env = {"LEXIMIND_DATA_DIR": str(tmp_path), "LEXIMIND_STATE__REDIS_URL": "http://127.0.0.1:1"}
    result = CliRunner().invoke(cli, ["serve", "--port", str(free_port())], env=env)
    assert result.exit_code == 1
    assert result.output.startswith("error: invalid settings:") and "redis://" in result.output
    assert "Traceback" not in result.output and "Uvicorn running" not in result.output
