"""The small interfaces the core depends on; adapters elsewhere implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Protocol, runtime_checkable

from core.memory import MemoryEntry, MemoryHit
from core.rollout import RolloutState
from core.types import ChatMessage, ChunkKind, Completion, Feedback, Interaction, Source


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


class AnswerMemory(Protocol):
    """Endorsed answers to earlier questions (core.memory), searched beside the docs."""

    async def recall(self, question: str, *, kb: str, k: int = 1) -> list[MemoryHit]:
        """The `k` best-matching entries of `kb`, best first, scored by
        core.memory.match_score; raises StoreUnavailable when the stores fail."""
        ...


class MemoryBook(Protocol):
    """Where memory entries are kept and indexed: one object each, one chunk each."""

    def remember(self, entry: MemoryEntry) -> None:
        """Stores and indexes the entry; an entry of the same id is replaced."""
        ...

    def forget(self, kb: str, entry_id: str) -> bool:
        """Removes the entry from the store and the index; False when there was none."""
        ...

    def get(self, kb: str, entry_id: str) -> MemoryEntry | None: ...

    def entries(self, kb: str | None = None) -> list[MemoryEntry]:
        """Every entry of `kb` (or of all knowledge bases), by knowledge base and id."""
        ...


class ChatModel(Protocol):
    """Generates a reply to a chat prompt."""

    @property
    def name(self) -> str: ...

    async def complete(
        self, messages: Sequence[ChatMessage], *, model: str | None = None
    ) -> Completion:
        """Raises ModelUnavailable when the model cannot answer.

        `model` names the served model to ask (a staged rollout's champion or challenger);
        None asks the one `name` gives.
        """
        ...

    async def check(self) -> None:
        """Raises ModelUnavailable when the model server is not healthy."""
        ...


@runtime_checkable
class StreamingChatModel(ChatModel, Protocol):
    """A chat model that can also send its reply piece by piece as it is generated."""

    def stream(
        self, messages: Sequence[ChatMessage], *, model: str | None = None
    ) -> AsyncIterator[str]:
        """The reply's text in pieces; raises ModelUnavailable (also after some pieces)."""
        ...


class InteractionLog(Protocol):
    """Durable record of every answered question."""

    async def record(self, interaction: Interaction) -> None:
        """Stores the interaction; writing the same id twice keeps one copy."""
        ...


class FeedbackLog(Protocol):
    """Durable record of users' reactions to answers."""

    async def record(self, feedback: Feedback) -> None:
        """Stores the feedback; per (interaction, user) only the latest event counts, so a
        replayed or older event never overrides a newer one."""
        ...

    async def for_interaction(self, interaction_id: str) -> list[Feedback]:
        """The current, not retracted, labels of one answer."""
        ...


class ObjectStore(Protocol):
    """A flat key -> bytes store: a local folder by default, any S3 API in production.

    Keys are '/'-separated relative paths such as `interactions/2026/11/25/<id>.json`.
    Raises core.errors.StoreUnavailable when the backing service cannot be reached.
    """

    def put(self, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        """Writes the whole object atomically; an existing key is replaced."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; raises KeyError when there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Removes the object; a missing key is not an error."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under `prefix`, in lexicographic order."""
        ...


@runtime_checkable
class VersionedListing(Protocol):
    """An object store that lists keys with a version tag, so readers can skip unchanged objects.

    A capability beside ObjectStore: the shared catalog asks for it with isinstance().
    """

    def list_versions(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(key, version) under `prefix`, in key order; a rewrite with other content changes
        the version (S3: the ETag). Raises StoreUnavailable like `list`."""
        ...


class ActiveModel(Protocol):
    """The name of the model every Leximind process answers with, switched at run time.

    A promotion or a rollback switches it; readers see the new name on their next request,
    without a restart. `current()` is called per request, so it must be cheap: it never
    waits for a store over the network.
    """

    def current(self) -> str | None:
        """The active model name, or None when none was ever switched to."""
        ...

    async def switch(self, name: str) -> None:
        """Makes `name` the active model for every reader, atomically."""
        ...


class Rollout(ActiveModel, Protocol):
    """The active model (the champion) and, during a canary, a challenger serving a share of
    users; every process sees a change on its next request.

    `switch(name)` makes `name` the champion for everyone and ends any canary. `state()` is
    called per question, so it must be cheap and never wait on an event loop; `read()` is
    for commands and the deployer, which want the state as stored now.
    """

    def state(self) -> RolloutState:
        """The champion, and the challenger with its share if a canary runs, as last read:
        a read that is due starts in the background, never making the caller wait for a
        store over the network."""
        ...

    async def read(self) -> RolloutState:
        """The state as stored now, waiting for the store; raises StoreUnavailable when it
        cannot be read."""
        ...

    async def stage(self, challenger: str | None, share: float) -> None:
        """Sets the challenger and its share (0..1), atomically; the champion stays. None (or
        a share of 0) stops the canary."""
        ...
