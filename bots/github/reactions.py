"""Reactions on the bot's GitHub answers, polled (GitHub sends no webhook for them).

Each run lists the reactions of the bot's recent comments with the ETag of the previous run
(a 304 costs nothing), records every new (user, content) pair once through the
FeedbackRecorder and retracts the pairs that vanished. What was seen is kept per comment, by
hashed user, in a small SQLite file next to the bot state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bots.github.api import GitHubApi, Reactions
from bots.github.bot import PLATFORM
from bots.ports import RecentAnswers
from bots.reactions import FeedbackRecorder
from core.errors import ServiceUnavailable, StoreUnavailable

_log = logging.getLogger(__name__)

Seen = frozenset[tuple[str, str]]  # (user hash, reaction content)


class ReactionSnapshots:
    """The ETag and the (user hash, content) pairs last seen on each polled comment."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS snapshots (message_key TEXT PRIMARY KEY,"
            " etag TEXT, seen TEXT NOT NULL, at REAL NOT NULL)"
        )

    def close(self) -> None:
        self._db.close()

    async def get(self, message_key: str) -> tuple[str | None, Seen]:
        rows = await self._run(
            "SELECT etag, seen FROM snapshots WHERE message_key = ?", message_key
        )
        if not rows:
            return None, frozenset()
        etag, seen = rows[0]
        pairs = json.loads(str(seen))
        return (str(etag) if etag else None), frozenset((str(h), str(c)) for h, c in pairs)

    async def put(self, message_key: str, etag: str | None, seen: Seen) -> None:
        await self._run(
            "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?)",
            message_key,
            etag,
            json.dumps(sorted(seen)),
            time.time(),
        )

    async def _run(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        try:
            return await asyncio.to_thread(lambda: self._db.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"reaction snapshots {self._path.name}: {exc}") from exc


@dataclass(slots=True)
class PollReport:
    """What one polling run did."""

    comments: int = 0
    unchanged: int = 0
    recorded: int = 0
    retracted: int = 0
    failed: list[str] = field(default_factory=list)


def parse_comment_key(key: str) -> tuple[str, int] | None:
    """`github:<owner>/<repo>:comment:<id>` -> (repo, id); None for any other key."""
    prefix, _, rest = key.partition(":")
    repo, _, comment = rest.rpartition(":comment:")
    if prefix != PLATFORM or repo.count("/") != 1 or not comment.isdigit():
        return None
    return repo, int(comment)


class ReactionPoller:
    """Turns reactions on the bot's comments of the last `window` seconds into feedback."""

    def __init__(
        self,
        *,
        api: GitHubApi,
        state: RecentAnswers,
        recorder: FeedbackRecorder,
        snapshots: ReactionSnapshots,
        hash_user: Callable[[str, str], str],
        window: float = 14 * 86400.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._api = api
        self._state = state
        self._recorder = recorder
        self._snapshots = snapshots
        self._hash_user = hash_user
        self._window = window
        self._clock = clock

    def close(self) -> None:
        """Releases the snapshot file (not the API client nor the bot state: both are
        shared, and closed by their owner)."""
        self._snapshots.close()

    async def poll(self) -> PollReport:
        """One pass over the recent answers; a comment that fails is retried next run."""
        report = PollReport()
        since = self._clock().timestamp() - self._window
        installations: dict[str, int | None] = {}
        for key, _ in await self._state.recent_answers(f"{PLATFORM}:", since=since):
            parsed = parse_comment_key(key)
            if parsed is None:
                continue
            report.comments += 1
            try:
                await self._poll_one(key, *parsed, installations, report)
            except ServiceUnavailable as exc:
                _log.warning("reactions of %s not recorded: %s", key, exc)
                report.failed.append(key)
        return report

    async def _poll_one(
        self,
        key: str,
        repo: str,
        comment_id: int,
        installations: dict[str, int | None],
        report: PollReport,
    ) -> None:
        if repo not in installations:
            installations[repo] = await self._api.installation_for(repo)
        etag, seen = await self._snapshots.get(key)
        found = await self._api.reactions(
            repo, comment_id, etag=etag, installation=installations[repo]
        )
        if found is None:
            report.unchanged += 1
        else:
            await self._apply(key, seen, found, report)

    async def _apply(self, key: str, seen: Seen, found: Reactions, report: PollReport) -> None:
        current = {
            (self._hash_user(PLATFORM, r.user_id), r.content): r.created_at
            for r in found.items
            if r.user_id and r.content
        }
        # Additions first, oldest first, so that a retraction never hides a newer label.
        for pair, created in sorted(current.items(), key=lambda item: item[1]):
            if pair not in seen and await self._record(key, pair, True, _when(created)):
                report.recorded += 1
        for pair in sorted(seen - current.keys()):
            if await self._record(key, pair, False, self._clock()):
                report.retracted += 1
        await self._snapshots.put(key, found.etag, frozenset(current))

    async def _record(
        self, key: str, pair: tuple[str, str], added: bool, at: datetime | None
    ) -> bool:
        user_hash, content = pair
        written = await self._recorder.hashed_reaction(
            platform=PLATFORM,
            message_key=key,
            user_hash=user_hash,
            emoji=content,
            added=added,
            at=at,
        )
        return written is not None


def _when(created_at: str) -> datetime | None:
    try:
        return datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return None
