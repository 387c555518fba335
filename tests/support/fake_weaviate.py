"""An in-memory stand-in for the part of a Weaviate server the WeaviateStore talks to.

It answers the same client calls (collections, tenants, insert_many, delete_many,
fetch_objects, near_vector, bm25, hybrid, aggregate, iterator) with the v4 client's own
result types, evaluates the filters the store builds, keeps tenants apart (a tenant that
does not exist is an error, as on a server) and can refuse objects or be down, so the
adapter's logic runs offline. Its BM25 is a plain tf-idf: ranking quality is not what it
is for.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from weaviate.collections.classes.aggregate import AggregateReturn
from weaviate.collections.classes.batch import (
    BatchObject,
    BatchObjectReturn,
    DeleteManyReturn,
    ErrorObject,
)
from weaviate.collections.classes.filters import _FilterAnd, _FilterValue, _Operator
from weaviate.collections.classes.internal import MetadataReturn, Object, QueryReturn
from weaviate.exceptions import (
    WeaviateConnectionError,
    WeaviateInsertManyAllFailedError,
    WeaviateQueryError,
)

_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class _Stored:
    properties: dict[str, Any]
    vector: list[float]


@dataclass
class FakeCollection:
    """One collection: its schema and, per tenant, objects by UUID."""

    name: str
    config: dict[str, Any]
    tenants: dict[str, dict[uuid.UUID, _Stored]] = field(default_factory=dict)


@dataclass
class FakeWeaviateServer:
    """The server's state, shared by every client made from it.

    `refuse` maps chunk ids to how many more inserts of them fail; `down` makes every
    call fail as a lost connection; `calls` records (operation, arguments) for assertions.
    """

    collections: dict[str, FakeCollection] = field(default_factory=dict)
    refuse: dict[str, int] = field(default_factory=dict)
    down: bool = False
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    connections: int = 0

    def client(self) -> FakeClient:
        if self.down:
            raise WeaviateConnectionError("connection refused")
        self.connections += 1
        return FakeClient(self)

    def hit(self, operation: str, **arguments: Any) -> None:
        if self.down:
            raise WeaviateConnectionError("connection refused")
        self.calls.append((operation, arguments))


class FakeClient:
    """What `weaviate.connect_to_custom` returns, as far as the store uses it."""

    def __init__(self, server: FakeWeaviateServer) -> None:
        self.server = server
        self.collections = _Collections(server)
        self.closed = False

    def close(self) -> None:
        self.closed = True


class _Collections:
    def __init__(self, server: FakeWeaviateServer) -> None:
        self._server = server

    def exists(self, name: str) -> bool:
        self._server.hit("collections.exists", name=name)
        return name in self._server.collections

    def create(self, name: str, **config: Any) -> None:
        self._server.hit("collections.create", name=name, **config)
        if name in self._server.collections:
            raise WeaviateQueryError(f"class {name} already exists", "HTTP")
        self._server.collections[name] = FakeCollection(name, config)

    def get(self, name: str) -> _CollectionHandle:
        return _CollectionHandle(self._server, self._server.collections[name], None)


@dataclass
class _Property:
    name: str


@dataclass
class _MultiTenancy:
    enabled: bool


@dataclass
class _Config:
    multi_tenancy_config: _MultiTenancy
    properties: list[_Property]


class _ConfigHandle:
    def __init__(self, server: FakeWeaviateServer, collection: FakeCollection) -> None:
        self._server, self._c = server, collection

    def get(self) -> _Config:
        self._server.hit("config.get")
        mt = self._c.config.get("multi_tenancy_config")
        return _Config(
            _MultiTenancy(bool(mt and mt.enabled)),
            [_Property(p.name) for p in self._c.config.get("properties", [])],
        )

    def add_property(self, prop: Any) -> None:
        self._server.hit("config.add_property", name=prop.name)
        self._c.config.setdefault("properties", []).append(prop)


class _TenantsHandle:
    def __init__(self, server: FakeWeaviateServer, collection: FakeCollection) -> None:
        self._server, self._c = server, collection

    def get(self) -> dict[str, Any]:
        self._server.hit("tenants.get")
        return dict.fromkeys(self._c.tenants)

    def exists(self, name: str) -> bool:
        return name in self._c.tenants

    def create(self, tenants: list[Any]) -> None:
        for t in tenants:
            self._server.hit("tenants.create", name=t.name)
            self._c.tenants.setdefault(t.name, {})


class _CollectionHandle:
    """A collection, or a collection seen through one tenant (`with_tenant`)."""

    def __init__(
        self, server: FakeWeaviateServer, collection: FakeCollection, tenant: str | None
    ) -> None:
        self._server, self._c, self._tenant = server, collection, tenant
        self.config = _ConfigHandle(server, collection)
        self.tenants = _TenantsHandle(server, collection)
        self.data = _Data(self)
        self.query = _Query(self)
        self.aggregate = _Aggregate(self)

    def with_tenant(self, name: str) -> _CollectionHandle:
        return _CollectionHandle(self._server, self._c, name)

    def objects(self, operation: str, **arguments: Any) -> dict[uuid.UUID, _Stored]:
        self._server.hit(operation, tenant=self._tenant, **arguments)
        if self._tenant is None or self._tenant not in self._c.tenants:
            raise WeaviateQueryError(f"tenant {self._tenant!r} not found", "GRPC")
        return self._c.tenants[self._tenant]

    def result(self, key: uuid.UUID, stored: _Stored, **metadata: Any) -> Object[Any, Any]:
        return Object(
            uuid=key,
            metadata=MetadataReturn(**metadata),
            properties=dict(stored.properties),
            references=None,
            vector={"default": list(stored.vector)},
            collection=self._c.name,
        )

    def iterator(self, *, return_properties: list[str]) -> list[Object[Any, Any]]:
        found = self.objects("iterator")
        return [self.result(k, v) for k, v in sorted(found.items())]


def _matches(where: Any, key: uuid.UUID, properties: dict[str, Any]) -> bool:
    if where is None:
        return True
    if isinstance(where, _FilterAnd):
        return all(_matches(f, key, properties) for f in where.filters)
    assert isinstance(where, _FilterValue), f"unexpected filter {where!r}"
    value = str(key) if where.target == "_id" else properties.get(str(where.target))
    if where.operator == _Operator.EQUAL:
        return bool(value == where.value)
    if where.operator == _Operator.NOT_EQUAL:
        return bool(value != where.value)
    if where.operator == _Operator.CONTAINS_ANY:
        return value in [str(v) for v in where.value]  # type: ignore[union-attr]
    raise AssertionError(f"operator {where.operator} not supported by the fake")


class _Data:
    def __init__(self, handle: _CollectionHandle) -> None:
        self._h = handle

    def insert_many(self, objects: list[Any]) -> BatchObjectReturn:
        found = self._h.objects("insert_many", count=len(objects))
        refuse = self._h._server.refuse
        errors: dict[int, ErrorObject] = {}
        for index, obj in enumerate(objects):
            chunk_id = obj.properties["chunk_id"]
            if refuse.get(chunk_id, 0) > 0:
                refuse[chunk_id] -= 1
                batch_object = BatchObject(
                    collection=self._h._c.name, uuid=str(obj.uuid), index=index
                )
                errors[index] = ErrorObject(message="shard is read-only", object_=batch_object)
                continue
            found[obj.uuid] = _Stored(dict(obj.properties), list(obj.vector))
        if errors and len(errors) == len(objects):
            raise WeaviateInsertManyAllFailedError("every object failed: shard is read-only")
        return BatchObjectReturn(errors=errors)

    def delete_many(self, *, where: Any) -> DeleteManyReturn[None]:
        found = self._h.objects("delete_many", where=where)
        gone = [k for k, v in found.items() if _matches(where, k, v.properties)]
        for key in gone:
            del found[key]
        return DeleteManyReturn(failed=0, matches=len(gone), objects=None, successful=len(gone))


class _Query:
    def __init__(self, handle: _CollectionHandle) -> None:
        self._h = handle

    def _filtered(self, operation: str, filters: Any, **arguments: Any) -> list[Any]:
        found = self._h.objects(operation, filters=filters, **arguments)
        return [(k, v) for k, v in found.items() if _matches(filters, k, v.properties)]

    def fetch_objects(
        self, *, limit: int, filters: Any = None, **arguments: Any
    ) -> QueryReturn[Any, Any]:
        hits = self._filtered("fetch_objects", filters, limit=limit, **arguments)
        return QueryReturn(objects=[self._h.result(k, v) for k, v in hits[:limit]])

    def near_vector(
        self, *, near_vector: list[float], limit: int, filters: Any, **arguments: Any
    ) -> QueryReturn[Any, Any]:
        hits = self._filtered("near_vector", filters, limit=limit, **arguments)
        scored = sorted(((_cosine(near_vector, v.vector), k, v) for k, v in hits), reverse=True)
        return QueryReturn(
            objects=[self._h.result(k, v, distance=1.0 - s) for s, k, v in scored[:limit]]
        )

    def bm25(
        self, *, query: str, query_properties: list[str], limit: int, filters: Any, **arguments: Any
    ) -> QueryReturn[Any, Any]:
        hits = self._filtered("bm25", filters, query=query, limit=limit, **arguments)
        scored = _keyword_scores(query, query_properties, hits)
        return QueryReturn(objects=[self._h.result(k, v, score=s) for s, k, v in scored[:limit]])

    def hybrid(
        self,
        *,
        query: str,
        vector: list[float],
        alpha: float,
        query_properties: list[str],
        limit: int,
        filters: Any,
        **arguments: Any,
    ) -> QueryReturn[Any, Any]:
        hits = self._filtered("hybrid", filters, query=query, alpha=alpha, limit=limit, **arguments)
        dense = sorted(((_cosine(vector, v.vector), k) for k, v in hits), reverse=True)
        words = _keyword_scores(query, query_properties, hits)
        fused: Counter[uuid.UUID] = Counter()
        for rank, (_, key) in enumerate(dense):
            fused[key] += alpha / (60 + rank)
        for rank, (_, key, _) in enumerate(words):
            fused[key] += (1 - alpha) / (60 + rank)
        found = dict(hits)
        return QueryReturn(
            objects=[self._h.result(k, found[k], score=s) for k, s in fused.most_common(limit)]
        )


class _Aggregate:
    def __init__(self, handle: _CollectionHandle) -> None:
        self._h = handle

    def over_all(self, *, total_count: bool) -> AggregateReturn:
        return AggregateReturn(properties={}, total_count=len(self._h.objects("aggregate")))


def _cosine(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a), np.asarray(b)
    return float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y)))


def _keyword_scores(
    query: str, fields: list[str], hits: list[tuple[uuid.UUID, _Stored]]
) -> list[tuple[float, uuid.UUID, _Stored]]:
    docs = [
        (k, v, Counter(_WORD.findall(" ".join(str(v.properties[f]) for f in fields).lower())))
        for k, v in hits
    ]
    terms = set(_WORD.findall(query.lower()))
    df = {t: sum(1 for _, _, words in docs if t in words) for t in terms}
    scored = []
    for key, stored, words in docs:
        score = sum(
            words[t] / (words[t] + 1.2) * math.log(1 + len(docs) / df[t]) for t in terms if words[t]
        )
        if score > 0:
            scored.append((score, key, stored))
    scored.sort(key=lambda item: -item[0])
    return scored
