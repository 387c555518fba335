"""Bot state in one SQLite file in the data dir: delivery ledger, rate limits, answer index."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from core.errors import StoreUnavailable

_T = TypeVar("_T")
# How long a statement on the event loop waits for another process's write lock before the
# wait moves to a thread, and how long that thread waits before the state counts as down.
_INLINE_BUSY_MS = 5
_THREAD_BUSY_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS questions (user_key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS questions_by_user ON questions (user_key, at);
CREATE TABLE IF NOT EXISTS answers (
    message_key TEXT PRIMARY KEY, interaction_id TEXT NOT NULL, at REAL NOT NULL
);
"""


class SqliteBotState:
    """Implements DeliveryLedger, RateLimiter and AnswerIndex for the processes of one host.

    SQLite serialises writers across processes, so a redelivery that reaches a second process
    on the same data dir is still claimed once. Old deliveries and answers are purged after
    `retention` seconds; `rate_limit` questions per `rate_window` seconds (0 disables).
    """

    def __init__(
        self,
        path: Path,
        *,
        rate_limit: int = 5,
        rate_window: float = 60.0,
        retention: float = 30 * 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._rate_limit = rate_limit
        self._rate_window = rate_window
        self._retention = retention
        self._clock = clock
        self._lock = asyncio.Lock()
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives a crash of the process (not of the OS) without an
        # fsync per claim, which would otherwise bound how fast events can be acknowledged.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bot-state")
        self._db.executescript(_SCHEMA)
        self._purge()
        self._db.execute(f"PRAGMA busy_timeout = {_INLINE_BUSY_MS}")

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._db.close()

    async def _call(self, work: Callable[..., _T], *args: object) -> _T:
        """Runs one short statement; the caller holds the lock.

        It runs on the event loop: without an fsync a statement takes tens of microseconds,
        while a hand-off to a thread costs milliseconds once retrieval threads compete for
        the GIL (200 Slack events at once were acknowledged 2-5x sooner inline). Only when
        another process holds the write lock longer than a few milliseconds does the wait
        move to the state's own thread, so the loop never blocks on it.
        """
        try:
            return work(*args)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        self._db.execute(f"PRAGMA busy_timeout = {_THREAD_BUSY_MS}")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {_INLINE_BUSY_MS}")

    async def _run(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        async with self._lock:
            try:
                return await self._call(self._execute, sql, params)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"bot state {self._path.name}: {exc}") from exc

    def _execute(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        return self._db.execute(sql, params).fetchall()

    def _purge(self) -> None:
        cutoff = self._clock() - self._retention
        self._db.execute("DELETE FROM deliveries WHERE at < ?", (cutoff,))
        self._db.execute("DELETE FROM answers WHERE at < ?", (cutoff,))

    async def claim(self, key: str) -> bool:
        rows = await self._run(
            "INSERT INTO deliveries (key, at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING key",
            key,
            self._clock(),
        )
        return bool(rows)

    async def allow(self, user_key: str) -> bool:
        if self._rate_limit <= 0:
            return True
        now = self._clock()
        async with self._lock:
            try:
                return await self._call(self._allow, user_key, now)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"bot state {self._path.name}: {exc}") from exc

    def _allow(self, user_key: str, now: float) -> bool:
        with self._db:  # one transaction: count and insert together
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "DELETE FROM questions WHERE user_key = ? AND at <= ?",
                (user_key, now - self._rate_window),
            )
            (count,) = self._db.execute(
                "SELECT count(*) FROM questions WHERE user_key = ?", (user_key,)
            ).fetchone()
            if count >= self._rate_limit:
                return False
            self._db.execute("INSERT INTO questions VALUES (?, ?)", (user_key, now))
            return True

    async def remember(self, message_key: str, interaction_id: str) -> None:
        await self._run(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?)",
            message_key,
            interaction_id,
            self._clock(),
        )

    async def interaction_for(self, message_key: str) -> str | None:
        rows = await self._run(
            "SELECT interaction_id FROM answers WHERE message_key = ?", message_key
        )
        return str(rows[0][0]) if rows else None
