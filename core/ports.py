"""The small interfaces the core depends on; adapters elsewhere implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from core.types import ChatMessage, ChunkKind, Completion, Interaction, Source


class Retriever(Protocol):
    """Finds the passages of a knowledge base that best match a query."""

    async def search(
        self, query: str, *, kb: str, k: int, kind: ChunkKind | None = None
    ) -> list[Source]:
        """Best `k` passages first; raises UnknownKnowledgeBase or StoreUnavailable."""
        ...

    def knowledge_bases(self) -> list[str]:
        """Names of the knowledge bases that can be searched."""
        ...


class ChatModel(Protocol):
    """Generates a reply to a chat prompt."""

    @property
    def name(self) -> str: ...

    async def complete(self, messages: Sequence[ChatMessage]) -> Completion:
        """Raises ModelUnavailable when the model cannot answer."""
        ...

    async def check(self) -> None:
        """Raises ModelUnavailable when the model server is not healthy."""
        ...


class InteractionLog(Protocol):
    """Durable record of every answered question."""

    async def record(self, interaction: Interaction) -> None:
        """Stores the interaction; writing the same id twice keeps one copy."""
        ...
