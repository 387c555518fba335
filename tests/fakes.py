"""Small, real, in-process implementations of the core ports for tests."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence

from core.errors import ModelUnavailable, StoreUnavailable, UnknownKnowledgeBase
from core.object_keys import validate_key
from core.types import (
    ChatMessage,
    Chunk,
    ChunkKind,
    Completion,
    Interaction,
    Source,
)


def chunk(
    path: str,
    text: str,
    *,
    title: str = "Title",
    kb: str = "default",
    kind: ChunkKind = ChunkKind.DOC,
    lines: tuple[int, int] = (1, 5),
) -> Chunk:
    return Chunk(
        id=f"{kb}:{path}:{lines[0]}",
        kb=kb,
        path=path,
        title=title,
        text=text,
        start_line=lines[0],
        end_line=lines[1],
        language="python" if kind is ChunkKind.CODE else "markdown",
        kind=kind,
        commit="c0ffee",
    )


class ListRetriever:
    """Returns fixed sources for a knowledge base and records the queries it saw."""

    def __init__(self, sources_by_kb: dict[str, list[Source]]) -> None:
        self._sources = sources_by_kb
        self.queries: list[str] = []

    def knowledge_bases(self) -> list[str]:
        return sorted(self._sources)

    async def search(
        self, query: str, *, kb: str, k: int, kind: ChunkKind | None = None
    ) -> list[Source]:
        if kb not in self._sources:
            raise UnknownKnowledgeBase(f"unknown knowledge base {kb!r}")
        self.queries.append(query)
        return self._sources[kb][:k]


class ScriptedChatModel:
    """Replies with scripted texts in order; an exception in the script is raised instead.

    `asked` lists the model each request named (its own name when none), as a model server
    serving several adapters would answer under that name.
    """

    def __init__(self, replies: Sequence[str | Exception], name: str = "scripted") -> None:
        self._replies = list(replies)
        self._name = name
        self.prompts: list[list[ChatMessage]] = []
        self.asked: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    async def complete(
        self, messages: Sequence[ChatMessage], *, model: str | None = None
    ) -> Completion:
        self.prompts.append(list(messages))
        self.asked.append(model or self._name)
        reply = self._replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return Completion(text=reply, model=model or self._name)

    async def check(self) -> None:
        if self._replies and isinstance(self._replies[0], ModelUnavailable):
            raise self._replies[0]


class StreamingScriptedChatModel(ScriptedChatModel):
    """A ScriptedChatModel that also streams: each scripted reply is a list of pieces, and an
    exception among them is raised at that point of the stream."""

    def __init__(
        self, streams: Sequence[Sequence[str | Exception]], name: str = "scripted"
    ) -> None:
        super().__init__([], name=name)
        self._streams = [list(s) for s in streams]

    async def stream(
        self, messages: Sequence[ChatMessage], *, model: str | None = None
    ) -> AsyncIterator[str]:
        self.prompts.append(list(messages))
        self.asked.append(model or self.name)
        for piece in self._streams.pop(0):
            if isinstance(piece, Exception):
                raise piece
            yield piece


class MemoryInteractionLog:
    """Keeps interactions in a dict keyed by id."""

    def __init__(self) -> None:
        self.records: dict[str, Interaction] = {}

    async def record(self, interaction: Interaction) -> None:
        self.records[interaction.id] = interaction


class MemoryObjectStore:
    """An ObjectStore in a dict that can be switched off: while `down`, every call fails.

    `puts` counts the writes that reached it, to tell direct writes from replays.
    """

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.down = False
        self.puts = 0

    def _check(self, key: str | None = None) -> None:
        if key is not None:
            validate_key(key)
        if self.down:
            raise StoreUnavailable("memory store switched off")

    def put(self, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        self._check(key)
        self.objects[key] = bytes(data)
        self.puts += 1

    def get(self, key: str) -> bytes:
        self._check(key)
        return self.objects[key]

    def exists(self, key: str) -> bool:
        self._check(key)
        return key in self.objects

    def delete(self, key: str) -> None:
        self._check(key)
        self.objects.pop(key, None)

    def list(self, prefix: str = "") -> Iterator[str]:
        self._check()
        yield from sorted(k for k in self.objects if k.startswith(prefix))


class VersionedMemoryObjectStore(MemoryObjectStore):
    """A MemoryObjectStore that also lists versions (the content's hash, like an S3 ETag) and
    counts every call by method name in `calls`, to tell what a reader costs."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def get(self, key: str) -> bytes:
        self.calls["get"] += 1
        return super().get(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        self.calls["list"] += 1
        return super().list(prefix)

    def list_versions(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        self.calls["list_versions"] += 1
        self._check()
        for key in sorted(k for k in self.objects if k.startswith(prefix)):
            yield key, hashlib.md5(self.objects[key]).hexdigest()
