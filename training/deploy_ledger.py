"""What the deployer remembers between runs: the models in service before, adapter folders,
and a short log of switches; one JSON file, changed under an inter-process lock.

The active model name itself lives behind core.ports.ActiveModel, which every process reads;
this ledger is only read by the deployer (promote, rollback) and `leximind model list`.
"""

from __future__ import annotations

import fcntl
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.storage.local import write_atomically
from training.errors import DeploymentError

_log = logging.getLogger(__name__)

MAX_EVENTS = 200


@dataclass(slots=True)
class LedgerState:
    """`history`: models that were active before the current one, oldest first (the last is
    the rollback target); `adapters`: version -> adapter folder; `events`: switches, newest
    last."""

    history: list[str] = field(default_factory=list)
    adapters: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, str]] = field(default_factory=list)

    def record(self, action: str, model: str, previous: str, *, share: float | None = None) -> None:
        """Appends a switch to the events, keeping the newest MAX_EVENTS; a canary's events
        also hold the challenger's share."""
        event = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "action": action,
            "model": model,
            "previous": previous,
        }
        if share is not None:
            event["share"] = f"{share:g}"
        self.events.append(event)
        del self.events[:-MAX_EVENTS]


class DeployLedger:
    """The ledger file (`state.json`) and its lock file (`state.lock`) in one folder."""

    def __init__(self, folder: Path) -> None:
        self._path = folder / "state.json"
        self._lock_path = folder / "state.lock"

    def read(self) -> LedgerState:
        """The current state, without taking the lock (a consistent snapshot: writes are
        atomic). Raises DeploymentError when the file is unreadable."""
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return LedgerState()
        except (OSError, ValueError) as exc:
            raise DeploymentError(f"cannot read the deploy ledger {self._path}: {exc}") from exc
        return _parse(raw, self._path)

    @contextmanager
    def locked(self) -> Iterator[LedgerState]:
        """Holds the lock (waiting for another deployer to finish) and yields the state;
        call `save` to keep changes."""
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield self.read()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def save(self, state: LedgerState) -> None:
        """Writes the state atomically; call it while holding `locked()`."""
        record = {"history": state.history, "adapters": state.adapters, "events": state.events}
        try:
            write_atomically(self._path, (json.dumps(record, indent=1) + "\n").encode())
        except OSError as exc:
            raise DeploymentError(f"cannot write the deploy ledger {self._path}: {exc}") from exc


def _parse(raw: Any, path: Path) -> LedgerState:
    try:
        history = [str(name) for name in raw.get("history", [])]
        adapters = {str(k): str(v) for k, v in raw.get("adapters", {}).items()}
        events = [{str(k): str(v) for k, v in e.items()} for e in raw.get("events", [])]
    except (AttributeError, TypeError) as exc:
        raise DeploymentError(f"the deploy ledger {path} is malformed: {exc}") from exc
    return LedgerState(history=history, adapters=adapters, events=events)
