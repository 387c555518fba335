"""The local-folder object store passes the contract and keeps its files out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage.local import LocalObjectStore
from core.ports import ObjectStore
from tests.adapters.object_store_contract import ObjectStoreContract, VersionedListingContract
from tests.fakes import MemoryObjectStore


class TestLocalObjectStore(ObjectStoreContract, VersionedListingContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ObjectStore:
        return LocalObjectStore(tmp_path / "objects")


class TestMemoryObjectStore(ObjectStoreContract):
    """The in-memory fake the log tests use behaves like the real stores."""

    @pytest.fixture
    def store(self) -> ObjectStore:
        return MemoryObjectStore()


def test_keys_are_relative_paths_under_the_root(tmp_path: Path) -> None:
    """A key is a file at that relative path; temporary files of writes are never listed."""
    store = LocalObjectStore(tmp_path)
    store.put("feedback/i1/u1.json", b"{}")
    (tmp_path / "feedback" / "i1" / ".u2.json.tmp").write_bytes(b"half")

    assert (tmp_path / "feedback" / "i1" / "u1.json").read_bytes() == b"{}"
    assert list(store.list()) == ["feedback/i1/u1.json"]


def test_a_key_cannot_also_be_a_folder(tmp_path: Path) -> None:
    """'a' and 'a/b' cannot both exist in a folder: the clash is a ValueError, not a crash."""
    store = LocalObjectStore(tmp_path)
    store.put("datasets/v1", b"file")
    with pytest.raises(ValueError, match="clashes"):
        store.put("datasets/v1/train.json", b"[]")
    with pytest.raises(KeyError):
        store.get("datasets/v1/train.json")
    assert store.get("datasets/v1") == b"file"
