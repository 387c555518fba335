"""Writes records to the object store, or to the local spool while the store is unreachable."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from adapters.storage.spool import Spool
from core.errors import StoreUnavailable
from core.object_keys import parse_time, validate_key
from core.ports import ObjectStore

_log = logging.getLogger(__name__)


class WriteKind(StrEnum):
    """How a record is written: plainly, or only if it is not older than the stored one."""

    REPLACE = "replace"
    LATEST_WINS = "latest-wins"


class SpooledWriter:
    """Puts records into an ObjectStore; keeps them in a durable Spool when it is unreachable.

    A write that meets StoreUnavailable goes to the spool and the caller is not failed. So
    does a write the store has not acknowledged within `patience` seconds: a store that
    accepts connections and then stays silent holds a caller that long, not for the client's
    timeouts (the put carries on in its thread; landing twice does no harm, see below). For
    `retry_after` seconds after a failure, writes go straight to the spool (so a dead store
    costs each caller a local fsync, not a network timeout); after that one write at a time
    tries the store again while the others are spooled. After a successful write up to
    `replay_batch` spooled writes are replayed, oldest first; `drain()` replays all of them
    (the scheduler calls it).

    Replays are idempotent: a record always lands under the same key, and a LATEST_WINS record
    (feedback) replaces the stored one only if its `created_at` is not older. That check is a
    read then a write, serialised within this process; two processes writing the same user's
    feedback on the same answer in the same instant could still interleave.
    """

    def __init__(
        self,
        store: ObjectStore,
        spool: Spool,
        *,
        replay_batch: int = 100,
        retry_after: float = 5.0,
        patience: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._spool = spool
        self._replay_batch = replay_batch
        self._retry_after = retry_after
        self._patience = patience
        self._clock = clock
        # Its own threads: puts stuck on a silent store must not take the default executor's
        # threads, which the spool appends that replace them run on.
        self._puts = ThreadPoolExecutor(max_workers=8, thread_name_prefix="object-store")
        self._probing = False  # a write is trying the store again after a failure
        self._down_until = float("-inf")
        self._last_failure: tuple[str, str] | None = None
        self._latest_lock = threading.Lock()
        self._draining = False

    @property
    def store(self) -> ObjectStore:
        return self._store

    @property
    def spool(self) -> Spool:
        return self._spool

    async def write(self, kind: WriteKind, key: str, data: bytes) -> None:
        """Writes to the store, or durably to the spool; StoreUnavailable only if both fail.

        ValueError for an invalid key, or a LATEST_WINS record without a readable `created_at`.
        """
        validate_key(key)
        if kind is WriteKind.LATEST_WINS:
            _created_at(data)
        trying = self._clock() >= self._down_until and not self._probing
        if trying and await self._stored(kind, key, data):
            if self._replay_batch and self._spool.depth():
                await self.drain(limit=self._replay_batch)
            return
        try:
            seq = await asyncio.to_thread(self._spool.append, kind.value, key, data)
        except OSError as exc:
            raise StoreUnavailable(
                f"object store unreachable and the spool cannot keep {key}: {exc}"
            ) from exc
        _log.info("object store unreachable: %s spooled as entry %d", key, seq)

    async def _stored(self, kind: WriteKind, key: str, data: bytes) -> bool:
        """Whether the store took the write within `patience`; else it is marked down."""
        self._probing = self._last_failure is not None
        put = asyncio.get_running_loop().run_in_executor(self._puts, self._apply, kind, key, data)
        try:
            await asyncio.wait_for(asyncio.shield(put), self._patience)
        except StoreUnavailable as exc:
            self._mark_down(exc)
            return False
        except TimeoutError:
            put.add_done_callback(_late_put)
            self._mark_down(StoreUnavailable(f"no answer within {self._patience} s"))
            return False
        finally:
            self._probing = False
        self._mark_up()
        return True

    def close(self) -> None:
        """Lets go of the put threads; a put still waiting on the store ends in its thread."""
        self._puts.shutdown(wait=False)

    async def drain(self, limit: int | None = None) -> int:
        """Replays spooled writes oldest first, at most `limit`; returns how many were stored.

        Stops at the first StoreUnavailable (later writes must not overtake earlier ones).
        Returns 0 at once while another drain, in this process or another, is running.
        """
        if self._draining:
            return 0
        self._draining = True
        try:
            return await asyncio.to_thread(self._drain, limit)
        finally:
            self._draining = False

    def status(self) -> dict[str, Any]:
        """For /healthz: spool depth, rejected entries, and the store failure if it persists."""
        report: dict[str, Any] = {
            "spool_depth": self._spool.depth(),
            "spool_rejected": self._spool.rejected(),
        }
        if self._last_failure is None:
            report["object_store"] = "ok"
        else:
            since, error = self._last_failure
            report["object_store"] = f"unreachable since {since}, spooling writes: {error}"
        return report

    @property
    def store_down(self) -> bool:
        """Whether the last write to the store failed (and none has succeeded since)."""
        return self._last_failure is not None

    def _drain(self, limit: int | None) -> int:
        replayed = 0
        with self._spool.exclusive() as mine:
            if not mine:
                return 0
            for entry in self._spool.pending(limit):
                try:
                    self._apply(WriteKind(entry.kind), entry.key, entry.data)
                except StoreUnavailable as exc:
                    self._mark_down(exc)
                    break
                except (ValueError, KeyError) as exc:
                    self._spool.reject(entry.seq, f"cannot be replayed: {exc!r}")
                    continue
                self._mark_up()
                self._spool.remove(entry.seq)
                replayed += 1
        if replayed:
            _log.info("replayed %d spooled writes; %d left", replayed, self._spool.depth())
        return replayed

    def _apply(self, kind: WriteKind, key: str, data: bytes) -> None:
        if kind is WriteKind.REPLACE:
            self._store.put(key, data)
            return
        incoming = _created_at(data)
        with self._latest_lock:
            try:
                current: datetime | None = _created_at(self._store.get(key))
            except KeyError:
                current = None
            except ValueError as exc:
                _log.warning("replacing unreadable record %s: %s", key, exc)
                current = None
            if current is None or current <= incoming:
                self._store.put(key, data)

    def _mark_down(self, exc: StoreUnavailable) -> None:
        self._down_until = self._clock() + self._retry_after
        if self._last_failure is None:
            since = datetime.now(UTC).isoformat(timespec="seconds")
            _log.warning("object store unreachable, spooling writes: %s", exc)
        else:
            since = self._last_failure[0]
        self._last_failure = (since, str(exc))

    def _mark_up(self) -> None:
        if self._last_failure is not None:
            _log.warning("object store reachable again")
        self._down_until = float("-inf")
        self._last_failure = None


def _late_put(put: asyncio.Future[None]) -> None:
    """Collects the outcome of a put that outlived its caller's patience (it was spooled)."""
    if not put.cancelled() and (exc := put.exception()) is not None:
        _log.debug("a put already spooled failed too: %s", exc)


def _created_at(data: bytes) -> datetime:
    """The `created_at` of a JSON record; ValueError when there is none or it is malformed."""
    try:
        value = json.loads(data)["created_at"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"record without a readable created_at: {exc!r}") from exc
    return parse_time(str(value), what="created_at")
