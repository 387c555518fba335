"""The rollout state keeps the same promises in a data-dir file and in Redis: the champion and
a challenger with its share, changed atomically and seen by every other reader (process or
replica) when it reads; Redis readers cache it briefly, re-read it on the event loop without
making a question wait, and survive an outage."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from adapters.llm.active_model import FileActiveModel
from adapters.llm.redis_rollout import RedisActiveModel
from core.errors import StoreUnavailable
from core.ports import Rollout
from core.rollout import RolloutState
from tests.conftest import REPO_ROOT
from tests.support.redis_server import RedisServer, require_redis_server, start_redis
from tests.support.stalling_proxy import StallingProxy

Opener = Callable[[], Rollout]


def redis_client(url: str, timeout: float = 5) -> Redis:
    return Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


@pytest_asyncio.fixture(params=["file", "redis"], loop_scope="function")
async def open_state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens another reader of the same state: a FileActiveModel on the same file, or a
    RedisActiveModel (no caching) on the same server and key prefix, with a client of its
    own as another replica would have."""
    if request.param == "file":
        path = tmp_path / "deploy" / "active_model.json"
        yield lambda: FileActiveModel(path)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"test-{uuid.uuid4().hex}:"
    opened: list[tuple[RedisActiveModel, Redis]] = []

    def open_redis() -> Rollout:
        client = redis_client(server.url)
        opened.append((RedisActiveModel(client, key_prefix=prefix, refresh=0), client))
        return opened[-1][0]

    yield open_redis
    for state, client in opened:
        await state.aclose()
        await client.aclose()


async def test_nothing_is_active_before_the_first_switch(open_state: Opener) -> None:
    assert await open_state().read() == RolloutState()
    assert open_state().current() is None


async def test_a_canary_is_seen_by_every_reader(open_state: Opener) -> None:
    """Switch, stage a challenger, change its share, stop it: another reader that has already
    read the state sees each change when it reads again."""
    writer, reader = open_state(), open_state()
    await writer.switch("v1")
    assert await reader.read() == RolloutState("v1")
    await writer.stage("v2", 0.1)
    assert await reader.read() == RolloutState("v1", "v2", 0.1)
    assert reader.current() == "v1"
    await writer.stage("v2", 0.5)
    assert (await reader.read()).share == 0.5
    await writer.stage(None, 0.0)
    assert await reader.read() == RolloutState("v1")


async def test_a_switch_ends_the_canary(open_state: Opener) -> None:
    """Promoting makes one model answer everyone: the challenger is gone."""
    writer = open_state()
    await writer.switch("v1")
    await writer.stage("v2", 0.2)
    await writer.switch("v2")
    assert await open_state().read() == RolloutState("v2")


async def test_a_share_of_0_stops_the_canary(open_state: Opener) -> None:
    writer = open_state()
    await writer.stage("v2", 0.3)
    await writer.stage("v2", 0.0)
    assert await open_state().read() == RolloutState()


@pytest.mark.parametrize(
    ("challenger", "share", "message"),
    [("v1", 0.1, "champion already"), ("two words", 0.1, "model name"), ("v2", 2.0, "0 and 1")],
)
async def test_bad_changes_are_refused_and_change_nothing(
    open_state: Opener, challenger: str, share: float, message: str
) -> None:
    writer = open_state()
    await writer.switch("v1")
    with pytest.raises(ValueError, match=message):
        await writer.stage(challenger, share)
    assert await open_state().read() == RolloutState("v1")


def test_a_canary_staged_by_another_process_is_seen(tmp_path: Path) -> None:
    """A challenger staged from a separate process reaches this one without a restart."""
    path = tmp_path / "active_model.json"
    reader = FileActiveModel(path)
    asyncio.run(reader.switch("v1"))
    assert reader.state() == RolloutState("v1")
    code = (
        "import asyncio, sys; from pathlib import Path;"
        "from adapters.llm.active_model import FileActiveModel;"
        "asyncio.run(FileActiveModel(Path(sys.argv[1])).stage('v2', 0.25))"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, cwd=REPO_ROOT)
    assert reader.state() == RolloutState("v1", "v2", 0.25)


def test_a_file_from_before_staged_rollouts_still_reads(tmp_path: Path) -> None:
    """An active-model file with only `model` means that model and no canary."""
    path = tmp_path / "active_model.json"
    path.write_text(json.dumps({"model": "v1", "switched_at": "2026-11-25T10:00:00+00:00"}))
    assert FileActiveModel(path).state() == RolloutState("v1")


async def settle() -> None:
    """Lets the re-read a `state()` call started run to its end (a loopback round trip)."""
    for _ in range(50):
        await asyncio.sleep(0.01)


async def test_redis_readers_cache_the_state_for_the_refresh_time(
    redis_server: RedisServer,
) -> None:
    """Within `refresh` seconds a replica answers from memory; after it, `state()` starts a
    re-read on the loop and answers at once with what it had, the re-read's result coming
    on the calls after; the replica that made a change sees it at once."""
    now = [100.0]
    prefix = f"test-{uuid.uuid4().hex}:"
    clients = [redis_client(redis_server.url), redis_client(redis_server.url)]
    writer, reader = (
        RedisActiveModel(client, key_prefix=prefix, refresh=1.0, clock=lambda: now[0])
        for client in clients
    )
    await writer.switch("v1")
    assert await reader.read() == RolloutState("v1")
    await writer.stage("v2", 0.1)
    assert writer.state() == RolloutState("v1", "v2", 0.1)
    now[0] += 0.5
    assert reader.state() == RolloutState("v1")
    await settle()
    assert reader.state() == RolloutState("v1")  # still the cached state: no re-read was due
    now[0] += 0.6
    assert reader.state() == RolloutState("v1")  # due: re-read started, the caller not held
    await settle()
    assert reader.state() == RolloutState("v1", "v2", 0.1)
    for client in clients:
        await client.aclose()


async def test_a_silent_redis_never_holds_up_state(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """With Redis swallowing every packet, `state()` keeps answering at once from what it read
    last, the loop keeps running, and the re-read that hangs ends by the client's timeout
    (logged once); `read()` raises StoreUnavailable."""
    prefix = f"test-{uuid.uuid4().hex}:"
    with StallingProxy(redis_server.port) as proxy:
        client = redis_client(f"redis://127.0.0.1:{proxy.port}/0", timeout=0.5)
        state = RedisActiveModel(client, key_prefix=prefix, refresh=0)
        await state.switch("v1")
        proxy.stall()
        with caplog.at_level(logging.ERROR):
            for _ in range(100):  # 1 s of questions, each asking for the state
                assert state.current() == "v1"
                await asyncio.sleep(0.01)
            sent_while_stalled = proxy.swallowed
            with pytest.raises(StoreUnavailable, match="Redis rollout state"):
                await state.read()
        assert sent_while_stalled > 0  # the re-reads did go out, and hung, meanwhile
        assert caplog.text.count("cannot read the rollout state") == 1
        await state.aclose()
        await client.aclose()


async def test_redis_down_keeps_the_last_state_and_refuses_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A replica that cannot reach Redis keeps answering with what it read last (logged), and
    a change fails with StoreUnavailable instead of being lost silently."""
    server = start_redis(require_redis_server(), tmp_path / "redis")
    now = [0.0]
    client = redis_client(server.url, timeout=1)
    state = RedisActiveModel(client, refresh=1.0, clock=lambda: now[0])
    try:
        await state.switch("v1")
        assert state.current() == "v1"
    finally:
        server.stop()
    now[0] += 5
    with caplog.at_level(logging.ERROR):
        assert state.current() == "v1"
        await settle()
        assert state.current() == "v1"
    assert "cannot read the rollout state" in caplog.text
    with pytest.raises(StoreUnavailable, match="Redis rollout state"):
        await state.stage("v2", 0.1)
    with pytest.raises(StoreUnavailable, match="Redis rollout state"):
        await state.switch("v2")
    await state.aclose()
    await client.aclose()
