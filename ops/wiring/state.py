"""Shared state: the Redis clients' timeouts and the rollout state (Redis or a file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.llm.active_model import FileActiveModel
from ops.settings import StateSettings

if TYPE_CHECKING:
    from adapters.llm.redis_rollout import RedisActiveModel


def redis_timeouts(state: StateSettings) -> dict[str, Any]:
    """The socket timeouts every Redis client of Leximind uses (sync and asyncio alike)."""
    return {
        "socket_timeout": state.socket_timeout,
        "socket_connect_timeout": state.connect_timeout,
    }


def build_active_model(
    state: StateSettings, *, data_dir: Path
) -> FileActiveModel | RedisActiveModel:
    """The active model and any canary: in Redis when LEXIMIND_STATE__REDIS_URL is set (shared
    by replicas on several hosts), else in DATA_DIR/deploy (shared by this host's processes).

    The Redis one holds a client: the caller closes it (`close`)."""
    if state.redis_url is None:
        return FileActiveModel(data_dir / "deploy" / "active_model.json")
    from redis import Redis

    from adapters.llm.redis_rollout import RedisActiveModel

    client = Redis.from_url(state.redis_url.get_secret_value(), **redis_timeouts(state))
    return RedisActiveModel(client, key_prefix=state.key_prefix, refresh=state.rollout_refresh)
