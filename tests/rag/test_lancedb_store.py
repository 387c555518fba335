"""The LanceDB store passes the vector store contract, also across processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lancedb
import numpy as np
import pytest

from core.types import ChunkKind, FileRole
from rag.stores.lancedb import TABLE, LanceDBStore
from tests.rag.store_contract import (
    CORPUS,
    DIM,
    StoreFactory,
    VectorStoreContract,
    make_chunk,
    unit,
    vectors_for,
)


class TestLanceDBContract(VectorStoreContract):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> StoreFactory:
        return lambda: LanceDBStore(tmp_path / "lancedb", dimension=DIM)


class TestLanceDBWithoutMemoryContract(VectorStoreContract):
    """Every search and lookup answered by LanceDB itself, none from memory."""

    @pytest.fixture
    def open_store(self, tmp_path: Path) -> StoreFactory:
        return lambda: LanceDBStore(tmp_path / "lancedb", dimension=DIM, memory_rows=0)


def test_dense_search_from_memory_matches_lancedb(tmp_path: Path) -> None:
    """Same chunks, same order and the same cosines as LanceDB's exact search."""
    rng = np.random.default_rng(7)
    kinds = [ChunkKind.DOC, ChunkKind.CODE]
    roles = [FileRole.DOCS, FileRole.SOURCE, FileRole.TEST]
    chunks = [
        make_chunk("alpha", f"f{i}.md", f"text {i}", kind=kinds[i % 2], role=roles[i % 3])
        for i in range(300)
    ]
    vectors = rng.normal(size=(len(chunks), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    memory = LanceDBStore(tmp_path / "lancedb", dimension=DIM)
    memory.upsert(chunks, vectors)
    direct = LanceDBStore(tmp_path / "lancedb", dimension=DIM, memory_rows=0)
    for seed in range(5):
        query = rng.normal(size=DIM).astype(np.float32)
        for kind, skip in ((None, frozenset()), (ChunkKind.CODE, frozenset({FileRole.TEST}))):
            got = memory.vector_search("alpha", query, k=20, kind=kind, exclude_roles=skip)
            want = direct.vector_search("alpha", query, k=20, kind=kind, exclude_roles=skip)
            assert not skip or all(c.role not in skip for c, _ in got)
            assert [c.id for c, _ in got] == [c.id for c, _ in want], seed
            assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-5)


def test_a_write_by_another_store_is_searched_at_once(tmp_path: Path) -> None:
    """The copy in memory follows the table: a chunk another writer adds is found next."""
    reader = LanceDBStore(tmp_path / "lancedb", dimension=DIM)
    reader.upsert(CORPUS, vectors_for(CORPUS))
    assert len(reader.vector_search("alpha", unit(1), k=10)) == 3
    late = make_chunk("alpha", "docs/late.md", "Added by another process.")
    LanceDBStore(tmp_path / "lancedb", dimension=DIM).upsert([late], vectors_for([late]))
    found = reader.vector_search("alpha", vectors_for([late])[0], k=10)
    assert len(found) == 4 and found[0][0].path == "docs/late.md"
    assert set(reader.chunks("alpha", [late.id])) == {late.id}


def test_a_knowledge_base_over_the_memory_limit_is_searched_in_lancedb(tmp_path: Path) -> None:
    """Past `memory_rows` the store keeps nothing in memory and still answers."""
    store = LanceDBStore(tmp_path / "lancedb", dimension=DIM, memory_rows=2)
    store.upsert(CORPUS, vectors_for(CORPUS))
    found = store.vector_search("alpha", unit(1), k=10)
    assert len(found) == 3
    assert store._snapshot("alpha") is None


def test_data_survives_process_restart(tmp_path: Path) -> None:
    """Chunks written by one process are searchable by a fresh process."""
    store = LanceDBStore(tmp_path / "lancedb", dimension=DIM)
    store.upsert(CORPUS, vectors_for(CORPUS))
    store.optimize()
    code = (
        "import sys; from pathlib import Path; from rag.stores.lancedb import LanceDBStore;"
        f"s = LanceDBStore(Path(sys.argv[1]), dimension={DIM});"
        "print(s.count('alpha'), s.keyword_search('alpha', 'pip install', k=1)[0][0].path)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "lancedb")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["3", "docs/install.md"]


def test_filter_values_are_quoted_not_interpolated(tmp_path: Path) -> None:
    """A name that tries to inject SQL matches nothing; paths with quotes are deletable."""
    store = LanceDBStore(tmp_path / "lancedb", dimension=DIM)
    odd = make_chunk("alpha", "docs/it's (new), [draft].md", "Odd file name.")
    store.upsert([*CORPUS, odd], vectors_for([*CORPUS, odd]))
    assert store.count("alpha' OR kb != '") == 0
    store.delete_paths("alpha", [odd.path])
    assert store.count("alpha") == 3
    with pytest.raises(ValueError, match="control characters"):
        store.count("alpha\x00")


def test_optimize_indexes_new_rows_into_the_existing_keyword_index(tmp_path: Path) -> None:
    """After later writes, optimize leaves no row outside the keyword index."""
    store = LanceDBStore(tmp_path / "lancedb", dimension=DIM)
    store.upsert(CORPUS, vectors_for(CORPUS))
    store.optimize()
    added = make_chunk("alpha", "docs/zebra.md", "Zebra stripes explained.")
    store.upsert([added], vectors_for([added]))
    store.delete_ids(CORPUS[1].kb, [CORPUS[1].id])
    db = lancedb.connect(str(tmp_path / "lancedb"))
    assert db.open_table(TABLE).index_stats("search_text_idx").num_unindexed_rows == 1
    store.optimize()
    stats = db.open_table(TABLE).index_stats("search_text_idx")
    assert (stats.num_unindexed_rows, stats.num_indexed_rows) == (0, 4)


def test_a_table_from_before_roles_gains_the_column(tmp_path: Path) -> None:
    """A table written without the role column opens, reads roles as unknown and takes new ones."""
    import pyarrow as pa

    from core.types import FileRole

    old = CORPUS[0]
    db = lancedb.connect(str(tmp_path))
    fields = [(n, pa.string()) for n in ("id", "kb", "path", "title", "text")]
    fields += [("start_line", pa.int32()), ("end_line", pa.int32())]
    fields += [(n, pa.string()) for n in ("language", "kind", "commit", "search_text")]
    schema = pa.schema([*fields, ("vector", pa.list_(pa.float32(), DIM))])
    row = {n: getattr(old, n) for n in ("id", "kb", "path", "title", "text", "start_line")}
    row |= {"end_line": old.end_line, "language": old.language, "kind": old.kind.value}
    row |= {"commit": old.commit, "search_text": old.text, "vector": vectors_for([old])[0]}
    db.create_table(TABLE, data=pa.Table.from_pylist([row], schema=schema))
    store = LanceDBStore(tmp_path, dimension=DIM)
    assert store.chunks(old.kb, [old.id])[old.id].role is FileRole.UNKNOWN
    store.upsert([CORPUS[2]], vectors_for([CORPUS[2]]))
    assert store.chunks(old.kb, [CORPUS[2].id])[CORPUS[2].id].role is FileRole.SOURCE
