"""Storage: the object store (local or S3), the spool, the catalog and the vector store."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from adapters.storage.local import LocalObjectStore
from adapters.storage.spool import Spool
from adapters.storage.writer import SpooledWriter
from core.ports import ObjectStore
from ops.settings import Settings, VectorSettings

if TYPE_CHECKING:
    # Imported where they are built: commands that need no index (`data build`) skip
    # loading LanceDB and onnxruntime, about a second and 150 MB.
    from weaviate import WeaviateClient

    from rag.catalog import Catalog, FileCatalog
    from rag.ports import VectorStore
    from rag.stores.weaviate import WeaviateStore


def build_object_store(settings: Settings) -> ObjectStore:
    """The S3 store when the backend is s3, else the local folder (DATA_DIR/objects)."""
    st = settings.storage
    if st.backend == "local":
        return LocalObjectStore(st.local_dir or settings.data_dir / "objects")
    if not (st.endpoint and st.access_key and st.secret_key):
        raise ValueError("the s3 storage backend needs an endpoint, an access key and a secret key")
    from adapters.storage.s3 import S3ObjectStore  # minio, only for the s3 backend

    return S3ObjectStore(
        endpoint=st.endpoint,
        access_key=st.access_key,
        secret_key=st.secret_key.get_secret_value(),
        bucket=st.bucket,
        secure=st.secure,
        region=st.region or None,
        connect_timeout=st.connect_timeout,
        read_timeout=st.read_timeout,
        retries=st.retries,
    )


def build_spooled_writer(settings: Settings) -> SpooledWriter:
    """The object store behind a durable spool (DATA_DIR/spool unless set)."""
    st = settings.storage
    return SpooledWriter(
        build_object_store(settings),
        Spool(st.spool_dir or settings.data_dir / "spool"),
        replay_batch=st.replay_batch,
        retry_after=st.retry_after,
    )


def build_catalog(settings: Settings) -> Catalog:
    """The knowledge-base catalog: shared in the object store with the s3 backend (every
    replica, on any host, sees what any indexer wrote), else DATA_DIR/catalog.json."""
    if settings.storage.backend == "s3":
        from rag.shared_catalog import ObjectStoreCatalog

        return ObjectStoreCatalog(
            build_object_store(settings),
            ttl=settings.storage.catalog_ttl,
            local=file_catalog(settings),
        )
    return file_catalog(settings)


def file_catalog(settings: Settings) -> FileCatalog:
    """This host's catalog, DATA_DIR/catalog.json (`store migrate` copies it to the shared one)."""
    from rag.catalog import FileCatalog

    return FileCatalog(settings.data_dir / "catalog.json")


def build_vector_store(
    settings: Settings,
    *,
    dimension: int | None = None,
    backend: Literal["lancedb", "weaviate"] | None = None,
) -> VectorStore:
    """LanceDB in DATA_DIR/lancedb, or Weaviate when LEXIMIND_VECTOR__BACKEND=weaviate.

    `backend` overrides the setting (`leximind store migrate` opens both); `dimension` is
    needed only to create a new LanceDB table. Raises ValueError when Weaviate is chosen
    but has no URL.
    """
    if (backend or settings.vector.backend) == "weaviate":
        return build_weaviate_store(settings.vector)
    from rag.stores.lancedb import LanceDBStore

    return LanceDBStore(
        settings.data_dir / "lancedb",
        dimension=dimension,
        memory_rows=settings.vector.lancedb_memory_rows,
    )


def build_weaviate_store(vector: VectorSettings) -> WeaviateStore:
    """The Weaviate store; it connects on first use, so Weaviate need not be up yet."""
    from rag.stores.weaviate import WeaviateStore

    if not vector.weaviate_url:
        raise ValueError("Weaviate is not configured: set LEXIMIND_VECTOR__WEAVIATE_URL")
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
