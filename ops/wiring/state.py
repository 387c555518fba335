"""Shared state: the Redis clients' timeouts and the rollout state (Redis or a file)."""

from __future__ import annotations

from typing import Any

from adapters.llm.active_model import FileActiveModel
from core.ports import Rollout
from ops.settings import Settings


def redis_timeouts(settings: Settings) -> dict[str, Any]:
    """The socket timeouts every Redis client of Leximind uses (sync and asyncio alike)."""
    state = settings.state
    return {
        "socket_timeout": state.socket_timeout,
        "socket_connect_timeout": state.connect_timeout,
    }


def build_active_model(settings: Settings) -> Rollout:
    """The active model and any canary: in Redis when LEXIMIND_STATE__REDIS_URL is set (shared
    by replicas on several hosts), else in DATA_DIR/deploy (shared by this host's processes)."""
    state = settings.state
    if state.redis_url is None:
        return FileActiveModel(settings.data_dir / "deploy" / "active_model.json")
    from redis import Redis

    from adapters.llm.redis_rollout import RedisActiveModel

    client = Redis.from_url(state.redis_url.get_secret_value(), **redis_timeouts(settings))
    return RedisActiveModel(client, key_prefix=state.key_prefix, refresh=state.rollout_refresh)
