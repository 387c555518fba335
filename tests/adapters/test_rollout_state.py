"""The rollout state keeps the same promises in a data-dir file and in Redis: the champion and
a challenger with its share, changed atomically and seen by every other reader (process or
replica) on its next request; Redis readers cache it briefly and survive an outage."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis import Redis

from adapters.llm.active_model import FileActiveModel
from adapters.llm.redis_rollout import RedisActiveModel
from core.errors import StoreUnavailable
from core.ports import Rollout
from core.rollout import RolloutState
from tests.conftest import REPO_ROOT
from tests.support.redis_server import RedisServer, require_redis_server, start_redis

Opener = Callable[[], Rollout]


@pytest.fixture(params=["file", "redis"])
def open_state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens another reader of the same state: a FileActiveModel on the same file, or a
    RedisActiveModel (no caching) on the same server and key prefix."""
    if request.param == "file":
        path = tmp_path / "deploy" / "active_model.json"
        yield lambda: FileActiveModel(path)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"test-{uuid.uuid4().hex}:"
    opened: list[RedisActiveModel] = []

    def open_redis() -> Rollout:
        client = Redis.from_url(server.url, socket_timeout=5, socket_connect_timeout=5)
        opened.append(RedisActiveModel(client, key_prefix=prefix, refresh=0))
        return opened[-1]

    yield open_redis
    for state in opened:
        state.close()


def test_nothing_is_active_before_the_first_switch(open_state: Opener) -> None:
    assert open_state().state() == RolloutState()
    assert open_state().current() is None


def test_a_canary_is_seen_by_every_reader(open_state: Opener) -> None:
    """Switch, stage a challenger, change its share, stop it: another reader that has already
    read the state sees each change on its next call."""
    writer, reader = open_state(), open_state()
    writer.switch("v1")
    assert reader.state() == RolloutState("v1")
    writer.stage("v2", 0.1)
    assert reader.state() == RolloutState("v1", "v2", 0.1)
    assert reader.current() == "v1"
    writer.stage("v2", 0.5)
    assert reader.state().share == 0.5
    writer.stage(None, 0.0)
    assert reader.state() == RolloutState("v1")


def test_a_switch_ends_the_canary(open_state: Opener) -> None:
    """Promoting makes one model answer everyone: the challenger is gone."""
    writer = open_state()
    writer.switch("v1")
    writer.stage("v2", 0.2)
    writer.switch("v2")
    assert open_state().state() == RolloutState("v2")


def test_a_share_of_0_stops_the_canary(open_state: Opener) -> None:
    writer = open_state()
    writer.stage("v2", 0.3)
    writer.stage("v2", 0.0)
    assert open_state().state() == RolloutState()


@pytest.mark.parametrize(
    ("challenger", "share", "message"),
    [("v1", 0.1, "champion already"), ("two words", 0.1, "model name"), ("v2", 2.0, "0 and 1")],
)
def test_bad_changes_are_refused_and_change_nothing(
    open_state: Opener, challenger: str, share: float, message: str
) -> None:
    writer = open_state()
    writer.switch("v1")
    with pytest.raises(ValueError, match=message):
        writer.stage(challenger, share)
    assert open_state().state() == RolloutState("v1")


def test_a_canary_staged_by_another_process_is_seen(tmp_path: Path) -> None:
    """A challenger staged from a separate process reaches this one without a restart."""
    path = tmp_path / "active_model.json"
    reader = FileActiveModel(path)
    reader.switch("v1")
    assert reader.state() == RolloutState("v1")
    code = (
        "import sys; from pathlib import Path;"
        "from adapters.llm.active_model import FileActiveModel;"
        "FileActiveModel(Path(sys.argv[1])).stage('v2', 0.25)"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, cwd=REPO_ROOT)
    assert reader.state() == RolloutState("v1", "v2", 0.25)


def test_a_file_from_before_staged_rollouts_still_reads(tmp_path: Path) -> None:
    """An active-model file with only `model` means that model and no canary."""
    path = tmp_path / "active_model.json"
    path.write_text(json.dumps({"model": "v1", "switched_at": "2026-11-25T10:00:00+00:00"}))
    assert FileActiveModel(path).state() == RolloutState("v1")


def test_redis_readers_cache_the_state_for_the_refresh_time(redis_server: RedisServer) -> None:
    """Within `refresh` seconds a replica answers from memory; after it, from Redis again; the
    replica that made a change sees it at once."""
    now = [100.0]
    prefix = f"test-{uuid.uuid4().hex}:"

    def replica() -> RedisActiveModel:
        client = Redis.from_url(redis_server.url, socket_timeout=5)
        return RedisActiveModel(client, key_prefix=prefix, refresh=1.0, clock=lambda: now[0])

    writer, reader = replica(), replica()
    writer.switch("v1")
    assert reader.current() == "v1"
    writer.stage("v2", 0.1)
    assert writer.state() == RolloutState("v1", "v2", 0.1)
    now[0] += 0.5
    assert reader.state() == RolloutState("v1")  # still the cached state
    now[0] += 0.6
    assert reader.state() == RolloutState("v1", "v2", 0.1)
    writer.close()
    reader.close()


def test_redis_down_keeps_the_last_state_and_refuses_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A replica that cannot reach Redis keeps answering with what it read last (logged), and
    a change fails with StoreUnavailable instead of being lost silently."""
    server = start_redis(require_redis_server(), tmp_path / "redis")
    now = [0.0]
    client = Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    state = RedisActiveModel(client, refresh=1.0, clock=lambda: now[0])
    try:
        state.switch("v1")
        assert state.current() == "v1"
    finally:
        server.stop()
    now[0] += 5
    with caplog.at_level(logging.ERROR):
        assert state.current() == "v1"
    assert "cannot read the rollout state" in caplog.text
    with pytest.raises(StoreUnavailable, match="Redis rollout state"):
        state.stage("v2", 0.1)
    with pytest.raises(StoreUnavailable, match="Redis rollout state"):
        state.switch("v2")
    state.close()
