"""The interaction and feedback logs, written through any ObjectStore with a durable spool."""

from __future__ import annotations

import asyncio
import json
import logging

from adapters.storage.writer import SpooledWriter, WriteKind
from core.object_keys import FEEDBACK, feedback_key, interaction_key, parse_time, validate_segment
from core.privacy import require_user_hash
from core.types import Feedback, Interaction, Question

_log = logging.getLogger(__name__)

# platform_refs entries whose name says they identify a person must hold hashes, not ids.
_PERSON_WORDS = ("user", "author", "member", "login", "sender")


class ObjectInteractionLog:
    """Implements core.ports.InteractionLog: `interactions/YYYY/MM/DD/<id>.json` per interaction.

    Recording the same interaction again overwrites the same key, so replays never duplicate.
    A user id that is not a hash (in `user_hash`, or a platform ref named like `user` or
    `author`) is refused with ValueError before anything is written.
    """

    def __init__(self, writer: SpooledWriter) -> None:
        self._writer = writer

    async def record(self, interaction: Interaction) -> None:
        """Stores the interaction, or spools it; StoreUnavailable only if neither can be done."""
        check_no_raw_user_ids(interaction.question)
        key = interaction_key(interaction.id, interaction.created_at)
        await self._writer.write(WriteKind.REPLACE, key, self.encode(interaction))

    @staticmethod
    def encode(interaction: Interaction) -> bytes:
        """The stored bytes: the interaction's record as indented UTF-8 JSON."""
        return json.dumps(interaction.to_record(), ensure_ascii=False, indent=1).encode()


class ObjectFeedbackLog:
    """Implements core.ports.FeedbackLog: `feedback/<interaction id>/<user hash>.json`.

    Per user and answer the record with the latest `created_at` wins, also when an older event
    is replayed from the spool after a newer one reached the store.
    """

    def __init__(self, writer: SpooledWriter) -> None:
        self._writer = writer

    async def record(self, feedback: Feedback) -> None:
        """Stores the feedback, or spools it; ValueError for a raw user id or a bad time."""
        require_user_hash(feedback.user_hash)
        parse_time(feedback.created_at, what="feedback created_at")
        key = feedback_key(feedback.interaction_id, feedback.user_hash)
        data = json.dumps(feedback.to_record(), ensure_ascii=False).encode()
        await self._writer.write(WriteKind.LATEST_WINS, key, data)

    async def for_interaction(self, interaction_id: str) -> list[Feedback]:
        """The current labels of one answer as stored; StoreUnavailable if the store is down.

        Feedback still waiting in the spool shows once it has been replayed.
        """
        validate_segment(interaction_id, what="interaction id")
        return await asyncio.to_thread(self._read_all, f"{FEEDBACK}{interaction_id}/")

    def _read_all(self, prefix: str) -> list[Feedback]:
        store = self._writer.store
        found = []
        for key in list(store.list(prefix)):
            try:
                data = store.get(key)
            except KeyError:
                continue  # deleted since it was listed
            try:
                found.append(Feedback.from_record(json.loads(data)))
            except (ValueError, KeyError, TypeError) as exc:
                _log.error("skipping unreadable feedback record %s: %s", key, exc)
        return [f for f in found if f.label is not None]


def check_no_raw_user_ids(question: Question) -> None:
    """ValueError if the question carries a user id that is not a keyed hash."""
    if question.user_hash is not None:
        require_user_hash(question.user_hash, what="question.user_hash")
    for name, value in question.platform_refs.items():
        if any(word in name.lower() for word in _PERSON_WORDS):
            require_user_hash(value, what=f"platform ref {name!r}")
