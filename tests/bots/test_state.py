"""Bot state survives restarts: deliveries claimed once, rate limits, answer links."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bots.state import SqliteBotState


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_delivery_is_claimed_once_even_after_a_restart(tmp_path: Path) -> None:
    first = SqliteBotState(tmp_path / "state.sqlite3")
    results = await asyncio.gather(*(first.claim("slack:Ev1") for _ in range(5)))
    assert sorted(results) == [False] * 4 + [True]
    first.close()

    second = SqliteBotState(tmp_path / "state.sqlite3")
    assert await second.claim("slack:Ev1") is False
    assert await second.claim("slack:Ev2") is True


async def test_two_processes_on_one_data_dir_claim_once(tmp_path: Path) -> None:
    a = SqliteBotState(tmp_path / "state.sqlite3")
    b = SqliteBotState(tmp_path / "state.sqlite3")
    claims = await asyncio.gather(a.claim("github:d1"), b.claim("github:d1"))
    assert sorted(claims) == [False, True]


async def test_old_deliveries_are_forgotten_after_retention(tmp_path: Path) -> None:
    clock = Clock()
    state = SqliteBotState(tmp_path / "s.sqlite3", retention=100, clock=clock)
    assert await state.claim("k")
    state.close()
    clock.now += 101
    state = SqliteBotState(tmp_path / "s.sqlite3", retention=100, clock=clock)
    assert await state.claim("k")


async def test_rate_limit_is_a_sliding_window_per_user(tmp_path: Path) -> None:
    clock = Clock()
    state = SqliteBotState(tmp_path / "s.sqlite3", rate_limit=2, rate_window=60, clock=clock)
    assert [await state.allow("u1") for _ in range(3)] == [True, True, False]
    assert await state.allow("u2")
    clock.now += 61
    assert await state.allow("u1")


async def test_a_zero_rate_limit_allows_everything(tmp_path: Path) -> None:
    state = SqliteBotState(tmp_path / "s.sqlite3", rate_limit=0)
    assert all([await state.allow("u") for _ in range(50)])


async def test_answer_links_persist(tmp_path: Path) -> None:
    state = SqliteBotState(tmp_path / "s.sqlite3")
    await state.remember("slack:C1:1700000000.1", "i-1")
    state.close()
    state = SqliteBotState(tmp_path / "s.sqlite3")
    assert await state.interaction_for("slack:C1:1700000000.1") == "i-1"
    assert await state.interaction_for("slack:C1:other") is None


async def test_recent_answers_are_listed_by_prefix_and_age(tmp_path: Path) -> None:
    """A poller lists the answers of one platform since a time; `_` and `%` are literal."""
    clock = Clock()
    state = SqliteBotState(tmp_path / "s.sqlite3", clock=clock)
    await state.remember("github:o/r:comment:1", "i1")
    clock.now += 10
    await state.remember("github:o/r:comment:2", "i2")
    await state.remember("slack:C1:1.1", "i3")
    await state.remember("gitXub:o/r:comment:3", "i4")
    assert await state.recent_answers("github:", since=clock.now - 5) == [
        ("github:o/r:comment:2", "i2")
    ]
    assert [k for k, _ in await state.recent_answers("git_ub:", since=0)] == []
    assert len(await state.recent_answers("github:", since=0)) == 2


async def test_the_model_of_an_answer_is_kept_until_retention(tmp_path: Path) -> None:
    """Reactions days later still find the model; after the retention it is forgotten."""
    clock = Clock()
    state = SqliteBotState(tmp_path / "s.sqlite3", retention=100, clock=clock)
    await state.note("i-1", "lora-3")
    assert (await state.model_of("i-1"), await state.model_of("i-2")) == ("lora-3", None)
    state.close()
    clock.now += 101
    state = SqliteBotState(tmp_path / "s.sqlite3", retention=100, clock=clock)
    assert await state.model_of("i-1") is None


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
