"""Bot state in Redis, shared by every API replica: delivery ledger, rate limits, answer index
and the model of each answer."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import StoreUnavailable

T = TypeVar("T")
_log = logging.getLogger(__name__)

# Drops the timestamps that left the window, then counts and adds in one atomic step, so
# replicas asking at the same moment cannot both take the last free slot.
_ALLOW = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
    return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisBotState:
    """Implements DeliveryLedger, RateLimiter, AnswerIndex, AnswerModels and RecentAnswers on
    one Redis server shared by several replicas.

    A delivery is claimed with SET NX, so exactly one replica wins it; claims, answer links
    and answer models expire after `retention` seconds (Redis' own clock). The rate limit is a
    sliding window of `rate_limit` questions per `rate_window` seconds (0 disables), kept as a
    sorted set per user and updated by a Lua script. Every key starts with `key_prefix`, so
    several deployments can share a server. Redis errors raise StoreUnavailable; how long a
    call may wait is the client's socket timeout. `clock` stamps the rate-limit window and the
    answers listed by `recent_answers`.
    """

    def __init__(
        self,
        client: Redis,
        *,
        key_prefix: str = "leximind:",
        rate_limit: int = 5,
        rate_window: float = 60.0,
        retention: float = 30 * 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._rate_limit = rate_limit
        self._rate_window = rate_window
        self._retention_ms = max(1, math.ceil(retention * 1000))
        self._retention = retention
        self._clock = clock
        self._allow_script = client.register_script(_ALLOW)
        self._closing: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        """Closes the client's connections."""
        await self._client.aclose()

    def close(self) -> None:
        """Closes the connections on the running event loop, if any.

        Without a running loop there is nothing to close: the client's connections belong to
        the loop that opened them, and a finished loop has already dropped them.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _call(self, what: str, work: Awaitable[T]) -> T:
        try:
            return await work
        except RedisError as exc:
            _log.warning("Redis bot state failed to %s: %s", what, type(exc).__name__)
            raise StoreUnavailable(f"Redis bot state: cannot {what}: {exc}") from exc

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    def _recent_key(self, message_key: str) -> str:
        # One sorted set per platform ("github:", "slack:"): a poller reads only its own.
        platform, _, _ = message_key.partition(":")
        return self._key("recent", platform)

    async def claim(self, key: str) -> bool:
        done = await self._call(
            "claim a delivery",
            self._client.set(self._key("delivery", key), b"1", nx=True, px=self._retention_ms),
        )
        return bool(done)

    async def allow(self, user_key: str) -> bool:
        if self._rate_limit <= 0:
            return True
        now = self._clock()
        member = f"{now!r}:{uuid.uuid4().hex}"
        window_ms = max(1, math.ceil(self._rate_window * 1000))
        args: list[str | int] = [
            repr(now),
            repr(self._rate_window),
            self._rate_limit,
            member,
            window_ms,
        ]
        allowed = await self._call(
            "count a question",
            self._allow_script(keys=[self._key("rate", user_key)], args=args),
        )
        return bool(allowed)

    async def remember(self, message_key: str, interaction_id: str) -> None:
        now = self._clock()
        recent = self._recent_key(message_key)
        pipe = self._client.pipeline(transaction=True)
        pipe.set(self._key("answer", message_key), interaction_id, px=self._retention_ms)
        pipe.zadd(recent, {message_key: now})
        pipe.zremrangebyscore(recent, "-inf", f"({now - self._retention!r}")
        pipe.pexpire(recent, self._retention_ms)
        await self._call("remember an answer", pipe.execute())

    async def interaction_for(self, message_key: str) -> str | None:
        value = await self._call(
            "look up an answer", self._client.get(self._key("answer", message_key))
        )
        return _text(value)

    async def note(self, interaction_id: str, model: str) -> None:
        await self._call(
            "note an answer's model",
            self._client.set(self._key("model", interaction_id), model, px=self._retention_ms),
        )

    async def model_of(self, interaction_id: str) -> str | None:
        value = await self._call(
            "look up an answer's model", self._client.get(self._key("model", interaction_id))
        )
        return _text(value)

    async def recent_answers(self, prefix: str, *, since: float) -> list[tuple[str, str]]:
        """(message key, interaction id) pairs whose key starts with `prefix`, oldest first.

        Only answers remembered at or after `since` (epoch seconds) and not yet expired are
        listed. `prefix` must name the platform (text up to its first ":", e.g. "github:").
        """
        if ":" not in prefix:
            raise ValueError(f"prefix {prefix!r} must start with a platform, e.g. 'github:'")
        members = await self._call(
            "list recent answers",
            self._client.zrangebyscore(self._recent_key(prefix), repr(since), "+inf"),
        )
        keys = [key for key in (_text(m) or "" for m in members) if key.startswith(prefix)]
        if not keys:
            return []
        values = await self._call(
            "list recent answers",
            self._client.mget([self._key("answer", key) for key in keys]),
        )
        return [
            (key, interaction)
            for key, interaction in zip(keys, (_text(v) for v in values), strict=True)
            if interaction is not None
        ]


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
