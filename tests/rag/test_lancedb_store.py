"""The LanceDB store passes the vector store contract, also across processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lancedb
import pytest

from rag.stores.lancedb import TABLE, LanceDBStore
from tests.rag.store_contract import (
    CORPUS,
    DIM,
    StoreFactory,
    VectorStoreContract,
    make_chunk,
    vectors_for,
)


class TestLanceDBContract(VectorStoreContract):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> StoreFactory:
        return lambda: LanceDBStore(tmp_path / "lancedb", dimension=DIM)


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
