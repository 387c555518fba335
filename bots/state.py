"""Bot state in one SQLite file in the data dir: delivery ledger, rate limits, answer index
and the model of each answer."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from core.errors import StoreUnavailable

T = TypeVar("T")
# How long a claim on the event loop waits for another process's write lock before the
# wait moves to the state's thread.
_LEDGER_BUSY_SECONDS = 0.005

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS questions (user_key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS questions_by_user ON questions (user_key, at);
CREATE TABLE IF NOT EXISTS answers (
    message_key TEXT PRIMARY KEY, interaction_id TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS answer_models (
    interaction_id TEXT PRIMARY KEY, model TEXT NOT NULL, at REAL NOT NULL
);
"""


class SqliteBotState:
    """Implements DeliveryLedger, RateLimiter, AnswerIndex and AnswerModels for the processes
    of one host.

    SQLite serialises writers across processes, so a redelivery that reaches a second process
    on the same data dir is still claimed once. Old deliveries and answers are purged after
    `retention` seconds; `rate_limit` questions per `rate_window` seconds (0 disables).
    Commits are WAL with synchronous=NORMAL: they survive a process crash or restart, though
    the last ones may be lost if the machine itself loses power.
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
        # Its own thread: a claim must not queue behind slow work (retrieval, API calls) in
        # the loop's default executor, or webhook acknowledgements wait for answers.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bot-state")
        self._db = _connect(path)
        self._db.executescript(_SCHEMA)
        self._purge()
        # Claims run on the event loop (see `claim`), on a connection of their own that
        # waits only briefly for another process's write lock.
        self._ledger = _connect(path, timeout=_LEDGER_BUSY_SECONDS)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._db.close()
        self._ledger.close()

    async def _in_thread(self, work: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, *args)

    async def _run(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        async with self._lock:
            try:
                return await self._in_thread(self._execute, sql, params)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"bot state {self._path.name}: {exc}") from exc

    def _execute(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        return self._db.execute(sql, params).fetchall()

    def _purge(self) -> None:
        cutoff = self._clock() - self._retention
        self._db.execute("DELETE FROM deliveries WHERE at < ?", (cutoff,))
        self._db.execute("DELETE FROM answers WHERE at < ?", (cutoff,))
        self._db.execute("DELETE FROM answer_models WHERE at < ?", (cutoff,))

    async def claim(self, key: str) -> bool:
        # Inline rather than in a thread: claims are on the webhook acknowledgement path, one
        # INSERT without fsync takes microseconds, and a thread hop under load waits for the
        # GIL behind retrieval work (on 2 cores: p99 acknowledgement about 330 -> 180 ms).
        sql = "INSERT INTO deliveries (key, at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING key"
        params = (key, self._clock())
        try:
            rows = self._ledger.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise StoreUnavailable(f"bot state {self._path.name}: {exc}") from exc
            # Another process holds the write lock: wait for it off the event loop.
            rows = await self._run(sql, *params)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"bot state {self._path.name}: {exc}") from exc
        return bool(rows)

    async def allow(self, user_key: str) -> bool:
        if self._rate_limit <= 0:
            return True
        now = self._clock()
        async with self._lock:
            try:
                return await self._in_thread(self._allow, user_key, now)
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

    async def note(self, interaction_id: str, model: str) -> None:
        await self._run(
            "INSERT OR REPLACE INTO answer_models VALUES (?, ?, ?)",
            interaction_id,
            model,
            self._clock(),
        )

    async def model_of(self, interaction_id: str) -> str | None:
        rows = await self._run(
            "SELECT model FROM answer_models WHERE interaction_id = ?", interaction_id
        )
        return str(rows[0][0]) if rows else None

    async def recent_answers(self, prefix: str, *, since: float) -> list[tuple[str, str]]:
        """(message key, interaction id) pairs whose key starts with `prefix`, oldest first.

        Only answers remembered at or after `since` (epoch seconds) are listed: what a
        reaction poller looks at.
        """
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await self._run(
            "SELECT message_key, interaction_id FROM answers"
            " WHERE message_key LIKE ? ESCAPE '\\' AND at >= ? ORDER BY at, message_key",
            pattern,
            since,
        )
        return [(str(key), str(interaction)) for key, interaction in rows]


def _connect(path: Path, *, timeout: float = 10.0) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db
