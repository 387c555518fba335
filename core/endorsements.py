"""Keeps the answer memory in step with corrections and reactions stored in the object store.

Reads `corrections/<interaction id>.json`, `feedback/<interaction id>/*.json` and the
interaction itself, and asks core.memory.answer_entry what entry, if any, the answer earns:
a new correction replaces the entry, a retracted reaction or a negative majority withdraws
it. Entries from GitHub are never touched here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import LeximindError
from core.memory import (
    AnsweredQuestion,
    Correction,
    MemorySource,
    answer_entry,
    answer_entry_id,
)
from core.object_keys import CORRECTIONS, FEEDBACK, INTERACTIONS, interaction_key
from core.ports import FeedbackLog, MemoryBook, ObjectStore
from core.types import Feedback

_log = logging.getLogger(__name__)

_SOURCES_KEPT_HERE = (MemorySource.CORRECTION, MemorySource.REACTIONS)


@dataclass(slots=True)
class CurationReport:
    """What a sync did: entries written (new or changed), withdrawn, and left as they were."""

    remembered: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    missing: int = 0


class MemoryCurator:
    """Derives answer-memory entries from corrections and reactions.

    `reconsider` settles one answer (after a reaction or a correction); `sync` settles every
    answer that has a correction, feedback or an entry. Interactions are found by their day:
    `reconsider` looks back `lookback_days` from the time it is given.
    """

    def __init__(
        self,
        *,
        objects: ObjectStore,
        book: MemoryBook,
        min_endorsements: int,
        default_kb: str,
        lookback_days: int = 60,
    ) -> None:
        self._objects = objects
        self._book = book
        self._min = min_endorsements
        self._default_kb = default_kb
        self._lookback = lookback_days

    def reconsider(self, interaction_id: str, *, near: datetime) -> str:
        """Settles the entry of one answer: 'remembered', 'withdrawn', 'unchanged' or 'missing'."""
        key = self._find(interaction_id, near)
        if key is None:
            return "missing"
        return self._settle(interaction_id, key)

    def sync(self) -> CurationReport:
        """Settles every answer with a correction, feedback or an entry of its own."""
        wanted = set(_ids_under(self._objects, CORRECTIONS, depth=1))
        wanted |= set(_ids_under(self._objects, FEEDBACK, depth=2))
        for entry in self._book.entries():
            if entry.source in _SOURCES_KEPT_HERE and entry.origin.startswith("interaction:"):
                wanted.add(entry.origin.removeprefix("interaction:"))
        located: dict[str, str] = {}
        for key in self._objects.list(INTERACTIONS):
            name = key.rsplit("/", 1)[-1].removesuffix(".json")
            if name in wanted:
                located[name] = key
        report = CurationReport()
        for interaction_id in sorted(wanted):
            found = located.get(interaction_id)
            outcome = self._settle(interaction_id, found) if found else "missing"
            setattr(report, outcome, getattr(report, outcome) + 1)
        return report

    def _settle(self, interaction_id: str, key: str) -> str:
        asked = self._asked(key)
        if asked is None:
            return "missing"
        wanted = answer_entry(
            asked,
            correction=self._correction(interaction_id),
            feedback=self._feedback(interaction_id),
            min_endorsements=self._min,
        )
        current = self._book.get(asked.kb, answer_entry_id(interaction_id))
        if wanted is None:
            if current is None or current.source not in _SOURCES_KEPT_HERE:
                return "unchanged"
            self._book.forget(asked.kb, current.id)
            _log.info("memory entry %s withdrawn", current.id)
            return "withdrawn"
        if wanted == current:
            return "unchanged"
        self._book.remember(wanted)
        _log.info("memory entry %s remembered (%s)", wanted.id, wanted.source)
        return "remembered"

    def _find(self, interaction_id: str, near: datetime) -> str | None:
        day = near.astimezone(UTC)
        for back in range(self._lookback + 1):
            key = interaction_key(interaction_id, (day - timedelta(days=back)).isoformat())
            if self._objects.exists(key):
                return key
        return None

    def _asked(self, key: str) -> AnsweredQuestion | None:
        record = _read(self._objects, key)
        try:
            q, a = record["question"], record["answer"]
            return AnsweredQuestion(
                interaction_id=str(record["id"]),
                kb=str(q.get("kb") or self._default_kb),
                question=str(q["text"]),
                answer=str(a["text"]),
                abstained=bool(a.get("abstained")),
                led_by_memory=bool(a.get("memory")),
                platform=str(q.get("platform") or "api"),
                refs={str(k): str(v) for k, v in (q.get("platform_refs") or {}).items()},
            )
        except (KeyError, TypeError, AttributeError) as exc:
            _log.error("skipping unreadable interaction %s: %s", key, exc)
            return None

    def _correction(self, interaction_id: str) -> Correction | None:
        record = _read(self._objects, f"{CORRECTIONS}{interaction_id}.json")
        if not isinstance(record, dict) or not isinstance(record.get("answer"), str):
            return None
        return Correction(
            answer=record["answer"],
            annotator=str(record.get("annotator") or ""),
            created_at=str(record.get("created_at") or ""),
        )

    def _feedback(self, interaction_id: str) -> list[Feedback]:
        found = []
        for key in list(self._objects.list(f"{FEEDBACK}{interaction_id}/")):
            record = _read(self._objects, key)
            try:
                found.append(Feedback.from_record(record))
            except (KeyError, ValueError, TypeError) as exc:
                _log.error("skipping unreadable feedback record %s: %s", key, exc)
        return found


class EndorsingFeedbackLog:
    """Implements core.ports.FeedbackLog: records feedback, then settles the answer's entry.

    The memory learns from a reaction the moment it is recorded; when the memory cannot be
    updated the feedback still stands (the next `leximind memory sync` catches up).
    """

    def __init__(self, inner: FeedbackLog, curator: MemoryCurator) -> None:
        self._inner = inner
        self._curator = curator

    async def record(self, feedback: Feedback) -> None:
        await self._inner.record(feedback)
        near = datetime.fromisoformat(feedback.created_at)
        try:
            await asyncio.to_thread(self._curator.reconsider, feedback.interaction_id, near=near)
        except LeximindError as exc:
            _log.warning("answer memory not updated for %s: %s", feedback.interaction_id, exc)

    async def for_interaction(self, interaction_id: str) -> list[Feedback]:
        return await self._inner.for_interaction(interaction_id)


def _ids_under(store: ObjectStore, prefix: str, *, depth: int) -> list[str]:
    """Interaction ids named by keys under `prefix`: the file name (depth 1) or folder (2)."""
    ids = []
    for key in store.list(prefix):
        parts = key[len(prefix) :].split("/")
        if len(parts) == depth and parts[-1].endswith(".json"):
            ids.append(parts[0].removesuffix(".json"))
    return ids


def _read(store: ObjectStore, key: str) -> Any:
    try:
        return json.loads(store.get(key))
    except KeyError:
        return None
    except ValueError as exc:
        _log.error("skipping unreadable record %s: %s", key, exc)
        return None
