"""In-memory copies of knowledge bases for exact dense search without a round trip per query.

LanceDB answers a flat vector search over a few thousand chunks in milliseconds, most of
them spent outside the arithmetic: a hop to its background event loop, a plan, and the
conversion of every result row. With a knowledge base's unit vectors in one matrix, the
same exact search is a matrix-vector product (tens of microseconds for 2,000 chunks).
A snapshot belongs to one table version; any write makes a new version, and the next
search loads a new snapshot, so results never lag behind the table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.types import Chunk, ChunkKind, FileRole
from rag.ports import Vectors


@dataclass(frozen=True, slots=True)
class DenseSnapshot:
    """One knowledge base's chunks and unit vectors, as of one table version."""

    chunks: list[Chunk]
    matrix: Vectors  # one unit-length row per chunk, float32
    kinds: np.ndarray  # the kind of each chunk, for filtering
    roles: np.ndarray  # the role of each chunk, for filtering
    index: dict[str, int]

    @classmethod
    def of(cls, chunks: list[Chunk], vectors: Vectors) -> DenseSnapshot:
        """Rows are normalised here, so dot products are cosine similarities."""
        raw = np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1 if chunks else 0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        matrix = (raw / np.where(norms == 0, 1.0, norms)).astype(np.float32)
        kinds = np.array([c.kind.value for c in chunks], dtype=object)
        roles = np.array([c.role.value for c in chunks], dtype=object)
        return cls(chunks, matrix, kinds, roles, {c.id: i for i, c in enumerate(chunks)})

    def search(
        self,
        vector: Vectors,
        *,
        k: int,
        kind: ChunkKind | None,
        exclude_roles: frozenset[FileRole] = frozenset(),
    ) -> list[tuple[Chunk, float]]:
        """The k most similar chunks by cosine, best first (ties in table order), none of
        `exclude_roles`."""
        if not self.chunks or k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).ravel()
        norm = float(np.linalg.norm(query))
        scores = self.matrix @ (query / norm if norm else query)
        candidates = np.arange(len(self.chunks))
        if kind is not None:
            candidates = candidates[self.kinds == kind.value]
        if exclude_roles:
            excluded = [r.value for r in exclude_roles]
            candidates = candidates[~np.isin(self.roles[candidates], excluded)]
        if len(candidates) > k:
            part = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[part]
        best = candidates[np.lexsort((candidates, -scores[candidates]))]
        return [(self.chunks[i], float(scores[i])) for i in best]

    def vectors(self, ids: Sequence[str]) -> dict[str, Vectors]:
        """The stored vectors of those ids that exist (normalised)."""
        return {i: self.matrix[self.index[i]] for i in ids if i in self.index}

    def chunks_of(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """The chunks of those ids that exist."""
        return {i: self.chunks[self.index[i]] for i in ids if i in self.index}


class Snapshots:
    """The latest snapshot of each knowledge base, reloaded when the table version moves.

    A knowledge base with more than `max_rows` chunks gets no snapshot (None): its searches
    stay with the store. Loads are serialised, so a burst of searches after a write loads
    once.
    """

    def __init__(self, max_rows: int) -> None:
        self._max_rows = max_rows
        self._latest: dict[str, tuple[int, DenseSnapshot | None]] = {}
        self._loading = threading.Lock()

    def clear(self) -> None:
        """Drops every snapshot; the next search loads again."""
        with self._loading:
            self._latest.clear()

    def held(self, kb: str, version: int) -> DenseSnapshot | None:
        """The snapshot of `kb` at `version` if one is loaded already; never loads."""
        held = self._latest.get(kb)
        return held[1] if held is not None and held[0] == version else None

    def get(
        self,
        kb: str,
        version: int,
        *,
        count: Callable[[], int],
        load: Callable[[], tuple[list[Chunk], Vectors]],
    ) -> DenseSnapshot | None:
        """The snapshot of `kb` at `version`, loaded with `load` unless already held."""
        if self._max_rows <= 0:
            return None
        held = self._latest.get(kb)
        if held is not None and held[0] == version:
            return held[1]
        with self._loading:
            held = self._latest.get(kb)
            if held is not None and held[0] == version:
                return held[1]
            snapshot = DenseSnapshot.of(*load()) if count() <= self._max_rows else None
            self._latest[kb] = (version, snapshot)
            return snapshot
