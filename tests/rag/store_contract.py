"""The behaviour every VectorStore implementation must show; subclass and provide `open_store`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pytest

from core.types import Chunk, ChunkKind, FileRole
from rag.keywords import keyword_query
from rag.ports import Vectors, VectorStore

DIM = 8
StoreFactory = Callable[[], VectorStore]


def make_chunk(
    kb: str,
    path: str,
    text: str,
    *,
    kind: ChunkKind = ChunkKind.DOC,
    title: str = "T",
    role: FileRole = FileRole.DOCS,
) -> Chunk:
    digest = hashlib.sha256(f"{kb}\0{path}\0{text}".encode()).hexdigest()[:32]
    return Chunk(
        id=digest,
        kb=kb,
        path=path,
        title=title,
        text=text,
        start_line=1,
        end_line=3,
        language="markdown" if kind is ChunkKind.DOC else "python",
        kind=kind,
        commit="abc123",
        role=role,
    )


def unit(seed: int) -> Vectors:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def vectors_for(chunks: list[Chunk]) -> Vectors:
    return np.stack([unit(int(c.id[:8], 16)) for c in chunks])


CORPUS = [
    make_chunk("alpha", "docs/install.md", "Install the package with pip install leximind."),
    make_chunk("alpha", "docs/config.md", "Configuration lives in settings with an env prefix."),
    make_chunk(
        "alpha",
        "src/app.py",
        "def load_settings(path):\n    return read_config(path)",
        kind=ChunkKind.CODE,
        title="load_settings",
        role=FileRole.SOURCE,
    ),
    make_chunk("beta", "README.md", "Install beta with cargo install beta."),
]


class VectorStoreContract:
    """Shared tests; a subclass defines the `open_store` fixture returning a factory."""

    @pytest.fixture
    def filled(self, open_store: StoreFactory) -> VectorStore:
        store = open_store()
        store.upsert(CORPUS, vectors_for(CORPUS))
        store.optimize()
        return store

    def test_upsert_and_count(self, filled: VectorStore) -> None:
        """Upserted chunks are counted per knowledge base and in total."""
        assert filled.count() == 4
        assert filled.count("alpha") == 3
        assert filled.knowledge_bases() == ["alpha", "beta"]

    def test_upsert_same_id_replaces(self, filled: VectorStore) -> None:
        """Upserting an existing id replaces the row instead of adding one."""
        moved = Chunk(**{**_fields(CORPUS[0]), "start_line": 10, "end_line": 12})
        filled.upsert([moved], vectors_for([moved]))
        assert filled.count("alpha") == 3
        hits = filled.vector_search("alpha", vectors_for([moved])[0], k=1)
        assert hits[0][0].start_line == 10

    def test_vector_search_finds_nearest_first(self, filled: VectorStore) -> None:
        """The chunk whose vector is the query comes first with similarity near 1."""
        target = CORPUS[1]
        hits = filled.vector_search("alpha", vectors_for([target])[0], k=3)
        assert hits[0][0] == target
        assert hits[0][1] == pytest.approx(1.0, abs=1e-4)
        assert [h[1] for h in hits] == sorted((h[1] for h in hits), reverse=True)

    def test_keyword_search_ranks_matching_text(self, filled: VectorStore) -> None:
        """BM25 finds the chunk containing the query words and not other knowledge bases'."""
        hits = filled.keyword_search("alpha", "install package pip", k=5)
        assert hits[0][0].path == "docs/install.md"
        assert all(c.kb == "alpha" for c, _ in hits)

    def test_keyword_search_matches_identifier_parts(self, filled: VectorStore) -> None:
        """A question saying 'load settings' finds the function load_settings."""
        hits = filled.keyword_search("alpha", "where do we load settings", k=5)
        assert "src/app.py" in [c.path for c, _ in hits]

    def test_keyword_search_tells_versions_apart(self, open_store: StoreFactory) -> None:
        """ "version 3.0" finds the 3.0.1 release, not 0.3.0, whose digits are the same (and
        whose two zeros a tokeniser alone would rank first)."""
        store = open_store()
        releases = [
            make_chunk("gamma", "CHANGES.rst", f"Version {v}. {what}", title=f"Version {v}")
            for v, what in (
                ("0.3.0", "Fixed an error reporting bug."),
                ("3.0.1", "Removed previously deprecated code."),
                ("1.0.3", "Fixed a bug in the test client."),
            )
        ]
        store.upsert(releases, vectors_for(releases))
        store.optimize()
        hits = store.keyword_search("gamma", keyword_query("What changed in version 3.0?"), k=3)
        assert hits[0][0].title == "Version 3.0.1"

    def test_filters_by_kb_and_kind(self, filled: VectorStore) -> None:
        """Searches never cross knowledge bases and honour the kind filter."""
        beta = CORPUS[3]
        hits = filled.vector_search("alpha", vectors_for([beta])[0], k=10)
        assert beta.id not in {c.id for c, _ in hits}
        code = filled.vector_search("alpha", unit(1), k=10, kind=ChunkKind.CODE)
        assert [c.path for c, _ in code] == ["src/app.py"]
        docs = filled.keyword_search("alpha", "install settings", k=10, kind=ChunkKind.DOC)
        assert all(c.kind is ChunkKind.DOC for c, _ in docs)

    def test_excludes_roles(self, filled: VectorStore) -> None:
        """Chunks of an excluded role take no place in either search; others keep theirs."""
        source = CORPUS[2]
        skip = frozenset({FileRole.SOURCE})
        dense = filled.vector_search("alpha", vectors_for([source])[0], k=10, exclude_roles=skip)
        assert [c.path for c, _ in dense] and source.id not in {c.id for c, _ in dense}
        words = filled.keyword_search("alpha", "load settings config", k=10, exclude_roles=skip)
        assert [c.path for c, _ in words] == ["docs/config.md"]
        kept = filled.keyword_search("alpha", "load settings config", k=10)
        assert {c.path for c, _ in kept} == {"docs/config.md", "src/app.py"}

    def test_delete_by_path(self, filled: VectorStore) -> None:
        """Deleting a path removes its chunks from that knowledge base only."""
        filled.delete_paths("alpha", ["docs/install.md"])
        assert filled.count("alpha") == 2
        assert "docs/install.md" not in filled.chunk_ids("alpha").values()
        assert filled.count("beta") == 1
        hits = filled.keyword_search("alpha", "install package pip", k=5)
        assert "docs/install.md" not in [c.path for c, _ in hits]

    def test_keyword_index_follows_later_writes(self, filled: VectorStore) -> None:
        """After more writes and optimize, BM25 finds new and changed text, never removed text."""
        changed = make_chunk("alpha", "docs/install.md", "Install it with uv add leximind.")
        added = make_chunk("alpha", "docs/zebra.md", "Zebra stripes explained.")
        filled.delete_ids(CORPUS[0].kb, [CORPUS[0].id])
        filled.upsert([changed, added], vectors_for([changed, added]))
        filled.optimize()
        assert [c.id for c, _ in filled.keyword_search("alpha", "zebra stripes", k=5)] == [added.id]
        install = filled.keyword_search("alpha", "install pip uv", k=5)
        assert [c.id for c, _ in install] == [changed.id]
        assert filled.keyword_search("alpha", "pip", k=5) == []

    def test_ids_and_vectors_round_trip(self, filled: VectorStore) -> None:
        """Stored ids map to paths and stored vectors come back unchanged."""
        ids = filled.chunk_ids("alpha")
        assert ids == {c.id: c.path for c in CORPUS if c.kb == "alpha"}
        got = filled.vectors("alpha", [CORPUS[0].id, "missing"])
        assert list(got) == [CORPUS[0].id]
        np.testing.assert_allclose(got[CORPUS[0].id], vectors_for([CORPUS[0]])[0], rtol=1e-6)
        filled.delete_ids("alpha", [CORPUS[0].id])
        assert CORPUS[0].id not in filled.chunk_ids("alpha")

    def test_chunks_read_back_whole(self, filled: VectorStore) -> None:
        """Stored chunks come back field for field (their role too); missing ids are left out."""
        wanted = [CORPUS[0].id, CORPUS[2].id, "missing"]
        got = filled.chunks("alpha", wanted)
        assert got == {CORPUS[0].id: CORPUS[0], CORPUS[2].id: CORPUS[2]}
        assert filled.chunks("alpha", []) == {}

    def test_reads_and_deletes_by_id_stay_in_their_knowledge_base(
        self, filled: VectorStore
    ) -> None:
        """An id of another knowledge base is neither read nor deleted."""
        beta = CORPUS[3]
        assert filled.vectors("alpha", [beta.id]) == {}
        assert filled.chunks("alpha", [beta.id]) == {}
        filled.delete_ids("alpha", [beta.id])
        assert filled.count("beta") == 1

    def test_empty_store_reads_nothing(self, open_store: StoreFactory) -> None:
        """A store with no data answers searches with no hits instead of failing."""
        store = open_store()
        assert store.count() == 0
        assert store.vector_search("alpha", unit(0), k=3) == []
        assert store.keyword_search("alpha", "anything", k=3) == []
        assert store.knowledge_bases() == []
        store.check()

    def test_persists_across_instances(self, filled: VectorStore, open_store: StoreFactory) -> None:
        """A second store opened on the same location sees the data."""
        again = open_store()
        assert again.count() == 4
        assert again.keyword_search("beta", "cargo", k=1)[0][0].path == "README.md"

    def test_close_lets_go_and_a_later_call_opens_again(self, filled: VectorStore) -> None:
        """close() is safe twice; a store used after it reopens and still holds its data."""
        filled.close()
        filled.close()
        assert filled.count() == 4
        assert filled.vector_search("alpha", vectors_for(CORPUS[:1])[0], k=1)[0][0].id == (
            CORPUS[0].id
        )
        filled.close()


def _fields(chunk: Chunk) -> dict[str, object]:
    return {name: getattr(chunk, name) for name in chunk.__slots__}
