"""The production vector store: one Weaviate collection, a tenant per knowledge base."""

from __future__ import annotations

import functools
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
from weaviate import WeaviateClient
from weaviate.classes.data import DataObject
from weaviate.classes.query import MetadataQuery
from weaviate.classes.tenants import Tenant
from weaviate.exceptions import WeaviateBaseError, WeaviateInsertManyAllFailedError

from core.errors import StoreUnavailable
from core.types import Chunk, ChunkKind, FileRole
from rag.ports import Vectors
from rag.stores.batching import send_with_retries
from rag.stores.weaviate_schema import (
    CHUNK_PROPERTIES,
    SEARCH_PROPERTY,
    FusionType,
    chunk_filter,
    collection_config,
    collection_properties,
    from_properties,
    fusion,
    ids_filter,
    object_uuid,
    paths_filter,
    tenant_name,
    to_properties,
)

_log = logging.getLogger(__name__)

# Weaviate deletes at most QUERY_MAXIMUM_RESULTS (default 10,000) objects per request.
_DELETE_CAP = 10_000
_IDS_PER_REQUEST = 500


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turns Weaviate client, HTTP and socket failures into StoreUnavailable."""
    try:
        yield
    except (WeaviateBaseError, httpx.HTTPError, OSError) as exc:
        _log.error("Weaviate failed to %s: %s", action, exc)
        raise StoreUnavailable(f"Weaviate failed to {action}: {exc}") from exc


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class WeaviateStore:
    """Chunks in one multi-tenant Weaviate collection; each knowledge base is its own tenant.

    A question can only reach its knowledge base's tenant, so one project's passages never
    answer another's. The client is made by `connect` (built in ops/wiring/storage.py) on first use,
    and again after a failed connection, so a process starts while Weaviate is down and
    recovers when it is back. The collection is created on the first write if missing;
    properties added in a later version are added to an existing collection. Object ids are
    UUID5s of chunk ids, so a re-upsert replaces. Searches go to Weaviate (BM25 over
    `search_text`, HNSW cosine, hybrid with `alpha` and `fusion_type`); `optimize` has
    nothing to do, since Weaviate indexes on write.
    """

    def __init__(
        self,
        connect: Callable[[], WeaviateClient],
        *,
        collection: str = "LeximindChunk",
        alpha: float = 0.5,
        fusion_type: FusionType = "ranked",
        batch_size: int = 200,
        attempts: int = 3,
        retry_pause: float = 1.0,
    ) -> None:
        self._connect = connect
        self._name = collection
        self._alpha = alpha
        self._fusion = fusion(fusion_type)
        self._batch_size = batch_size
        self._attempts = attempts
        self._retry_pause = retry_pause
        self._lock = threading.Lock()
        self._client: WeaviateClient | None = None
        self._collection: Any = None
        self._tenants: set[str] = set()

    @property
    def collection_name(self) -> str:
        return self._name

    def close(self) -> None:
        """Closes the connection, if one was opened."""
        with self._lock:
            client, self._client, self._collection = self._client, None, None
        if client is not None:
            with _translated("close the connection"):
                client.close()

    def _connected(self) -> WeaviateClient:
        with self._lock:
            if self._client is None:
                with _translated("connect"):
                    self._client = self._connect()
            return self._client

    def _open(self, *, create: bool) -> Any:
        """The collection, created (idempotently) when `create`; None if absent otherwise."""
        if self._collection is not None:
            return self._collection
        client = self._connected()
        with _translated("open the collection"):
            if not client.collections.exists(self._name):
                if not create:
                    return None
                self._create(client)
            collection = client.collections.get(self._name)
            self._check_schema(collection)
        self._collection = collection
        return collection

    def _create(self, client: WeaviateClient) -> None:
        try:
            client.collections.create(self._name, **collection_config())
            _log.info("created the Weaviate collection %s", self._name)
        except WeaviateBaseError:
            if not client.collections.exists(self._name):
                raise
            # Another process created it at the same moment.

    def _check_schema(self, collection: Any) -> None:
        config = collection.config.get()
        if not config.multi_tenancy_config.enabled:
            raise StoreUnavailable(
                f"the Weaviate collection {self._name} exists without multi-tenancy; "
                "choose another LEXIMIND_VECTOR__WEAVIATE_COLLECTION"
            )
        present = {p.name for p in config.properties}
        for prop in collection_properties():
            if prop.name not in present:
                collection.config.add_property(prop)
                _log.info("added property %s to %s", prop.name, self._name)

    def _tenant(self, kb: str, *, create: bool) -> Any:
        """The collection seen through the knowledge base's tenant; None if it has none."""
        collection = self._open(create=create)
        if collection is None:
            return None
        name = tenant_name(kb)
        if name not in self._tenants:
            with _translated("list tenants"):
                self._tenants = set(collection.tenants.get())
                if name not in self._tenants:
                    if not create:
                        return None
                    self._create_tenant(collection, name)
        return collection.with_tenant(name)

    def _create_tenant(self, collection: Any, name: str) -> None:
        try:
            collection.tenants.create([Tenant(name=name)])
        except WeaviateBaseError:
            if not collection.tenants.exists(name):
                raise
        self._tenants.add(name)

    def _all_tenants(self) -> list[Any]:
        collection = self._open(create=False)
        if collection is None:
            return []
        with _translated("list tenants"):
            self._tenants = set(collection.tenants.get())
        return [collection.with_tenant(name) for name in sorted(self._tenants)]

    def upsert(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        by_kb: dict[str, list[tuple[Chunk, Vectors]]] = defaultdict(list)
        for chunk, vector in zip(chunks, vectors, strict=True):
            by_kb[chunk.kb].append((chunk, vector))
        for kb, pairs in by_kb.items():
            view = self._tenant(kb, create=True)
            objects = [
                DataObject(
                    properties=to_properties(c),
                    uuid=object_uuid(c.id),
                    vector=np.asarray(v, dtype=np.float32).tolist(),
                )
                for c, v in pairs
            ]
            send = functools.partial(self._insert, view)
            for start in range(0, len(objects), self._batch_size):
                send_with_retries(
                    send,
                    objects[start : start + self._batch_size],
                    attempts=self._attempts,
                    pause=self._retry_pause,
                    describe=lambda o: str(o.properties["chunk_id"]),
                )

    def _insert(self, view: Any, batch: Sequence[DataObject[Any, Any]]) -> Mapping[int, str]:
        """One batch request; the refused objects by position, all of them if it failed."""
        try:
            result = view.data.insert_many(list(batch))
        except WeaviateInsertManyAllFailedError as exc:
            return dict.fromkeys(range(len(batch)), str(exc))
        except (WeaviateBaseError, httpx.HTTPError, OSError) as exc:
            _log.warning("a Weaviate batch request failed: %s", exc)
            return dict.fromkeys(range(len(batch)), str(exc))
        return {index: error.message for index, error in result.errors.items()}

    def delete_paths(self, kb: str, paths: Sequence[str]) -> None:
        view = self._tenant(kb, create=False)
        if view is None or not paths:
            return
        for batch in _batches(paths, _IDS_PER_REQUEST):
            self._delete(view, paths_filter(kb, batch))

    def delete_ids(self, kb: str, ids: Sequence[str]) -> None:
        view = self._tenant(kb, create=False)
        if view is None or not ids:
            return
        for batch in _batches(ids, _IDS_PER_REQUEST):
            self._delete(view, ids_filter(batch))

    def _delete(self, view: Any, where: Any) -> None:
        with _translated("delete chunks"):
            while True:
                result = view.data.delete_many(where=where)
                if result.failed:
                    raise StoreUnavailable(f"Weaviate failed to delete {result.failed} chunks")
                if result.matches < _DELETE_CAP:
                    return

    def chunk_ids(self, kb: str) -> dict[str, str]:
        view = self._tenant(kb, create=False)
        if view is None:
            return {}
        with _translated("list chunks"):
            return {
                str(o.properties["chunk_id"]): str(o.properties["path"])
                for o in view.iterator(return_properties=["chunk_id", "path"])
            }

    def vectors(self, kb: str, ids: Sequence[str]) -> dict[str, Vectors]:
        return {
            str(o.properties["chunk_id"]): np.asarray(
                next(iter(o.vector.values())), dtype=np.float32
            )
            for o in self._fetch(kb, ids, ["chunk_id"], with_vectors=True)
        }

    def chunks(self, kb: str, ids: Sequence[str]) -> dict[str, Chunk]:
        found = (from_properties(o.properties) for o in self._fetch(kb, ids, CHUNK_PROPERTIES))
        return {c.id: c for c in found}

    def _fetch(
        self, kb: str, ids: Sequence[str], properties: list[str], *, with_vectors: bool = False
    ) -> list[Any]:
        view = self._tenant(kb, create=False)
        if view is None or not ids:
            return []
        found: list[Any] = []
        with _translated("read chunks"):
            for batch in _batches(ids, _IDS_PER_REQUEST):
                found.extend(
                    view.query.fetch_objects(
                        filters=ids_filter(batch),
                        limit=len(batch),
                        include_vector=with_vectors,
                        return_properties=properties,
                    ).objects
                )
        return found

    def vector_search(
        self,
        kb: str,
        vector: Vectors,
        *,
        k: int,
        kind: ChunkKind | None = None,
        exclude_roles: frozenset[FileRole] = frozenset(),
    ) -> list[tuple[Chunk, float]]:
        view = self._tenant(kb, create=False)
        if view is None:
            return []
        with _translated("search vectors"):
            found = view.query.near_vector(
                near_vector=np.asarray(vector, dtype=np.float32).tolist(),
                limit=k,
                filters=chunk_filter(kb, kind, exclude_roles),
                return_metadata=MetadataQuery(distance=True),
                return_properties=CHUNK_PROPERTIES,
            ).objects
        return [(from_properties(o.properties), 1.0 - float(o.metadata.distance)) for o in found]

    def keyword_search(
        self,
        kb: str,
        query: str,
        *,
        k: int,
        kind: ChunkKind | None = None,
        exclude_roles: frozenset[FileRole] = frozenset(),
    ) -> list[tuple[Chunk, float]]:
        view = self._tenant(kb, create=False)
        if view is None or not query.strip():
            return []
        with _translated("search keywords"):
            found = view.query.bm25(
                query=query,
                query_properties=[SEARCH_PROPERTY],
                limit=k,
                filters=chunk_filter(kb, kind, exclude_roles),
                return_metadata=MetadataQuery(score=True),
                return_properties=CHUNK_PROPERTIES,
            ).objects
        return [(from_properties(o.properties), float(o.metadata.score or 0.0)) for o in found]

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
        """Weaviate's own fusion of BM25 and vector search, weighted by alpha (1: vector only)."""
        if not query.strip():
            return self.vector_search(kb, vector, k=k, kind=kind, exclude_roles=exclude_roles)
        view = self._tenant(kb, create=False)
        if view is None:
            return []
        with _translated("search"):
            found = view.query.hybrid(
                query=query,
                vector=np.asarray(vector, dtype=np.float32).tolist(),
                alpha=self._alpha,
                fusion_type=self._fusion,
                query_properties=[SEARCH_PROPERTY],
                limit=k,
                filters=chunk_filter(kb, kind, exclude_roles),
                return_metadata=MetadataQuery(score=True),
                return_properties=CHUNK_PROPERTIES,
            ).objects
        return [(from_properties(o.properties), float(o.metadata.score or 0.0)) for o in found]

    def count(self, kb: str | None = None) -> int:
        if kb is None:
            views = self._all_tenants()
        else:
            view = self._tenant(kb, create=False)
            views = [] if view is None else [view]
        with _translated("count chunks"):
            return sum(int(v.aggregate.over_all(total_count=True).total_count or 0) for v in views)

    def knowledge_bases(self) -> list[str]:
        names: set[str] = set()
        views = self._all_tenants()
        with _translated("list knowledge bases"):
            for view in views:
                found = view.query.fetch_objects(limit=1, return_properties=["kb"]).objects
                if found:
                    names.add(str(found[0].properties["kb"]))
        return sorted(names)

    def optimize(self) -> None:
        """Nothing to do: Weaviate updates its vector and keyword indexes on every write."""

    def check(self) -> None:
        """Connects if needed and reads the schema; StoreUnavailable if Weaviate cannot answer."""
        client = self._connected()
        with _translated("answer"):
            client.collections.exists(self._name)
