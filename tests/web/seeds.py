"""Interaction and feedback records for the dashboard's tests, written straight to a store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.object_keys import feedback_key, interaction_key
from core.ports import ObjectStore
from core.types import (
    Answer,
    Chunk,
    ChunkKind,
    Feedback,
    FeedbackLabel,
    Interaction,
    Question,
    Source,
    Timings,
)

TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def source(path: str, kb: str = "default") -> Source:
    chunk = Chunk(f"c-{path}", kb, path, path, "text", 1, 9, "markdown", ChunkKind.DOC, "ab" * 20)
    return Source(chunk, 0.8, f"https://example.org/{path}")


@dataclass(frozen=True)
class Seed:
    """One interaction to store: when (days before today), where, how it went."""

    id: str
    days_ago: int
    platform: str
    text: str
    paths: tuple[str, ...]
    routed: str
    abstained: bool = False
    kb: str | None = None
    question: str = "How do I configure it?"

    def interaction(self) -> Interaction:
        at = (TODAY - timedelta(days=self.days_ago)).isoformat()
        answer = Answer(
            text=self.text,
            sources=tuple(source(p, self.kb or "default") for p in self.paths),
            confidence=0.2 if self.abstained else 0.8,
            abstained=self.abstained,
            model="extractive" if self.abstained else self.routed,
            extractive=self.abstained,
            timings=Timings(),
            interaction_id=self.id,
            routed_model=self.routed,
        )
        question = Question(self.question, kb=self.kb, platform=self.platform)
        return Interaction(self.id, at, question, answer)


def put_interaction(store: ObjectStore, seed: Seed) -> None:
    record = seed.interaction().to_record()
    store.put(interaction_key(seed.id, record["created_at"]), json.dumps(record).encode())


def put_label(store: ObjectStore, interaction: str, user: str, label: FeedbackLabel | None) -> None:
    emoji = {FeedbackLabel.POSITIVE: "👍", FeedbackLabel.NEGATIVE: "👎", None: "👎"}[label]
    record = Feedback(interaction, "web", user, emoji, label, TODAY.isoformat()).to_record()
    store.put(feedback_key(interaction, user), json.dumps(record).encode())
