"""The composition root builds the object store and spool the storage settings name."""

from __future__ import annotations

from pathlib import Path

from core.storage.local import LocalObjectStore
from core.storage.s3 import S3ObjectStore
from ops.settings import Settings, StorageSettings
from ops.wiring import build_object_store, build_spooled_writer


def test_local_backend_is_a_folder_in_the_data_dir(tmp_path: Path) -> None:
    """By default objects live in DATA_DIR/objects and the spool in DATA_DIR/spool."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    writer = build_spooled_writer(settings)

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
    settings = Settings(_env_file=None, data_dir=tmp_path, storage=storage)

    store = build_object_store(settings)

    assert isinstance(store, S3ObjectStore) and store.bucket == "leximind-prod"
    assert "s3-real-secret-123" not in repr(store)
    assert build_spooled_writer(settings).spool.root == tmp_path / "elsewhere"
