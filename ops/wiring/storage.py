"""Storage: the object store (local or S3), the spool, the catalog and the vector store."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from adapters.storage.local import LocalObjectStore
from adapters.storage.spool import Spool
from adapters.storage.writer import SpooledWriter
from core.ports import ObjectStore
from ops.errors import NotConfigured
from ops.settings import StorageSettings, VectorSettings

if TYPE_CHECKING:
    # Imported where they are built: commands that need no index (`data build`) skip
    # loading LanceDB and onnxruntime, about a second and 150 MB.
    from weaviate import WeaviateClient

    from adapters.storage.s3 import S3ObjectStore
    from rag.catalog import Catalog, FileCatalog
    from rag.ports import VectorStore
    from rag.stores.weaviate import WeaviateStore


def build_object_store(
    storage: StorageSettings, *, data_dir: Path
) -> LocalObjectStore | S3ObjectStore:
    """The S3 store when the backend is s3, else the local folder (DATA_DIR/objects).

    Raises NotConfigured when the s3 backend lacks its endpoint or keys.
    """
    if storage.backend == "local":
        return LocalObjectStore(storage.local_dir or data_dir / "objects")
    if not (storage.endpoint and storage.access_key and storage.secret_key):
        raise NotConfigured(
            "the s3 storage backend needs LEXIMIND_STORAGE__ENDPOINT, __ACCESS_KEY and __SECRET_KEY"
        )
    from adapters.storage.s3 import S3ObjectStore  # minio, only for the s3 backend

    return S3ObjectStore(
        endpoint=storage.endpoint,
        access_key=storage.access_key,
        secret_key=storage.secret_key.get_secret_value(),
        bucket=storage.bucket,
        secure=storage.secure,
        region=storage.region or None,
        connect_timeout=storage.connect_timeout,
        read_timeout=storage.read_timeout,
        retries=storage.retries,
    )


def build_spooled_writer(
    storage: StorageSettings, *, data_dir: Path, objects: ObjectStore
) -> SpooledWriter:
    """`objects` behind a durable spool (DATA_DIR/spool unless set)."""
    return SpooledWriter(
        objects,
        Spool(storage.spool_dir or data_dir / "spool"),
        replay_batch=storage.replay_batch,
        retry_after=storage.retry_after,
    )


def build_catalog(storage: StorageSettings, *, data_dir: Path, objects: ObjectStore) -> Catalog:
    """The knowledge-base catalog: shared in `objects` with the s3 backend (every replica,
    on any host, sees what any indexer wrote), else DATA_DIR/catalog.json."""
    if storage.backend == "s3":
        from rag.shared_catalog import ObjectStoreCatalog

        return ObjectStoreCatalog(objects, ttl=storage.catalog_ttl, local=file_catalog(data_dir))
    return file_catalog(data_dir)


def file_catalog(data_dir: Path) -> FileCatalog:
    """This host's catalog, DATA_DIR/catalog.json (`store migrate` copies it to the shared one)."""
    from rag.catalog import FileCatalog

    return FileCatalog(data_dir / "catalog.json")


def build_vector_store(
    vector: VectorSettings,
    *,
    data_dir: Path,
    dimension: int | None = None,
    backend: Literal["lancedb", "weaviate"] | None = None,
) -> VectorStore:
    """LanceDB in DATA_DIR/lancedb, or Weaviate when LEXIMIND_VECTOR__BACKEND=weaviate.

    `backend` overrides the setting (`leximind store migrate` opens both); `dimension` is
    needed only to create a new LanceDB table. Raises NotConfigured when Weaviate is chosen
    but has no URL.
    """
    if (backend or vector.backend) == "weaviate":
        return build_weaviate_store(vector)
    from rag.stores.lancedb import LanceDBStore

    return LanceDBStore(
        data_dir / "lancedb", dimension=dimension, memory_rows=vector.lancedb_memory_rows
    )


def build_weaviate_store(vector: VectorSettings) -> WeaviateStore:
    """The Weaviate store; it connects on first use, so Weaviate need not be up yet."""
    from rag.stores.weaviate import WeaviateStore

    if not vector.weaviate_url:
        raise NotConfigured("Weaviate is not configured: set LEXIMIND_VECTOR__WEAVIATE_URL")
    return WeaviateStore(
        functools.partial(connect_weaviate, vector),
        collection=vector.weaviate_collection,
        alpha=vector.weaviate_alpha,
        fusion_type=vector.weaviate_fusion_type,
        batch_size=vector.weaviate_batch_size,
        attempts=vector.weaviate_attempts,
    )


def connect_weaviate(vector: VectorSettings) -> WeaviateClient:
    """A connected weaviate-client v4 client: REST at the URL, gRPC on the same host.

    The client's start-up checks are skipped because they also ask pypi.org for a newer
    client version; the store's `check` reads the schema instead.
    """
    import weaviate
    from weaviate.classes.init import AdditionalConfig, Auth, Timeout

    assert vector.weaviate_url is not None
    url = urlsplit(vector.weaviate_url)
    secure = url.scheme == "https"
    host = url.hostname or ""
    key = vector.weaviate_api_key
    return weaviate.connect_to_custom(
        http_host=host,
        http_port=url.port or (443 if secure else 80),
        http_secure=secure,
        grpc_host=host,
        grpc_port=vector.weaviate_grpc_port,
        grpc_secure=secure,
        auth_credentials=Auth.api_key(key.get_secret_value()) if key else None,
        additional_config=AdditionalConfig(
            timeout=Timeout(
                init=vector.weaviate_init_timeout,
                query=vector.weaviate_query_timeout,
                insert=vector.weaviate_insert_timeout,
            )
        ),
        skip_init_checks=True,
    )
