"""The spooled writer never fails a caller over a store outage and replays in order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adapters.storage.spool import Spool
from adapters.storage.writer import SpooledWriter, WriteKind
from core.errors import StoreUnavailable
from tests.fakes import MemoryObjectStore


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(at: str, label: str = "positive") -> bytes:
    return json.dumps({"created_at": at, "label": label}).encode()


@pytest.fixture
def store() -> MemoryObjectStore:
    return MemoryObjectStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def writer_for(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock, *, replay_batch: int = 100
) -> SpooledWriter:
    return SpooledWriter(
        store, Spool(tmp_path / "spool"), replay_batch=replay_batch, retry_after=5.0, clock=clock
    )


async def test_writes_go_to_the_store_when_it_is_up(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock
) -> None:
    """With the store up nothing is spooled and the status says ok."""
    writer = writer_for(store, tmp_path, clock)
    await writer.write(WriteKind.REPLACE, "k/1.json", b"1")
    assert store.objects == {"k/1.json": b"1"}
    assert writer.status() == {"spool_depth": 0, "spool_rejected": 0, "object_store": "ok"}


async def test_an_outage_spools_and_the_next_write_replays(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock
) -> None:
    """While the store is down writes are spooled; the first write after it returns replays them."""
    writer = writer_for(store, tmp_path, clock)
    store.down = True
    for n in range(3):
        await writer.write(WriteKind.REPLACE, f"k/{n}.json", str(n).encode())
    assert writer.spool.depth() == 3
    status = writer.status()
    assert writer.store_down and status["spool_depth"] == 3
    assert "unreachable" in status["object_store"]

    store.down = False
    clock.now += 5.0
    await writer.write(WriteKind.REPLACE, "k/3.json", b"3")

    assert store.objects == {f"k/{n}.json": str(n).encode() for n in range(4)}
    assert writer.spool.depth() == 0 and not writer.store_down


async def test_after_a_failure_writes_skip_the_store_until_retry_after(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock
) -> None:
    """Within retry_after of a failure, writes go to the spool without trying the store."""
    writer = writer_for(store, tmp_path, clock)
    store.down = True
    await writer.write(WriteKind.REPLACE, "k/0.json", b"0")
    store.down = False  # back, but the writer does not know yet

    await writer.write(WriteKind.REPLACE, "k/1.json", b"1")
    assert store.puts == 0 and writer.spool.depth() == 2

    clock.now += 5.0
    await writer.write(WriteKind.REPLACE, "k/2.json", b"2")
    assert sorted(store.objects) == ["k/0.json", "k/1.json", "k/2.json"]


async def test_drain_replays_everything_in_order_and_counts(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock
) -> None:
    """drain() writes spooled records oldest first and returns how many it stored."""
    writer = writer_for(store, tmp_path, clock, replay_batch=0)
    store.down = True
    for n in range(5):
        await writer.write(WriteKind.REPLACE, "k/same.json", str(n).encode())
    store.down = False

    assert await writer.drain() == 5
    assert store.objects == {"k/same.json": b"4"}, "the last spooled write lands last"
    assert await writer.drain() == 0


async def test_drain_stops_at_the_first_failure(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock
) -> None:
    """A drain against a store that is still down stores nothing and keeps every entry."""
    writer = writer_for(store, tmp_path, clock)
    store.down = True
    for n in range(3):
        await writer.write(WriteKind.REPLACE, f"k/{n}.json", b"x")

    assert await writer.drain() == 0
    assert writer.spool.depth() == 3


async def test_replay_batch_bounds_the_work_of_one_write(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock
) -> None:
    """A write after an outage replays at most replay_batch entries; drain() does the rest."""
    writer = writer_for(store, tmp_path, clock, replay_batch=2)
    store.down = True
    for n in range(5):
        await writer.write(WriteKind.REPLACE, f"k/{n}.json", b"x")
    store.down = False
    clock.now += 5.0

    await writer.write(WriteKind.REPLACE, "k/new.json", b"x")
    assert writer.spool.depth() == 3
    assert await writer.drain() == 3


async def test_latest_wins_survives_a_late_replay(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock
) -> None:
    """An older LATEST_WINS record replayed after a newer one reached the store is not applied."""
    writer = writer_for(store, tmp_path, clock, replay_batch=0)
    store.down = True
    await writer.write(WriteKind.LATEST_WINS, "f/i/u.json", record("2026-11-25T10:00:00+00:00"))
    store.down = False
    clock.now += 5.0
    newer = record("2026-11-25T10:05:00Z", "negative")
    await writer.write(WriteKind.LATEST_WINS, "f/i/u.json", newer)

    assert await writer.drain() == 1
    assert store.objects["f/i/u.json"] == newer
    assert writer.spool.depth() == 0


async def test_an_unreplayable_entry_is_rejected_and_the_rest_go_on(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock
) -> None:
    """Spooled entries that can never apply (no readable time, unknown kind) are set aside."""
    writer = writer_for(store, tmp_path, clock, replay_batch=0)
    writer.spool.append("latest-wins", "f/i/u.json", b"{}")
    writer.spool.append("append-only", "k/0.json", b"0")
    writer.spool.append("replace", "k/1.json", b"1")

    assert await writer.drain() == 1
    assert store.objects == {"k/1.json": b"1"}
    assert writer.status()["spool_rejected"] == 2


async def test_bad_records_are_refused_before_spooling(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock
) -> None:
    """An invalid key or a LATEST_WINS record without a time is a ValueError, never spooled."""
    writer = writer_for(store, tmp_path, clock)
    store.down = True
    with pytest.raises(ValueError, match="created_at"):
        await writer.write(WriteKind.LATEST_WINS, "f/i/u.json", b'{"created_at": "yesterday"}')
    with pytest.raises(ValueError, match="invalid object key"):
        await writer.write(WriteKind.REPLACE, "/abs.json", b"1")
    assert writer.spool.depth() == 0


async def test_store_and_spool_both_failing_is_store_unavailable(
    store: MemoryObjectStore, tmp_path: Path, clock: Clock
) -> None:
    """Only when the record can be kept nowhere does the caller get StoreUnavailable."""
    writer = writer_for(store, tmp_path, clock)
    store.down = True
    shutil.rmtree(tmp_path / "spool")
    (tmp_path / "spool").write_bytes(b"a file where the spool folder was")

    with pytest.raises(StoreUnavailable, match=r"spool cannot keep k/1\.json"):
        await writer.write(WriteKind.REPLACE, "k/1.json", b"1")
