"""Bot state, SQLite or Redis, keeps the same promises: deliveries claimed once, rate limits,
answer links; SQLite survives restarts, Redis is shared by replicas."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from bots.ports import BotState
from bots.redis_state import RedisBotState
from bots.state import SqliteBotState
from core.errors import StoreUnavailable
from tests.support.redis_server import HOST, RedisServer

OpenState = Callable[..., BotState]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture(params=["sqlite", "redis"], loop_scope="function")
async def open_state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenState]:
    """Opens another process (SQLite, same data dir) or replica (Redis, same server and
    prefix) on one shared state."""
    opened: list[BotState] = []
    clients: list[Redis] = []
    if request.param == "sqlite":

        def open_sqlite(**options: Any) -> BotState:
            state = SqliteBotState(tmp_path / "state.sqlite3", **options)
            opened.append(state)
            return state

        yield open_sqlite
        for state in opened:
            state.close()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"test-{uuid.uuid4().hex}:"

    def open_redis(**options: Any) -> BotState:
        client = Redis.from_url(server.url, socket_timeout=5, socket_connect_timeout=5)
        clients.append(client)
        return RedisBotState(client, key_prefix=prefix, **options)

    yield open_redis
    for client in clients:
        await client.aclose()


async def test_a_delivery_is_claimed_once_by_concurrent_callers(open_state: OpenState) -> None:
    first = open_state()
    results = await asyncio.gather(*(first.claim("slack:Ev1") for _ in range(5)))
    assert sorted(results) == [False] * 4 + [True]
    second = open_state()  # a restart, or another replica
    assert await second.claim("slack:Ev1") is False
    assert await second.claim("slack:Ev2") is True


async def test_two_processes_claim_a_delivery_once(open_state: OpenState) -> None:
    a, b = open_state(), open_state()
    claims = await asyncio.gather(a.claim("github:d1"), b.claim("github:d1"))
    assert sorted(claims) == [False, True]


async def test_rate_limit_is_a_sliding_window_per_user(open_state: OpenState) -> None:
    clock = Clock()
    state = open_state(rate_limit=2, rate_window=60, clock=clock)
    assert [await state.allow("u1") for _ in range(3)] == [True, True, False]
    assert await state.allow("u2")
    clock.now += 61
    assert await state.allow("u1")


async def test_a_rate_limit_is_shared_by_processes(open_state: OpenState) -> None:
    """Questions counted by one process or replica count for the others too."""
    clock = Clock()
    a = open_state(rate_limit=3, rate_window=60, clock=clock)
    b = open_state(rate_limit=3, rate_window=60, clock=clock)
    allowed = await asyncio.gather(*(s.allow("u1") for s in (a, b, a, b, a, b)))
    assert sorted(allowed) == [False] * 3 + [True] * 3
    clock.now += 61
    assert await b.allow("u1")


async def test_a_zero_rate_limit_allows_everything(open_state: OpenState) -> None:
    state = open_state(rate_limit=0)
    assert all([await state.allow("u") for _ in range(50)])


async def test_answer_links_are_shared(open_state: OpenState) -> None:
    await open_state().remember("slack:C1:1700000000.1", "i-1")
    other = open_state()
    assert await other.interaction_for("slack:C1:1700000000.1") == "i-1"
    assert await other.interaction_for("slack:C1:other") is None


async def test_recent_answers_are_listed_by_prefix_and_age(open_state: OpenState) -> None:
    """A poller lists the answers of one platform since a time; `_` and `%` are literal."""
    clock = Clock()
    state = open_state(clock=clock)
    await state.remember("github:o/r:comment:1", "i1")
    clock.now += 10
    await state.remember("github:o/r:comment:2", "i2")
    await state.remember("slack:C1:1.1", "i3")
    await state.remember("gitXub:o/r:comment:3", "i4")
    assert await state.recent_answers("github:", since=clock.now - 5) == [
        ("github:o/r:comment:2", "i2")
    ]
    assert [k for k, _ in await state.recent_answers("git_ub:", since=0)] == []
    assert await open_state(clock=clock).recent_answers("github:o/r:", since=0) == [
        ("github:o/r:comment:1", "i1"),
        ("github:o/r:comment:2", "i2"),
    ]


async def test_the_model_of_an_answer_is_shared(open_state: OpenState) -> None:
    await open_state().note("i-1", "lora-3")
    other = open_state()
    assert (await other.model_of("i-1"), await other.model_of("i-2")) == ("lora-3", None)


async def test_sqlite_forgets_old_deliveries_and_models_after_retention(tmp_path: Path) -> None:
    clock = Clock()
    state = SqliteBotState(tmp_path / "s.sqlite3", retention=100, clock=clock)
    assert await state.claim("k")
    await state.note("i-1", "lora-3")
    state.close()
    clock.now += 101
    state = SqliteBotState(tmp_path / "s.sqlite3", retention=100, clock=clock)
    assert await state.claim("k")
    assert await state.model_of("i-1") is None
    state.close()


async def test_redis_keys_expire_after_the_retention(redis_server: RedisServer) -> None:
    """Claims, answer links and models carry Redis expiry times equal to the retention."""
    client = Redis.from_url(redis_server.url, socket_timeout=5)
    prefix = f"test-{uuid.uuid4().hex}:"
    state = RedisBotState(client, key_prefix=prefix, retention=100)
    await state.claim("k")
    await state.remember("github:o/r:comment:1", "i-1")
    await state.note("i-1", "lora-3")
    names = ["delivery:k", "answer:github:o/r:comment:1", "model:i-1", "recent:github"]
    ttls = [await client.pttl(prefix + name) for name in names]
    await client.aclose()
    assert all(90_000 < ttl <= 100_000 for ttl in ttls), ttls


async def test_redis_down_raises_store_unavailable() -> None:
    """Every call fails with StoreUnavailable when no Redis server answers."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    client = Redis.from_url(f"redis://{HOST}:{port}/0", socket_timeout=2, socket_connect_timeout=2)
    state = RedisBotState(client)
    calls = [
        state.claim("k"),
        state.allow("u"),
        state.remember("slack:C:1", "i"),
        state.interaction_for("slack:C:1"),
        state.note("i", "m"),
        state.model_of("i"),
        state.recent_answers("slack:", since=0),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable):
            await call
    await client.aclose()


async def test_redis_recent_answers_need_a_platform_prefix(redis_server: RedisServer) -> None:
    client = Redis.from_url(redis_server.url, socket_timeout=5)
    with pytest.raises(ValueError, match="platform"):
        await RedisBotState(client).recent_answers("git", since=0)
    await client.aclose()


async def test_a_claim_waits_for_another_process_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    """While another process holds the write lock the claim waits off the event loop, and
    succeeds once the lock is released."""
    state = SqliteBotState(tmp_path / "s.sqlite3")
    other = sqlite3.connect(tmp_path / "s.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    claiming = asyncio.create_task(state.claim("slack:Ev1"))
    await asyncio.sleep(0.2)  # the event loop still runs while the claim waits
    assert not claiming.done()
    other.execute("COMMIT")
    assert await claiming
    assert not await state.claim("slack:Ev1")
    other.close()
    state.close()
