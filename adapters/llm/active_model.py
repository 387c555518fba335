"""The rollout state (the active model and any canary) in a file of the data dir, seen by every
process that shares it.

A promotion writes the file through a synced temporary file and a rename, so a reader sees the
old state or the new one, never half of either. Readers cache the state by the file's identity
(inode, modification time, size): a request costs one `stat`, and a switch made by another
process is seen on the next request. adapters.llm.redis_rollout implements the same port for
replicas on several hosts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.storage.local import write_atomically
from core.rollout import RolloutState, staged, validate_model_name, validate_share

_log = logging.getLogger(__name__)


def rollout_record(state: RolloutState) -> dict[str, Any]:
    """The stored form of a rollout state, stamped with the time of the change."""
    return {
        "model": state.champion,
        "challenger": state.challenger,
        "share": state.share,
        "switched_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }


def parse_rollout(record: Any) -> RolloutState:
    """The state a stored record holds; ValueError, KeyError or TypeError when it is malformed.

    A record without `challenger` (written before staged rollouts existed) has no canary.
    """
    champion = record["model"]
    challenger = record.get("challenger")
    share = record.get("share", 0.0)
    for name in (champion, challenger):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"a model name is {type(name).__name__}, not a string")
    if isinstance(share, bool) or not isinstance(share, int | float):
        raise TypeError(f"share is {type(share).__name__}, not a number")
    return RolloutState(
        champion=validate_model_name(champion) if champion is not None else None,
        challenger=validate_model_name(challenger) if challenger is not None else None,
        share=validate_share(share) if challenger is not None else 0.0,
    )


class FileActiveModel:
    """Implements core.ports.Rollout (and so ActiveModel) on a small JSON file:
    `{"model": ..., "challenger": ..., "share": ..., "switched_at": ...}`.

    A file that cannot be read or parsed is logged and the last state read is kept, so a
    hand-edited file never breaks answering. Changes are read-modify-write, written in a
    worker thread (they sync the file): the deployer makes them under its ledger lock.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._state = RolloutState()

    @property
    def path(self) -> Path:
        return self._path

    def current(self) -> str | None:
        return self.state().champion

    def state(self) -> RolloutState:
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return RolloutState()
        except OSError as exc:
            _log.error("cannot stat the active model file %s: %s", self._path, exc)
            return self._state
        identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        if identity == self._seen:
            return self._state
        with self._lock:
            if identity != self._seen:
                self._state = self._read(self._state)
                self._seen = identity
            return self._state

    def _read(self, fallback: RolloutState) -> RolloutState:
        try:
            return parse_rollout(json.loads(self._path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return RolloutState()
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            _log.error(
                "the active model file %s is unreadable (%s); still using %s",
                self._path,
                exc,
                fallback,
            )
            return fallback

    async def read(self) -> RolloutState:
        """The state in the file now (a local file: read as cheaply as `state`)."""
        return self.state()

    async def switch(self, name: str) -> None:
        state = RolloutState(champion=validate_model_name(name))
        await asyncio.to_thread(self._write, state)
        _log.info("active model is now %s", name)

    async def stage(self, challenger: str | None, share: float) -> None:
        def change() -> None:
            fresh = self._read(self.state())
            self._write(staged(fresh, challenger, share))

        await asyncio.to_thread(change)
        _log.info("challenger is now %s at a share of %s", challenger, share)

    def _write(self, state: RolloutState) -> None:
        write_atomically(self._path, (json.dumps(rollout_record(state)) + "\n").encode())
