"""The Weaviate store passes the store contract (against a server when WEAVIATE_URL is set).

Without a server the same contract runs over an in-memory stand-in of the collection API,
and the adapter's own logic (tenants, schema, batch retries, failures) is tested there.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from core.errors import StoreUnavailable
from core.types import ChunkKind
from ops.settings import VectorSettings
from ops.wiring import build_weaviate_store
from rag.catalog import FileCatalog, KnowledgeBase
from rag.ports import Vectors
from rag.retrieval import HybridRetriever
from rag.stores.weaviate import WeaviateStore
from rag.stores.weaviate_schema import tenant_name
from tests.rag.store_contract import (
    CORPUS,
    StoreFactory,
    VectorStoreContract,
    make_chunk,
    unit,
    vectors_for,
)
from tests.support.fake_weaviate import FakeWeaviateServer

WEAVIATE_URL = os.environ.get("WEAVIATE_URL")


def fake_store(server: FakeWeaviateServer, **options: object) -> WeaviateStore:
    return WeaviateStore(server.client, retry_pause=0.0, **options)  # type: ignore[arg-type]


class TestWeaviateContractOffline(VectorStoreContract):
    @pytest.fixture
    def open_store(self) -> StoreFactory:
        server = FakeWeaviateServer()
        return lambda: fake_store(server)


@pytest.mark.skipif(
    not WEAVIATE_URL,
    reason="no Weaviate server: set WEAVIATE_URL=http://host:8080 (and WEAVIATE_GRPC_PORT, "
    "WEAVIATE_API_KEY if needed) to run the store contract against one",
)
class TestWeaviateContractLive(VectorStoreContract):
    @pytest.fixture
    def open_store(self) -> Iterator[StoreFactory]:
        key = os.environ.get("WEAVIATE_API_KEY")
        settings = VectorSettings(
            weaviate_url=WEAVIATE_URL,
            weaviate_grpc_port=int(os.environ.get("WEAVIATE_GRPC_PORT", "50051")),
            weaviate_api_key=key,  # type: ignore[arg-type]
            weaviate_collection=f"LeximindTest{uuid.uuid4().hex[:12]}",
        )
        stores: list[WeaviateStore] = []

        def factory() -> WeaviateStore:
            stores.append(build_weaviate_store(settings))
            return stores[-1]

        yield factory
        from ops.wiring import connect_weaviate

        client = connect_weaviate(settings)
        client.collections.delete(settings.weaviate_collection)
        client.close()
        for store in stores:
            store.close()


def test_each_knowledge_base_gets_its_own_tenant_on_demand() -> None:
    """Tenants are created by the first write of a knowledge base, with safe names."""
    server = FakeWeaviateServer()
    store = fake_store(server)
    odd = [make_chunk("docs.v2", "a.md", "x"), make_chunk("Docs", "b.md", "y")]
    store.upsert([*CORPUS, *odd], vectors_for([*CORPUS, *odd]))

    tenants = server.collections["LeximindChunk"].tenants
    assert set(tenants) == {tenant_name(kb) for kb in ("alpha", "beta", "docs.v2", "Docs")}
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) for name in tenants)
    assert len(tenants[tenant_name("alpha")]) == 3
    assert store.knowledge_bases() == ["Docs", "alpha", "beta", "docs.v2"]


def test_searches_go_to_the_tenant_with_kb_and_kind_filters() -> None:
    """A search reads only its knowledge base's tenant, filtered by kb and kind."""
    server = FakeWeaviateServer()
    store = fake_store(server)
    store.upsert(CORPUS, vectors_for(CORPUS))
    server.calls.clear()

    store.vector_search("alpha", unit(1), k=3, kind=ChunkKind.CODE)
    store.keyword_search("alpha", "install", k=3)

    (near, near_args), (bm25, bm25_args) = server.calls
    assert (near, near_args["tenant"]) == ("near_vector", tenant_name("alpha"))
    assert [(f.target, f.value) for f in near_args["filters"].filters] == [
        ("kb", "alpha"),
        ("kind", "code"),
    ]
    assert (bm25, bm25_args["tenant"]) == ("bm25", tenant_name("alpha"))
    assert (bm25_args["filters"].target, bm25_args["filters"].value) == ("kb", "alpha")


def test_hybrid_search_uses_alpha_and_fusion_type() -> None:
    """Hybrid search sends the configured alpha and fusion type and stays in its tenant."""
    server = FakeWeaviateServer()
    store = fake_store(server, alpha=0.3, fusion_type="relative_score")
    store.upsert(CORPUS, vectors_for(CORPUS))
    server.calls.clear()

    hits = store.hybrid_search("alpha", "pip install", vectors_for([CORPUS[0]])[0], k=5)

    assert hits[0][0] == CORPUS[0]
    assert {c.kb for c, _ in hits} == {"alpha"}
    (operation, args) = server.calls[-1]
    assert operation == "hybrid"
    assert args["alpha"] == 0.3
    assert args["fusion_type"].value == "FUSION_TYPE_RELATIVE_SCORE"
    assert args["tenant"] == tenant_name("alpha")


def test_unknown_knowledge_base_reads_nothing_and_creates_no_tenant() -> None:
    """Reading a knowledge base nobody wrote answers empty without creating its tenant."""
    server = FakeWeaviateServer()
    store = fake_store(server)
    store.upsert(CORPUS, vectors_for(CORPUS))

    assert store.vector_search("gamma", unit(0), k=3) == []
    assert store.hybrid_search("gamma", "install", unit(0), k=3) == []
    assert store.chunk_ids("gamma") == {} and store.count("gamma") == 0
    store.delete_paths("gamma", ["README.md"])
    assert tenant_name("gamma") not in server.collections["LeximindChunk"].tenants


def test_refused_objects_are_retried_then_written() -> None:
    """Objects Weaviate refuses are sent again, and only they, until accepted."""
    server = FakeWeaviateServer(refuse={CORPUS[1].id: 2})
    store = fake_store(server, attempts=3)

    store.upsert(CORPUS, vectors_for(CORPUS))

    inserts = [args["count"] for op, args in server.calls if op == "insert_many"]
    assert inserts == [3, 1, 1, 1]  # alpha: 3, then the refused one twice; beta: 1
    assert store.count() == 4


def test_objects_still_refused_after_the_last_attempt_fail_the_upsert() -> None:
    """A batch whose objects stay refused raises StoreUnavailable; the rest is written."""
    server = FakeWeaviateServer(refuse={CORPUS[1].id: 5})
    store = fake_store(server, attempts=2)

    with pytest.raises(StoreUnavailable, match="refused 1 objects after 2 attempts"):
        store.upsert(CORPUS[:3], vectors_for(CORPUS[:3]))
    assert set(store.chunk_ids("alpha")) == {CORPUS[0].id, CORPUS[2].id}


def test_schema_is_created_once_and_completed() -> None:
    """A second store reuses the collection; a property missing from it is added."""
    server = FakeWeaviateServer()
    fake_store(server).upsert(CORPUS, vectors_for(CORPUS))
    schema = server.collections["LeximindChunk"].config
    schema["properties"] = [p for p in schema["properties"] if p.name != "commit"]

    again = fake_store(server)
    again.upsert(CORPUS[:1], vectors_for(CORPUS[:1]))

    assert [op for op, _ in server.calls].count("collections.create") == 1
    assert ("config.add_property", {"name": "commit"}) in server.calls
    assert again.count() == 4


def test_collection_without_tenants_is_refused() -> None:
    """An existing collection of the same name without multi-tenancy is not used."""
    server = FakeWeaviateServer()
    server.client().collections.create("LeximindChunk", properties=[])

    with pytest.raises(StoreUnavailable, match="without multi-tenancy"):
        fake_store(server).upsert(CORPUS, vectors_for(CORPUS))


def test_server_down_is_store_unavailable_and_recovers() -> None:
    """A dead server gives StoreUnavailable on every call; the store reconnects later."""
    server = FakeWeaviateServer(down=True)
    store = fake_store(server)
    with pytest.raises(StoreUnavailable):
        store.check()
    with pytest.raises(StoreUnavailable):
        store.vector_search("alpha", unit(0), k=1)

    server.down = False
    store.upsert(CORPUS, vectors_for(CORPUS))
    store.check()
    server.down = True
    with pytest.raises(StoreUnavailable):
        store.keyword_search("alpha", "install", k=1)
    with pytest.raises(StoreUnavailable):
        store.upsert(CORPUS[:1], vectors_for(CORPUS[:1]))
    server.down = False
    assert store.count("alpha") == 3


def test_close_closes_the_client() -> None:
    """close() closes the connection; the next call opens a new one."""
    server = FakeWeaviateServer()
    store = fake_store(server)
    store.check()
    store.close()
    store.check()
    assert server.connections == 2


class FixedEmbedder:
    """Embeds every text as one fixed vector."""

    def __init__(self, vector: Vectors) -> None:
        self._vector = vector

    @property
    def name(self) -> str:
        return "fixed"

    @property
    def dimension(self) -> int:
        return len(self._vector)

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._vector for _ in texts])


async def test_retriever_uses_weaviate_hybrid_search(tmp_path: Path) -> None:
    """With Weaviate the retriever asks for one hybrid search and scores by cosine."""
    server = FakeWeaviateServer()
    store = fake_store(server)
    store.upsert(CORPUS, vectors_for(CORPUS))
    catalog = FileCatalog(tmp_path / "catalog.json")
    catalog.save(KnowledgeBase(name="alpha", source="src", root="src"))
    query = vectors_for([CORPUS[0]])[0]
    retriever = HybridRetriever(store=store, embedder=FixedEmbedder(query), catalog=catalog)
    server.calls.clear()

    sources = await retriever.search("pip install", kb="alpha", k=2)

    searches = [op for op, _ in server.calls if op in ("hybrid", "near_vector", "bm25")]
    assert searches == ["hybrid"]
    assert sources[0].chunk == CORPUS[0]
    assert sources[0].score == pytest.approx(1.0, abs=1e-4)
    assert {s.chunk.kb for s in sources} == {"alpha"}
