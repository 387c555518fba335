"""Replicas on different hosts (own data dirs) share knowledge bases through the S3 catalog."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from core.errors import UnknownKnowledgeBase
from ops import wiring
from ops.settings import EmbeddingSettings, Settings, StorageSettings, VectorSettings
from rag.catalog import FileCatalog
from rag.sources import read_tree
from rag.stores.weaviate import WeaviateStore
from tests.adapters.test_s3_storage import new_bucket
from tests.support.corpus import make_fastapi_repo
from tests.support.fake_weaviate import FakeWeaviateServer
from tests.support.seaweedfs import SeaweedServer

PAGES = ["docs/en/docs/tutorial/path-params.md", "docs/en/docs/tutorial/query-params.md"]


async def test_a_replica_searches_a_knowledge_base_indexed_on_another_host(
    tmp_path: Path,
    model_cache: Path,
    seaweedfs: SeaweedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An API replica built before the index run finds the new knowledge base, with its web
    links, although its own data dir never held a catalog."""
    weaviate = FakeWeaviateServer()
    monkeypatch.setattr(
        wiring.storage,
        "build_weaviate_store",
        lambda _: WeaviateStore(weaviate.client),  # type: ignore[arg-type]
    )
    bucket = new_bucket()

    def host(name: str) -> Settings:
        return Settings(
            _env_file=None,
            data_dir=tmp_path / name,
            embedding=EmbeddingSettings(cache_dir=model_cache),
            vector=VectorSettings(backend="weaviate", weaviate_url="http://weaviate.internal:8080"),
            storage=StorageSettings(
                backend="s3",
                endpoint=seaweedfs.endpoint,
                access_key=seaweedfs.access_key,
                secret_key=seaweedfs.secret_key,  # type: ignore[arg-type]
                secure=False,
                bucket=bucket,
                catalog_ttl=0,
            ),
        )

    async with AsyncExitStack() as stack:  # both hosts close at the end
        replica = (
            await stack.enter_async_context(wiring.open_services(host("api-host"), "cli"))
        ).services
        assert replica.retriever.knowledge_bases() == []
        with pytest.raises(UnknownKnowledgeBase):
            await replica.retriever.search("path parameters", kb="fastapi", k=3)

        indexer = (
            await stack.enter_async_context(wiring.open_services(host("gpu-host"), "cli"))
        ).services
        repo = make_fastapi_repo(tmp_path / "repo", files=PAGES)
        indexer.indexer.index(read_tree(repo, max_bytes=10**6), kb="fastapi", source=str(repo))

        sources = await replica.retriever.search(
            "How do I declare path parameters?", kb="fastapi", k=3
        )
        assert replica.retriever.knowledge_bases() == ["fastapi"]
        assert sources and all(s.url and s.url.startswith("https://github.com/") for s in sources)
        # The replica keeps a copy of what it read, to serve should it restart during an outage.
        assert FileCatalog(tmp_path / "api-host" / "catalog.json").names() == ["fastapi"]
