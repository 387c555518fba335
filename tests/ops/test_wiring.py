"""The composition root builds the stores and chat client the settings name."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from adapters.llm.openai_compatible import OpenAICompatibleChatModel
from adapters.storage.local import LocalObjectStore
from adapters.storage.s3 import S3ObjectStore
from core.errors import StoreUnavailable
from ops.settings import EmbeddingSettings, LLMSettings, Settings, StorageSettings, VectorSettings
from ops.wiring import (
    build_catalog,
    build_object_store,
    build_spooled_writer,
    build_vector_store,
    build_weaviate_store,
    open_services,
)
from rag.catalog import FileCatalog
from rag.shared_catalog import ObjectStoreCatalog
from rag.stores.lancedb import LanceDBStore
from rag.stores.weaviate import WeaviateStore
from tests.rag.store_contract import CORPUS, vectors_for
from tests.support.vllm_server import free_port


def test_local_backend_is_a_folder_in_the_data_dir(tmp_path: Path) -> None:
    """By default objects live in DATA_DIR/objects and the spool in DATA_DIR/spool."""
    storage = StorageSettings()
    objects = build_object_store(storage, data_dir=tmp_path)
    writer = build_spooled_writer(storage, data_dir=tmp_path, objects=objects)

    writer.store.put("corrections/i1.json", b"{}")

    assert isinstance(writer.store, LocalObjectStore)
    assert (tmp_path / "objects" / "corrections" / "i1.json").is_file()
    assert writer.spool.root == tmp_path / "spool"


def test_s3_backend_builds_the_s3_store_without_contacting_it(tmp_path: Path) -> None:
    """The S3 store is built from settings at start-up even when the server is not there."""
    storage = StorageSettings(
        backend="s3",
        endpoint="127.0.0.1:9",
        access_key="leximind-app",
        secret_key="s3-real-secret-123",  # type: ignore[arg-type]
        bucket="leximind-prod",
        spool_dir=tmp_path / "elsewhere",
    )
    store = build_object_store(storage, data_dir=tmp_path)

    assert isinstance(store, S3ObjectStore) and store.bucket == "leximind-prod"
    assert "s3-real-secret-123" not in repr(store)
    writer = build_spooled_writer(storage, data_dir=tmp_path, objects=store)
    assert writer.spool.root == tmp_path / "elsewhere" and writer.store is store
    store.close()


def test_vector_backend_defaults_to_lancedb_in_the_data_dir(tmp_path: Path) -> None:
    """Without vector settings the store is LanceDB under DATA_DIR/lancedb."""
    store = build_vector_store(VectorSettings(), data_dir=tmp_path, dimension=8)
    assert isinstance(store, LanceDBStore)
    store.upsert(CORPUS, vectors_for(CORPUS))
    assert (tmp_path / "lancedb").is_dir()


def test_weaviate_backend_is_built_without_contacting_it(tmp_path: Path) -> None:
    """The Weaviate store is built at start-up even when the server is not there yet."""
    vector = VectorSettings(
        backend="weaviate",
        weaviate_url=f"http://127.0.0.1:{free_port()}",
        weaviate_api_key="wv-real-key-123",  # type: ignore[arg-type]
        weaviate_collection="Docs",
        weaviate_init_timeout=2,
    )
    store = build_vector_store(vector, data_dir=tmp_path)

    assert isinstance(store, WeaviateStore) and store.collection_name == "Docs"
    assert "wv-real-key-123" not in repr(store)
    with pytest.raises(StoreUnavailable, match="Weaviate failed to connect"):
        store.check()


def _weaviate_meta(httpserver: HTTPServer, status: int = 200) -> None:
    httpserver.expect_request("/v1/meta").respond_with_json({"version": "1.30.0"}, status=status)


def test_weaviate_client_sends_the_api_key_and_reads_the_schema(httpserver: HTTPServer) -> None:
    """The real client connects over REST with the API key as a bearer token."""
    _weaviate_meta(httpserver)
    httpserver.expect_request(
        "/v1/schema/LeximindChunk", headers={"Authorization": "Bearer wv-real-key-123"}
    ).respond_with_json({}, status=404)
    vector = VectorSettings(
        weaviate_url=httpserver.url_for("/").rstrip("/"),
        weaviate_api_key="wv-real-key-123",  # type: ignore[arg-type]
    )
    store = build_weaviate_store(vector)

    store.check()
    store.close()

    paths = [(r.path, r.headers.get("Authorization")) for r, _ in httpserver.log]
    assert paths == [
        ("/v1/meta", "Bearer wv-real-key-123"),
        ("/v1/schema/LeximindChunk", "Bearer wv-real-key-123"),
    ]


def test_weaviate_errors_become_store_unavailable(httpserver: HTTPServer) -> None:
    """A server answering 503 makes check() raise StoreUnavailable, not a client error."""
    _weaviate_meta(httpserver, status=503)
    store = build_weaviate_store(VectorSettings(weaviate_url=httpserver.url_for("/").rstrip("/")))
    with pytest.raises(StoreUnavailable):
        store.check()


async def test_chat_client_is_built_and_closed_when_configured(
    tmp_path: Path, model_cache: Path
) -> None:
    """With a base URL the services hold the OpenAI-compatible client; leaving closes it."""
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        embedding=EmbeddingSettings(cache_dir=model_cache),
        llm=LLMSettings(base_url="http://127.0.0.1:9/v1", model="m"),
    )
    async with open_services(settings, "cli") as process:
        chat_model = process.services.chat_model
        assert isinstance(chat_model, OpenAICompatibleChatModel)
        assert not chat_model._client.is_closed
    assert chat_model._client.is_closed


async def test_no_chat_client_without_a_model_server(tmp_path: Path, model_cache: Path) -> None:
    """Without a base URL answers are extractive: no client is built."""
    settings = Settings(
        _env_file=None, data_dir=tmp_path, embedding=EmbeddingSettings(cache_dir=model_cache)
    )
    async with open_services(settings, "cli") as process:
        assert process.services.chat_model is None


def test_the_catalog_is_shared_with_the_s3_backend(tmp_path: Path) -> None:
    """s3 storage: the catalog lives in the object store with the ttl set; else in the data dir."""
    storage = StorageSettings(
        backend="s3",
        endpoint="127.0.0.1:9",
        access_key="leximind-app",
        secret_key="s3-real-secret-123",  # type: ignore[arg-type]
        catalog_ttl=7,
    )
    objects = build_object_store(storage, data_dir=tmp_path)
    shared = build_catalog(storage, data_dir=tmp_path, objects=objects)
    local = build_catalog(StorageSettings(), data_dir=tmp_path, objects=objects)

    assert isinstance(shared, ObjectStoreCatalog) and "S3ObjectStore" in repr(shared)
    assert isinstance(local, FileCatalog) and local.path == tmp_path / "catalog.json"
