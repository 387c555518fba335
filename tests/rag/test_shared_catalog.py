"""The shared catalog: one object per knowledge base, cheap cached reads, and outages that
never lose what was read or hide a failed write."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.storage.local import LocalObjectStore
from adapters.storage.s3 import S3ObjectStore
from core.errors import StoreUnavailable
from rag.catalog import FileCatalog
from rag.shared_catalog import ObjectStoreCatalog, record_key
from tests.adapters.test_s3_storage import new_bucket, s3_store
from tests.fakes import MemoryObjectStore, VersionedMemoryObjectStore
from tests.rag.catalog_contract import CatalogContract, OpenCatalog, record
from tests.support.seaweedfs import SeaweedServer

TTL = 2.0


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = TTL) -> None:
        self.now += seconds


class TestObjectStoreCatalogOnAFolder(CatalogContract):
    @pytest.fixture
    def open_catalog(self, tmp_path: Path) -> OpenCatalog:
        store = LocalObjectStore(tmp_path / "objects")
        return lambda: ObjectStoreCatalog(store, ttl=0)


class TestObjectStoreCatalogWithoutVersions(CatalogContract):
    """A store that cannot list versions gets its records read again at each refresh."""

    @pytest.fixture
    def open_catalog(self) -> OpenCatalog:
        store = MemoryObjectStore()
        return lambda: ObjectStoreCatalog(store, ttl=0)


class TestObjectStoreCatalogOnS3(CatalogContract):
    @pytest.fixture
    def open_catalog(self, seaweedfs: SeaweedServer) -> OpenCatalog:
        bucket = new_bucket()
        return lambda: ObjectStoreCatalog(s3_store(seaweedfs, bucket), ttl=0)


def test_each_knowledge_base_is_one_object() -> None:
    """Records live at catalog/<name>.json; a leading dot, not allowed in keys, is escaped."""
    store = VersionedMemoryObjectStore()
    catalog = ObjectStoreCatalog(store)
    catalog.save(record("docs"))
    catalog.save(record(".hidden"))

    assert sorted(store.objects) == ["catalog/%2Ehidden.json", "catalog/docs.json"]
    assert json.loads(store.objects["catalog/docs.json"])["commit"] == "c1"
    assert record_key("docs.v2") == "catalog/docs.v2.json"
    assert ObjectStoreCatalog(store).names() == [".hidden", "docs"]


def test_reads_within_the_ttl_cost_no_request() -> None:
    """After the first read, a hundred searches' reads are served from memory."""
    store = VersionedMemoryObjectStore()
    ObjectStoreCatalog(store).save(record("docs"))
    reader = ObjectStoreCatalog(store, ttl=TTL, clock=Clock())

    for _ in range(100):
        assert reader.get("docs") == record("docs")
        assert reader.names() == ["docs"]

    assert store.calls == {"list_versions": 1, "get": 1}


def test_a_refresh_fetches_only_what_changed() -> None:
    """Once the ttl has passed, one listing finds the change; only the changed record is read."""
    store, clock = VersionedMemoryObjectStore(), Clock()
    writer = ObjectStoreCatalog(store)
    for name in ("api", "docs", "web"):
        writer.save(record(name))
    reader = ObjectStoreCatalog(store, ttl=TTL, clock=clock)
    assert reader.names() == ["api", "docs", "web"]
    store.calls.clear()

    writer.save(record("docs", commit="c2"))
    clock.advance(TTL / 2)
    assert reader.get("docs") == record("docs")  # still within the ttl
    clock.advance(TTL / 2)
    assert reader.get("docs") == record("docs", commit="c2")

    assert store.calls == {"list_versions": 1, "get": 1}


def test_a_deleted_record_disappears_from_readers() -> None:
    """A record object removed from the store is no longer listed after the next refresh."""
    store, clock = VersionedMemoryObjectStore(), Clock()
    writer = ObjectStoreCatalog(store)
    writer.save(record("api"))
    writer.save(record("old"))
    reader = ObjectStoreCatalog(store, ttl=TTL, clock=clock)
    assert reader.names() == ["api", "old"]

    store.delete(record_key("old"))
    clock.advance()

    assert reader.names() == ["api"] and reader.get("old") is None


def test_an_outage_serves_the_last_records_and_fails_writes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the store is down, reads keep the last records (one warning per outage), a save
    raises StoreUnavailable, and after recovery changes show again."""
    store, clock = VersionedMemoryObjectStore(), Clock()
    ObjectStoreCatalog(store).save(record("docs"))
    reader = ObjectStoreCatalog(store, ttl=TTL, clock=clock)
    assert reader.get("docs") == record("docs")

    store.down = True
    with caplog.at_level(logging.WARNING, logger="rag.shared_catalog"):
        for _ in range(3):
            clock.advance()
            assert reader.get("docs") == record("docs")
            assert reader.names() == ["docs"]
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "serving the 1 knowledge bases last read" in caplog.records[0].getMessage()
    with pytest.raises(StoreUnavailable):
        reader.save(record("new"))

    store.down = False
    ObjectStoreCatalog(store).save(record("new"))
    clock.advance()
    assert reader.names() == ["docs", "new"]


def test_reading_before_any_successful_read_fails_clearly() -> None:
    """With no record ever read there is nothing to serve: the outage is StoreUnavailable."""
    store = VersionedMemoryObjectStore()
    store.down = True
    with pytest.raises(StoreUnavailable):
        ObjectStoreCatalog(store).get("docs")


def test_with_a_local_copy_a_start_during_an_outage_serves_this_hosts_records(
    tmp_path: Path,
) -> None:
    """Records read or saved are kept in this host's catalog, and a process started while
    the store is down serves that copy until the store answers again."""
    store, clock = VersionedMemoryObjectStore(), Clock()
    local = FileCatalog(tmp_path / "catalog.json")
    local.save(record("indexed-before-sharing"))
    ObjectStoreCatalog(store).save(record("docs"))
    first = ObjectStoreCatalog(store, ttl=TTL, clock=clock, local=local)
    assert first.names() == ["docs"]  # the shared catalog decides while it answers
    assert FileCatalog(tmp_path / "catalog.json").get("docs") == record("docs")

    store.down = True
    restarted = ObjectStoreCatalog(store, ttl=TTL, clock=clock, local=local)
    assert restarted.names() == ["docs", "indexed-before-sharing"]
    with pytest.raises(StoreUnavailable):
        restarted.save(record("new"))
    assert local.get("new") is None  # not kept here when the shared write failed

    store.down = False
    ObjectStoreCatalog(store).save(record("new"))
    clock.advance()
    assert restarted.names() == ["docs", "new"]


def test_an_invalid_record_is_skipped_and_reported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A record object that is not a record is logged once and skipped; the others serve."""
    store, clock = VersionedMemoryObjectStore(), Clock()
    ObjectStoreCatalog(store).save(record("docs"))
    store.put(record_key("broken"), b"{not json")
    reader = ObjectStoreCatalog(store, ttl=TTL, clock=clock)

    with caplog.at_level(logging.ERROR, logger="rag.shared_catalog"):
        assert reader.names() == ["docs"]
        clock.advance()
        assert reader.names() == ["docs"]
    assert len(caplog.records) == 1 and "catalog/broken.json" in caplog.records[0].getMessage()


def test_a_negative_ttl_is_refused() -> None:
    """The ttl is a duration: below zero is a programming error."""
    with pytest.raises(ValueError, match="ttl"):
        ObjectStoreCatalog(MemoryObjectStore(), ttl=-1)


def test_concurrent_indexers_of_different_knowledge_bases_keep_every_record(
    seaweedfs: SeaweedServer,
) -> None:
    """Eight processes saving eight knowledge bases at once on S3: all eight are recorded."""
    bucket = new_bucket()
    names = [f"kb{n}" for n in range(8)]

    def index(name: str) -> None:
        catalog = ObjectStoreCatalog(s3_store(seaweedfs, bucket), ttl=0)
        catalog.names()
        catalog.save(record(name))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(index, names))

    assert ObjectStoreCatalog(s3_store(seaweedfs, bucket)).names() == names


def test_a_killed_s3_server_keeps_readers_answering(own_seaweedfs: SeaweedServer) -> None:
    """Kill the S3 server: readers serve what they read, saves fail; after a restart on the
    same data every record is still there."""
    store = S3ObjectStore(
        endpoint=own_seaweedfs.endpoint,
        access_key=own_seaweedfs.access_key,
        secret_key=own_seaweedfs.secret_key,
        bucket="catalog-outage",
        secure=False,
        retries=0,
        connect_timeout=2,
        read_timeout=5,
    )
    clock = Clock()
    ObjectStoreCatalog(store).save(record("docs"))
    reader = ObjectStoreCatalog(store, ttl=TTL, clock=clock)
    assert reader.names() == ["docs"]

    own_seaweedfs.kill()
    clock.advance()
    assert reader.get("docs") == record("docs")
    with pytest.raises(StoreUnavailable):
        reader.save(record("new"))

    own_seaweedfs.start()
    clock.advance()
    assert reader.names() == ["docs"]
    assert ObjectStoreCatalog(store).get("docs") == record("docs")
