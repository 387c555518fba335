"""Chunks map to Weaviate objects and back, with safe tenant names and the right filters."""

from __future__ import annotations

import dataclasses
import re

import pytest
from weaviate.classes.config import DataType
from weaviate.classes.query import HybridFusion

from core.errors import StoreUnavailable
from core.types import Chunk, ChunkKind, FileRole
from rag.keywords import keyword_text
from rag.stores.weaviate_schema import (
    CHUNK_PROPERTIES,
    SEARCH_PROPERTY,
    chunk_filter,
    collection_config,
    from_properties,
    fusion,
    ids_filter,
    object_uuid,
    paths_filter,
    tenant_name,
    to_properties,
)
from tests.rag.store_contract import CORPUS

TENANT = re.compile(r"[A-Za-z0-9_-]{1,64}")


@pytest.mark.parametrize(
    "kb", ["default", "docs.v2", "ünïcødé", "a" * 64, "x-y_z", "it's", "../../etc"]
)
def test_tenant_names_are_valid_for_any_knowledge_base(kb: str) -> None:
    """Every knowledge base name maps to a valid tenant name that starts like it."""
    name = tenant_name(kb)
    assert TENANT.fullmatch(name)
    assert name == tenant_name(kb)
    assert name.startswith(re.sub(r"[^A-Za-z0-9_-]", "-", kb)[:40])


def test_tenant_names_keep_similar_knowledge_bases_apart() -> None:
    """Names differing only in replaced characters, case or past 40 characters differ."""
    names = ["docs.v2", "docs-v2", "docs_v2", "Docs.v2", "a" * 40 + "1", "a" * 40 + "2"]
    assert len({tenant_name(kb) for kb in names}) == len(names)
    with pytest.raises(ValueError, match="required"):
        tenant_name("")


def test_object_ids_are_stable_uuid5s_of_chunk_ids() -> None:
    """The same chunk id always gives the same object id; different ids differ."""
    assert object_uuid("abc") == object_uuid("abc")
    assert object_uuid("abc").version == 5
    assert object_uuid("abc") != object_uuid("abd")


@pytest.mark.parametrize("chunk", CORPUS)
def test_properties_round_trip(chunk: Chunk) -> None:
    """Every chunk field goes into a property and comes back equal."""
    props = to_properties(chunk)
    assert set(props) == {*CHUNK_PROPERTIES, SEARCH_PROPERTY}
    assert props[SEARCH_PROPERTY] == keyword_text(chunk)
    assert "id" not in props  # reserved by Weaviate
    assert from_properties(props) == chunk


def test_properties_cover_every_chunk_field() -> None:
    """No chunk field is left without a property."""
    fields = {f.name for f in dataclasses.fields(Chunk)}
    assert {"chunk_id" if f == "id" else f for f in fields} == set(CHUNK_PROPERTIES)


def test_empty_optional_texts_may_come_back_missing() -> None:
    """Weaviate can drop empty texts; an absent commit, title or language reads as ''."""
    props = to_properties(dataclasses.replace(CORPUS[0], commit="", title=""))
    del props["commit"], props["title"], props["language"]
    chunk = from_properties(props)
    assert (chunk.commit, chunk.title, chunk.language) == ("", "", "")


@pytest.mark.parametrize(
    ("change", "message"),
    [({"chunk_id": None}, "lacks chunk_id"), ({"kind": "binary"}, "unknown kind 'binary'")],
)
def test_malformed_objects_are_store_errors(change: dict[str, object], message: str) -> None:
    """An object missing a required property or with a bad kind is a store failure."""
    props = {**to_properties(CORPUS[0]), **change}
    with pytest.raises(StoreUnavailable, match=message):
        from_properties(props)


def test_collection_has_tenants_no_vectorizer_and_cosine_vectors() -> None:
    """The collection is multi-tenant, takes Leximind's vectors and indexes BM25 text only."""
    config = collection_config()
    assert config["multi_tenancy_config"].enabled is True
    vectors = config["vector_config"]._to_dict()
    assert vectors["vectorizer"] == {"none": {}}
    assert vectors["vectorIndexConfig"]["distance"] == "cosine"
    props = {p.name: p for p in config["properties"]}
    assert [n for n, p in props.items() if p.indexSearchable] == [SEARCH_PROPERTY]
    assert props[SEARCH_PROPERTY].tokenization.value == "word"
    assert props["path"].tokenization.value == "field" and props["path"].indexFilterable
    assert props["start_line"].dataType == DataType.INT


def test_filters_select_knowledge_base_kind_paths_and_ids() -> None:
    """Filters name the kb, the kind when given, the roles left out, the paths and the ids."""
    kb_only = chunk_filter("alpha")
    assert (kb_only.target, kb_only.operator.value, kb_only.value) == ("kb", "Equal", "alpha")
    both = chunk_filter("alpha", ChunkKind.CODE)
    assert [(f.target, f.value) for f in both.filters] == [("kb", "alpha"), ("kind", "code")]
    skip = chunk_filter("alpha", exclude_roles=frozenset({FileRole.TEST}))
    assert [(f.target, f.operator.value, f.value) for f in skip.filters] == [
        ("kb", "Equal", "alpha"),
        ("role", "NotEqual", "test"),
    ]
    paths = paths_filter("alpha", ["a.md", "b.md"])
    assert [(f.target, f.operator.value, f.value) for f in paths.filters] == [
        ("kb", "Equal", "alpha"),
        ("path", "ContainsAny", ["a.md", "b.md"]),
    ]
    ids = ids_filter(["c1", "c2"])
    assert (ids.target, ids.operator.value) == ("_id", "ContainsAny")
    assert ids.value == [str(object_uuid("c1")), str(object_uuid("c2"))]


def test_fusion_types() -> None:
    """Settings values name Weaviate's two fusion algorithms."""
    assert fusion("ranked") is HybridFusion.RANKED
    assert fusion("relative_score") is HybridFusion.RELATIVE_SCORE
