"""The bot state and the rollout state are in the data dir unless a Redis URL is set, and then
share the process's one asyncio Redis client; the URL is validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.llm.active_model import FileActiveModel
from adapters.llm.redis_rollout import RedisActiveModel
from bots.redis_state import RedisBotState
from bots.state import SqliteBotState
from core.rollout import RolloutState
from ops.settings import BotSettings, Settings, StateSettings
from ops.wiring import build_active_model, build_bot_state, build_redis_client
from tests.support.redis_server import RedisServer


def test_without_a_redis_url_the_state_is_sqlite_in_the_folder(tmp_path: Path) -> None:
    assert build_redis_client(StateSettings()) is None
    state = build_bot_state(BotSettings(), StateSettings(), folder=tmp_path / "bots", redis=None)
    assert isinstance(state, SqliteBotState)
    assert (tmp_path / "bots" / "state.sqlite3").is_file()
    state.close()


async def test_a_redis_url_builds_redis_state_shared_by_replicas(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes built from the same settings claim a delivery once."""
    monkeypatch.setenv("LEXIMIND_STATE__REDIS_URL", redis_server.url)
    monkeypatch.setenv("LEXIMIND_STATE__KEY_PREFIX", "wiring-test:")
    settings = Settings(_env_file=None, data_dir=tmp_path)
    clients = [build_redis_client(settings.state), build_redis_client(settings.state)]
    a, b = (
        build_bot_state(settings.bots, settings.state, folder=tmp_path / name, redis=client)
        for name, client in zip("ab", clients, strict=True)
    )
    assert isinstance(a, RedisBotState) and isinstance(b, RedisBotState)
    assert [await a.claim("github:d-wiring"), await b.claim("github:d-wiring")] == [True, False]
    for client in clients:
        assert client is not None
        await client.aclose()
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:6379", "must start with redis://"),
        ("redis://:changeme@127.0.0.1:6379/0", "placeholder password"),
    ],
)
def test_bad_redis_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StateSettings(redis_url=url)  # type: ignore[arg-type]


def test_the_redis_password_is_not_shown() -> None:
    settings = StateSettings(redis_url="redis://:s3cret-pw@127.0.0.1:6379/0")  # type: ignore[arg-type]
    assert "s3cret-pw" not in repr(settings)


async def test_the_rollout_state_follows_the_same_choice(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The active model and canary live in DATA_DIR/deploy without Redis; with a Redis URL a
    canary staged by one replica is seen by another built from the same settings."""
    local = build_active_model(StateSettings(), data_dir=tmp_path, redis=None)
    assert isinstance(local, FileActiveModel)
    monkeypatch.setenv("LEXIMIND_STATE__REDIS_URL", redis_server.url)
    monkeypatch.setenv("LEXIMIND_STATE__KEY_PREFIX", "wiring-rollout:")
    monkeypatch.setenv("LEXIMIND_STATE__ROLLOUT_REFRESH", "0")
    settings = Settings(_env_file=None, data_dir=tmp_path)
    clients = [build_redis_client(settings.state), build_redis_client(settings.state)]
    a, b = (build_active_model(settings.state, data_dir=tmp_path, redis=c) for c in clients)
    assert isinstance(a, RedisActiveModel) and isinstance(b, RedisActiveModel)
    await a.switch("v1")
    await a.stage("v2", 0.1)
    assert await b.read() == RolloutState("v1", "v2", 0.1)
    assert not (tmp_path / "deploy").exists()
    for client in clients:
        assert client is not None
        await client.aclose()
