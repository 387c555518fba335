"""The answer memory's storage: one object per entry, one chunk per entry in the vector store.

The object store holds the truth (`memory/<kb>/<entry id>.json`); the vector store indexes
each entry in its knowledge base as a chunk of kind MEMORY, embedded from the question and
its answer, so `recall` finds it by meaning. Indexing a repository leaves these chunks alone
(their paths are no file's), and `reindex` rebuilds them from the objects.
"""

from __future__ import annotations

import asyncio
import json
import logging

import numpy as np

from core.memory import (
    MatchWeights,
    MemoryEntry,
    MemoryHit,
    entry_chunk_id,
    is_memory_path,
    match_score,
)
from core.object_keys import MEMORY, memory_key
from core.ports import ObjectStore
from core.types import Chunk, ChunkKind
from rag.ports import Embedder, VectorStore

_log = logging.getLogger(__name__)


def entry_chunk(entry: MemoryEntry) -> Chunk:
    """The chunk that indexes an entry: its question as title, question and answer as text."""
    lines = entry.search_text.count("\n") + 1
    return Chunk(
        id=entry.chunk_id,
        kb=entry.kb,
        path=entry.path,
        title=entry.question,
        text=entry.search_text,
        start_line=1,
        end_line=lines,
        language="text",
        kind=ChunkKind.MEMORY,
    )


class IndexedAnswerMemory:
    """Implements core.ports.AnswerMemory and core.ports.MemoryBook.

    `recall` scores the `candidates` nearest entries with core.memory.match_score and reads
    the best ones back from the object store, so an entry deleted there is never returned.
    """

    def __init__(
        self,
        *,
        objects: ObjectStore,
        store: VectorStore,
        embedder: Embedder,
        candidates: int = 30,
        weights: MatchWeights | None = None,
    ) -> None:
        self._objects = objects
        self._store = store
        self._embedder = embedder
        self._candidates = candidates
        self._weights = weights or MatchWeights()

    @property
    def objects(self) -> ObjectStore:
        return self._objects

    def remember(self, entry: MemoryEntry) -> None:
        data = json.dumps(entry.to_record(), ensure_ascii=False, indent=1).encode()
        self._objects.put(memory_key(entry.kb, entry.id), data)
        self._index([entry])

    def forget(self, kb: str, entry_id: str) -> bool:
        key = memory_key(kb, entry_id)
        existed = self._objects.exists(key)
        self._store.delete_ids(kb, [entry_chunk_id(entry_id)])
        self._objects.delete(key)
        return existed

    def get(self, kb: str, entry_id: str) -> MemoryEntry | None:
        return self._load(memory_key(kb, entry_id))

    def entries(self, kb: str | None = None) -> list[MemoryEntry]:
        prefix = f"{MEMORY}{kb}/" if kb else MEMORY
        found = (self._load(key) for key in list(self._objects.list(prefix)))
        return [e for e in found if e is not None]

    def reindex(self, kb: str) -> tuple[int, int]:
        """Makes the index of `kb` hold exactly its stored entries: (indexed, removed)."""
        entries = self.entries(kb)
        wanted = {e.chunk_id for e in entries}
        stale = [
            i for i, p in self._store.chunk_ids(kb).items() if is_memory_path(p) and i not in wanted
        ]
        self._store.delete_ids(kb, stale)
        self._index(entries)
        return len(entries), len(stale)

    async def recall(self, question: str, *, kb: str, k: int = 1) -> list[MemoryHit]:
        return await asyncio.to_thread(self._recall, question, kb, k)

    def _recall(self, question: str, kb: str, k: int) -> list[MemoryHit]:
        vector = self._embedder.embed([question])[0]
        near = self._store.vector_search(kb, vector, k=self._candidates, kind=ChunkKind.MEMORY)
        scored = sorted(
            ((match_score(question, c.text, cos, self._weights), c) for c, cos in near),
            key=lambda item: -item[0],
        )
        hits = []
        for score, chunk in scored:
            entry = self._load(memory_key(kb, chunk.id.removeprefix("memory-")))
            if entry is not None:
                hits.append(MemoryHit(entry=entry, score=score))
            if len(hits) >= k:
                break
        return hits

    def _index(self, entries: list[MemoryEntry]) -> None:
        if not entries:
            return
        vectors = self._embedder.embed([e.search_text for e in entries])
        self._store.upsert([entry_chunk(e) for e in entries], np.asarray(vectors))
        self._store.optimize()

    def _load(self, key: str) -> MemoryEntry | None:
        try:
            data = self._objects.get(key)
        except KeyError:
            return None  # deleted since it was listed or indexed
        try:
            return MemoryEntry.from_record(json.loads(data))
        except (KeyError, ValueError, TypeError) as exc:
            _log.error("skipping unreadable memory entry %s: %s", key, exc)
            return None
