"""Copying an index keeps chunks and vectors, resumes after an interruption, checks counts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.errors import StoreUnavailable, UnknownKnowledgeBase
from core.types import Chunk
from rag.migration import copy_catalog, copy_index
from rag.ports import Vectors
from rag.shared_catalog import ObjectStoreCatalog
from rag.stores.lancedb import LanceDBStore
from tests.fakes import MemoryObjectStore
from tests.rag.catalog_contract import record
from tests.rag.store_contract import CORPUS, DIM, make_chunk, vectors_for

MORE = [make_chunk("alpha", f"docs/page{n}.md", f"Page number {n}.") for n in range(7)]
ALL = [*CORPUS, *MORE]


class InterruptedStore(LanceDBStore):
    """A LanceDB store whose writes fail after `writes` successful upserts."""

    def __init__(self, path: Path, *, writes: int) -> None:
        super().__init__(path, dimension=DIM)
        self.writes = writes

    def upsert(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        if self.writes == 0:
            raise StoreUnavailable("the target went away")
        self.writes -= 1
        super().upsert(chunks, vectors)


class LossyStore(LanceDBStore):
    """A LanceDB store that silently drops one chunk of every write."""

    def upsert(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        super().upsert(chunks[1:], vectors[1:])


@pytest.fixture
def source(tmp_path: Path) -> LanceDBStore:
    store = LanceDBStore(tmp_path / "source", dimension=DIM)
    store.upsert(ALL, vectors_for(ALL))
    store.optimize()
    return store


def test_copies_every_knowledge_base_with_its_vectors(source: LanceDBStore, tmp_path: Path) -> None:
    """Chunks and their vectors arrive unchanged; counts match per knowledge base."""
    target = LanceDBStore(tmp_path / "target", dimension=DIM)
    batches: list[tuple[str, int]] = []

    reports = copy_index(source, target, batch=4, on_batch=lambda kb, n: batches.append((kb, n)))

    assert [(r.kb, r.source, r.copied, r.target, r.verified) for r in reports] == [
        ("alpha", 10, 10, 10, True),
        ("beta", 1, 1, 1, True),
    ]
    assert batches == [("alpha", 4), ("alpha", 4), ("alpha", 2), ("beta", 1)]
    ids = [c.id for c in ALL if c.kb == "alpha"]
    assert target.chunks("alpha", ids) == source.chunks("alpha", ids)
    got, want = target.vectors("alpha", ids), source.vectors("alpha", ids)
    for i in ids:
        np.testing.assert_array_equal(got[i], want[i])
    assert target.keyword_search("beta", "cargo", k=1)[0][0].path == "README.md"


def test_copies_only_the_named_knowledge_base(source: LanceDBStore, tmp_path: Path) -> None:
    """--kb copies that knowledge base alone; a name the source lacks is an error."""
    target = LanceDBStore(tmp_path / "target", dimension=DIM)
    assert [r.kb for r in copy_index(source, target, kbs=["beta"])] == ["beta"]
    assert target.knowledge_bases() == ["beta"]
    with pytest.raises(UnknownKnowledgeBase, match="gamma"):
        copy_index(source, target, kbs=["gamma"])


def test_resumes_after_an_interruption(source: LanceDBStore, tmp_path: Path) -> None:
    """A copy cut off mid-way copies only the remaining chunks when run again."""
    broken = InterruptedStore(tmp_path / "target", writes=2)
    with pytest.raises(StoreUnavailable):
        copy_index(source, broken, batch=3)
    assert broken.count("alpha") == 6

    target = LanceDBStore(tmp_path / "target", dimension=DIM)
    reports = copy_index(source, target, batch=3)

    alpha = reports[0]
    assert (alpha.already_there, alpha.copied, alpha.target, alpha.verified) == (6, 4, 10, True)
    again = copy_index(source, target, batch=3)
    assert [(r.copied, r.verified) for r in again] == [(0, True), (0, True)]


def test_count_mismatch_is_reported(source: LanceDBStore, tmp_path: Path) -> None:
    """A target that lost chunks fails verification with both counts."""
    reports = copy_index(source, LossyStore(tmp_path / "target", dimension=DIM), batch=5)
    alpha = reports[0]
    assert (alpha.source, alpha.target, alpha.verified) == (10, 8, False)


def test_prune_removes_what_the_source_no_longer_has(source: LanceDBStore, tmp_path: Path) -> None:
    """Chunks only the target holds break the count unless pruned."""
    target = LanceDBStore(tmp_path / "target", dimension=DIM)
    gone = make_chunk("alpha", "docs/deleted.md", "A page deleted since.")
    target.upsert([gone], vectors_for([gone]))

    kept = copy_index(source, target, kbs=["alpha"])[0]
    assert (kept.target, kept.verified) == (11, False)
    pruned = copy_index(source, target, kbs=["alpha"], prune=True)[0]
    assert (pruned.pruned, pruned.copied, pruned.target, pruned.verified) == (1, 0, 10, True)


def test_copy_catalog_never_sets_a_newer_record_back() -> None:
    """Missing or older records are copied; a newer target record stays; unknown names skip."""
    source, target = (
        ObjectStoreCatalog(MemoryObjectStore()),
        ObjectStoreCatalog(MemoryObjectStore()),
    )
    source.save(record("alpha"))
    source.save(record("beta"))
    source.save(record("gamma", commit="old", indexed_at="2026-11-01T00:00:00+00:00"))
    target.save(record("beta", commit="older", indexed_at="2026-11-20T00:00:00+00:00"))
    target.save(record("gamma", commit="newer"))

    assert copy_catalog(source, target) == ["alpha", "beta"]
    assert target.get("beta") == record("beta") and target.get("gamma") == record(
        "gamma", commit="newer"
    )
    assert copy_catalog(source, target, kbs=["alpha", "nope"]) == []
