"""Interfaces inside the retrieval layer: embedding models and vector stores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from core.types import Chunk, ChunkKind, FileRole

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, float32, unit length."""
        ...


class VectorStore(Protocol):
    """Stores chunks with their vectors and searches them by vector or by keywords.

    Every method that reaches the backing store raises StoreUnavailable when it fails.
    """

    def upsert(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """Inserts or replaces chunks by id; `vectors` has one row per chunk."""
        ...

    def delete_paths(self, kb: str, paths: Sequence[str]) -> None:
        """Removes every chunk of these files from the knowledge base."""
        ...

    def delete_ids(self, kb: str, ids: Sequence[str]) -> None:
        """Removes chunks of the knowledge base by id."""
        ...

    def chunk_ids(self, kb: str) -> dict[str, str]:
        """All chunk ids of the knowledge base, mapped to their file path."""
        ...

    def vectors(self, kb: str, ids: Sequence[str]) -> dict[str, Vectors]:
        """The stored vector of each id that exists in the knowledge base."""
        ...

    def chunks(self, kb: str, ids: Sequence[str]) -> dict[str, Chunk]:
        """The stored chunk of each id that exists in the knowledge base."""
        ...

    def vector_search(
        self,
        kb: str,
        vector: Vectors,
        *,
        k: int,
        kind: ChunkKind | None = None,
        exclude_roles: frozenset[FileRole] = frozenset(),
    ) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity, best first, with the similarity; chunks of
        `exclude_roles` (core.types.FileRole) take no place."""
        ...

    def keyword_search(
        self,
        kb: str,
        query: str,
        *,
        k: int,
        kind: ChunkKind | None = None,
        exclude_roles: frozenset[FileRole] = frozenset(),
    ) -> list[tuple[Chunk, float]]:
        """Best BM25 matches, best first, with the BM25 score; chunks of `exclude_roles` take
        no place."""
        ...

    def close(self) -> None:
        """Lets go of connections and memory; the process that built the store calls it once
        it is done with it (ops.wiring.open_services)."""
        ...

    def count(self, kb: str | None = None) -> int:
        """Number of chunks, in one knowledge base or in all."""
        ...

    def knowledge_bases(self) -> list[str]:
        """Names of the knowledge bases with at least one chunk."""
        ...

    def optimize(self) -> None:
        """Makes a batch of recent writes fast to search (index maintenance)."""
        ...

    def check(self) -> None:
        """Raises StoreUnavailable when the store cannot be read."""
        ...


@runtime_checkable
class HybridSearch(Protocol):
    """A store that fuses BM25 and vector search itself, in one query.

    The HybridRetriever uses it instead of fusing two result lists on its side.
    """

    def hybrid_search(
        self,
        kb: str,
        query: str,
        vector: Vectors,
        *,
        k: int,
        kind: ChunkKind | None = None,
        exclude_roles: frozenset[FileRole] = frozenset(),
    ) -> list[tuple[Chunk, float]]:
        """Best chunks by the store's fused score, best first, with that score."""
        ...
