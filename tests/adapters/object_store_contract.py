"""The behaviour every ObjectStore implementation must show; subclass and provide `store`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from core.ports import ObjectStore, VersionedListing

INVALID_KEYS = ("", "/etc/passwd", "../x", "a//b", "a/./b", "a/../b", "a/", "a/.hidden")


class ObjectStoreContract:
    """Shared tests; a subclass defines a `store` fixture returning an empty ObjectStore."""

    def test_put_then_get_returns_the_bytes(self, store: ObjectStore) -> None:
        """What was put is what is read back, byte for byte, including empty and binary data."""
        store.put("interactions/2026/11/25/a.json", b'{"id": "a"}')
        store.put(
            "datasets/v1/blob.bin", bytes(range(256)), content_type="application/octet-stream"
        )
        store.put("datasets/v1/empty.json", b"")

        assert store.get("interactions/2026/11/25/a.json") == b'{"id": "a"}'
        assert store.get("datasets/v1/blob.bin") == bytes(range(256))
        assert store.get("datasets/v1/empty.json") == b""

    def test_put_replaces_an_existing_object(self, store: ObjectStore) -> None:
        """Writing a key again replaces it: one object, the latest bytes."""
        store.put("feedback/i1/u1.json", b"old")
        store.put("feedback/i1/u1.json", b"new")

        assert store.get("feedback/i1/u1.json") == b"new"
        assert list(store.list("feedback/")) == ["feedback/i1/u1.json"]

    def test_missing_object(self, store: ObjectStore) -> None:
        """A missing key is a KeyError to get, False to exists, and no error to delete."""
        with pytest.raises(KeyError):
            store.get("corrections/nothing.json")
        assert not store.exists("corrections/nothing.json")
        store.delete("corrections/nothing.json")

    def test_delete_removes_the_object(self, store: ObjectStore) -> None:
        """After delete the key is gone from get, exists and list; deleting again is fine."""
        store.put("feedback/i1/u1.json", b"{}")
        assert store.exists("feedback/i1/u1.json")

        store.delete("feedback/i1/u1.json")
        store.delete("feedback/i1/u1.json")

        assert not store.exists("feedback/i1/u1.json")
        assert list(store.list()) == []
        with pytest.raises(KeyError):
            store.get("feedback/i1/u1.json")

    def test_a_prefix_is_not_an_object(self, store: ObjectStore) -> None:
        """The 'folder' of a key is no object: absent to get and exists, and delete spares it."""
        store.put("datasets/v1/train.json", b"[]")

        assert not store.exists("datasets/v1")
        with pytest.raises(KeyError):
            store.get("datasets/v1")
        store.delete("datasets/v1")

        assert list(store.list()) == ["datasets/v1/train.json"]

    def test_list_by_prefix_in_lexicographic_order(self, store: ObjectStore) -> None:
        """list returns every key under the prefix, sorted; a prefix need not end at a '/'."""
        keys = [
            "interactions/2026/11/25/b.json",
            "interactions/2026/11/24/z.json",
            "interactions/2026/11/25/a.json",
            "interactions/2026/12/01/c.json",
            "feedback/i1/u1.json",
            "datasets/v10/train.json",
            "datasets/v1/train.json",
            "datasets/v1/sub/dataset_info.json",
        ]
        for key in keys:
            store.put(key, key.encode())

        assert list(store.list()) == sorted(keys)
        assert list(store.list("interactions/2026/11/")) == [
            "interactions/2026/11/24/z.json",
            "interactions/2026/11/25/a.json",
            "interactions/2026/11/25/b.json",
        ]
        assert list(store.list("datasets/v1/")) == [
            "datasets/v1/sub/dataset_info.json",
            "datasets/v1/train.json",
        ]
        assert list(store.list("datasets/v1")) == [
            "datasets/v1/sub/dataset_info.json",
            "datasets/v1/train.json",
            "datasets/v10/train.json",
        ]
        assert list(store.list("corrections/")) == []
        assert list(store.list("../")) == []

    def test_keys_with_non_ascii_names(self, store: ObjectStore) -> None:
        """Keys may hold any Unicode letters; they list in code-point order."""
        for key in ("datasets/ü/x.json", "datasets/a/x.json", "datasets/ß/x.json"):
            store.put(key, b"1")
        assert list(store.list("datasets/")) == [
            "datasets/a/x.json",
            "datasets/ß/x.json",
            "datasets/ü/x.json",
        ]

    def test_invalid_keys_are_refused(self, store: ObjectStore) -> None:
        """Absolute, empty-segment, dot-segment and hidden keys are a ValueError everywhere."""
        for bad in INVALID_KEYS:
            with pytest.raises(ValueError, match="invalid object key"):
                store.put(bad, b"x")
            with pytest.raises(ValueError, match="invalid object key"):
                store.get(bad)
            with pytest.raises(ValueError, match="invalid object key"):
                store.exists(bad)
            with pytest.raises(ValueError, match="invalid object key"):
                store.delete(bad)
        assert list(store.list()) == []

    def test_a_large_object_round_trips(self, store: ObjectStore) -> None:
        """A dataset-sized object (9 MB, more than one upload chunk) comes back intact."""
        data = bytes(range(256)) * (9 * 4096)
        store.put("datasets/v2/train.json", data)
        assert store.get("datasets/v2/train.json") == data

    def test_concurrent_writers_lose_nothing(self, store: ObjectStore) -> None:
        """Eight threads writing 25 keys each: all 200 objects are there with their bytes."""

        def write(worker: int) -> None:
            for n in range(25):
                store.put(f"interactions/2026/11/25/{worker}-{n}.json", f"{worker}:{n}".encode())

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(write, range(8)))

        keys = list(store.list("interactions/"))
        assert len(keys) == 200
        assert store.get("interactions/2026/11/25/7-24.json") == b"7:24"

    def test_listing_more_than_one_page(self, store: ObjectStore) -> None:
        """More keys than one S3 list page (1,000) are all listed, in order."""
        keys = [f"feedback/i{n:04d}/u.json" for n in range(1005)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda k: store.put(k, b"{}"), keys))
        assert list(store.list("feedback/")) == keys


class VersionedListingContract:
    """Shared tests of `list_versions`; a subclass defines a `store` fixture as above."""

    def test_versions_change_with_the_content_only(self, store: ObjectStore) -> None:
        """The same keys as `list`; rewriting other content changes one key's version only."""
        assert isinstance(store, VersionedListing)
        store.put("catalog/a.json", b'{"v": 1}')
        store.put("catalog/b.json", b'{"v": 1}')
        store.put("catalogue/c.json", b"{}")
        before = dict(store.list_versions("catalog/"))
        assert list(before) == list(store.list("catalog/")) == ["catalog/a.json", "catalog/b.json"]
        assert all(before.values())

        store.put("catalog/a.json", b'{"v": 2}')
        after = dict(store.list_versions("catalog/"))

        assert after["catalog/a.json"] != before["catalog/a.json"]
        assert after["catalog/b.json"] == before["catalog/b.json"]
        assert list(store.list_versions("nothing/")) == []
