"""Shared state: the process's one Redis client and the rollout state (Redis or a file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.llm.active_model import FileActiveModel
from ops.settings import StateSettings

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from adapters.llm.redis_rollout import RedisActiveModel


def redis_timeouts(state: StateSettings) -> dict[str, Any]:
    """The socket timeouts of Leximind's Redis client."""
    return {
        "socket_timeout": state.socket_timeout,
        "socket_connect_timeout": state.connect_timeout,
    }


def build_redis_client(state: StateSettings) -> Redis | None:
    """The one asyncio Redis client of a process, shared by the rollout state and the bot
    state; None without LEXIMIND_STATE__REDIS_URL. It connects on first use, on the loop that
    uses it; the caller closes it (`aclose`)."""
    if state.redis_url is None:
        return None
    from redis.asyncio import Redis

    return Redis.from_url(state.redis_url.get_secret_value(), **redis_timeouts(state))


def build_active_model(
    state: StateSettings, *, data_dir: Path, redis: Redis | None
) -> FileActiveModel | RedisActiveModel:
    """The active model and any canary: in Redis through `redis` (the process's client, from
    `build_redis_client`; shared by replicas on several hosts), else in DATA_DIR/deploy
    (shared by this host's processes).

    The Redis one may be re-reading in the background: the caller stops it (`aclose`)
    before closing the client."""
    if redis is None:
        return FileActiveModel(data_dir / "deploy" / "active_model.json")
    from adapters.llm.redis_rollout import RedisActiveModel

    return RedisActiveModel(redis, key_prefix=state.key_prefix, refresh=state.rollout_refresh)
