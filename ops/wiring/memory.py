"""Builds the answer memory and its curator from settings (called by open_services)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.endorsements import EndorsingFeedbackLog, MemoryCurator
from core.ports import FeedbackLog, ObjectStore

if TYPE_CHECKING:
    from ops.settings import Settings
    from ops.settings.memory import MemorySettings
    from rag.memory import IndexedAnswerMemory
    from rag.ports import Embedder, VectorStore


def build_answer_memory(
    memory: MemorySettings, *, store: VectorStore, embedder: Embedder, objects: ObjectStore
) -> IndexedAnswerMemory:
    """Entries in the object store, indexed in the vector store beside the docs."""
    from rag.memory import IndexedAnswerMemory

    return IndexedAnswerMemory(
        objects=objects, store=store, embedder=embedder, candidates=memory.candidates
    )


def build_curator(settings: Settings, memory: IndexedAnswerMemory) -> MemoryCurator:
    """The curator that turns corrections and reactions into entries."""
    return MemoryCurator(
        objects=memory.objects,
        book=memory,
        min_endorsements=settings.memory.min_endorsements,
        default_kb=settings.default_kb,
    )


def endorsing(
    settings: Settings, feedback: FeedbackLog, memory: IndexedAnswerMemory
) -> FeedbackLog:
    """The feedback log; with the memory on, each reaction also settles its answer's entry."""
    if not settings.memory.enabled:
        return feedback
    return EndorsingFeedbackLog(feedback, build_curator(settings, memory))
