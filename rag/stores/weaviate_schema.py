"""How chunks live in Weaviate: the collection, tenant names, object ids, properties, filters.

Pure functions and constants, no I/O, so the mapping is tested without a server.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from weaviate.classes.config import (
    Configure,
    DataType,
    Property,
    Tokenization,
    VectorDistances,
)
from weaviate.classes.query import Filter, HybridFusion
from weaviate.collections.classes.filters import _Filters

from core.errors import StoreUnavailable
from core.types import Chunk, ChunkKind, FileRole
from rag.keywords import keyword_text

FusionType = Literal["ranked", "relative_score"]

# Fixed forever: object ids derive from it, so a re-upsert replaces the same object.
_NAMESPACE = uuid.UUID("5d0f3f9e-6a53-5c1e-9a55-6c6578696d64")
_TENANT_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
COLLECTION_NAME = re.compile(r"[A-Z][_0-9A-Za-z]{0,254}")
SEARCH_PROPERTY = "search_text"

# name, type, filterable, searchable (BM25); only search_text is searched by keywords.
_FIELDS: tuple[tuple[str, DataType, bool], ...] = (
    ("chunk_id", DataType.TEXT, True),
    ("kb", DataType.TEXT, True),
    ("path", DataType.TEXT, True),
    ("title", DataType.TEXT, False),
    ("text", DataType.TEXT, False),
    ("start_line", DataType.INT, False),
    ("end_line", DataType.INT, False),
    ("language", DataType.TEXT, True),
    ("kind", DataType.TEXT, True),
    ("commit", DataType.TEXT, True),
    ("role", DataType.TEXT, True),
)
CHUNK_PROPERTIES = [name for name, _, _ in _FIELDS]
_REQUIRED = ("chunk_id", "kb", "path", "start_line", "end_line", "kind")


def tenant_name(kb: str) -> str:
    """The tenant that holds a knowledge base's chunks.

    Tenant names allow 1-64 ASCII letters, digits, '_' and '-'; knowledge base names may
    also hold '.' and non-ASCII letters. The name keeps a readable prefix (unsafe characters
    as '-', 40 at most) and adds 16 hex digits of the full name's SHA-256, so names that
    differ only in a replaced character or in case still get different tenants.
    """
    if not kb:
        raise ValueError("a knowledge base name is required")
    prefix = _TENANT_UNSAFE.sub("-", kb)[:40]
    return f"{prefix}-{hashlib.sha256(kb.encode()).hexdigest()[:16]}"


def object_uuid(chunk_id: str) -> uuid.UUID:
    """The Weaviate object id of a chunk: a UUID5 of its id, the same on every upsert."""
    return uuid.uuid5(_NAMESPACE, chunk_id)


def collection_properties() -> list[Property]:
    """Every chunk field as a property, plus the BM25 text (path, title, text, identifiers).

    Exact-match fields use `field` tokenization for filters; title and text are stored but
    not indexed, since the keyword index covers them through search_text.
    """
    props = [
        Property(
            name=name,
            data_type=kind,
            tokenization=Tokenization.FIELD if filterable and kind == DataType.TEXT else None,
            index_filterable=filterable,
            index_searchable=False,
            index_range_filters=False,
        )
        for name, kind, filterable in _FIELDS
    ]
    props.append(
        Property(
            name=SEARCH_PROPERTY,
            data_type=DataType.TEXT,
            tokenization=Tokenization.WORD,
            index_filterable=False,
            index_searchable=True,
        )
    )
    return props


def collection_config() -> dict[str, Any]:
    """Keyword arguments of `collections.create`: tenants, no vectorizer, cosine HNSW.

    Vectors come from Leximind's embedder. Tenants are also created by an insert and
    activated when read, so a knowledge base offloaded by an operator still answers.
    """
    return {
        "properties": collection_properties(),
        "vector_config": Configure.Vectors.self_provided(
            vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
        ),
        "multi_tenancy_config": Configure.multi_tenancy(
            enabled=True, auto_tenant_creation=True, auto_tenant_activation=True
        ),
    }


def to_properties(chunk: Chunk) -> dict[str, Any]:
    """The object properties of a chunk (`id` is reserved in Weaviate: it is `chunk_id`)."""
    return {
        "chunk_id": chunk.id,
        "kb": chunk.kb,
        "path": chunk.path,
        "title": chunk.title,
        "text": chunk.text,
        "start_line": chunk.start_line,
        "end_line": chunk.end_line,
        "language": chunk.language,
        "kind": chunk.kind.value,
        "commit": chunk.commit,
        "role": chunk.role.value,
        SEARCH_PROPERTY: keyword_text(chunk),
    }


def from_properties(props: Mapping[str, Any]) -> Chunk:
    """The chunk stored as these properties; StoreUnavailable when the object is malformed.

    Weaviate may return an empty text property as missing, so optional texts default to "".
    """
    missing = [name for name in _REQUIRED if props.get(name) in (None, "")]
    if missing:
        raise StoreUnavailable(f"a Weaviate object lacks {', '.join(missing)}")
    try:
        kind = ChunkKind(props["kind"])
    except ValueError as exc:
        raise StoreUnavailable(f"a Weaviate object has unknown kind {props['kind']!r}") from exc
    return Chunk(
        id=str(props["chunk_id"]),
        kb=str(props["kb"]),
        path=str(props["path"]),
        title=str(props.get("title") or ""),
        text=str(props.get("text") or ""),
        start_line=int(props["start_line"]),
        end_line=int(props["end_line"]),
        language=str(props.get("language") or ""),
        kind=kind,
        commit=str(props.get("commit") or ""),
        role=FileRole.parse(props.get("role")),
    )


def chunk_filter(
    kb: str, kind: ChunkKind | None = None, exclude_roles: frozenset[FileRole] = frozenset()
) -> _Filters:
    """Chunks of the knowledge base, of one kind if given, of none of `exclude_roles`.

    The tenant already holds one knowledge base only; the kb condition keeps that true
    even if two names ever shared a tenant.
    """
    conditions = [Filter.by_property("kb").equal(kb)]
    if kind is not None:
        conditions.append(Filter.by_property("kind").equal(kind.value))
    conditions.extend(Filter.by_property("role").not_equal(r.value) for r in sorted(exclude_roles))
    return Filter.all_of(conditions)


def paths_filter(kb: str, paths: Sequence[str]) -> _Filters:
    """Chunks of these files of the knowledge base (at least one path)."""
    return Filter.all_of(
        [Filter.by_property("kb").equal(kb), Filter.by_property("path").contains_any(paths)]
    )


def ids_filter(chunk_ids: Sequence[str]) -> _Filters:
    """The objects of these chunk ids (at least one id)."""
    return Filter.by_id().contains_any([object_uuid(i) for i in chunk_ids])


def fusion(name: FusionType) -> HybridFusion:
    """Weaviate's fusion of the BM25 and vector rankings for a settings value."""
    return HybridFusion.RANKED if name == "ranked" else HybridFusion.RELATIVE_SCORE
