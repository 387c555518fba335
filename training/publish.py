"""Publishing a dataset version: a complete folder or nothing, then the LATEST pointer.

A version is written into a hidden temporary folder beside the others, synced, and renamed
into place in one step; `LATEST` (the version id and a newline) is replaced last, only after
the folder (and, when there is an object store, the upload) is complete. Readers that go
through `LATEST` therefore never see a half-written version. In the object store, a
version's `manifest.json` is uploaded after its other files and `datasets/LATEST` after it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from adapters.storage.local import write_atomically
from core.errors import StoreUnavailable
from core.ports import ObjectStore
from training.errors import DatasetError

TRAIN_FILE = "train.json"
TEST_FILE = "test.json"
INFO_FILE = "dataset_info.json"
HOLDOUT_FILE = "feedback_holdout.json"
MANIFEST_FILE = "manifest.json"
LATEST_FILE = "LATEST"
STORE_PREFIX = "datasets"
TRAIN_DATASET = "leximind_train"
TEST_DATASET = "leximind_test"

_log = logging.getLogger(__name__)


def json_bytes(value: Any) -> bytes:
    """Stable, readable JSON: UTF-8, one-space indent, trailing newline."""
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode()


def json_records(records: list[dict[str, Any]]) -> bytes:
    """A JSON array with one compact record per line: diffable, and fast to write."""
    lines = ",\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    return f"[\n{lines}\n]\n".encode() if records else b"[]\n"


def sha256(data: bytes) -> str:
    """Hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def dataset_info(train: bytes, test: bytes) -> dict[str, Any]:
    """LlamaFactory's dataset_info.json for the two splits, in alpaca format.

    Pass `--dataset leximind_train` (and `--eval_dataset leximind_test`) with `--dataset_dir`
    set to the version folder.
    """
    columns = {"prompt": "instruction", "query": "input", "response": "output"}
    return {
        name: {
            "file_name": file_name,
            "file_sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
            "formatting": "alpaca",
            "columns": columns,
        }
        for name, file_name, data in (
            (TRAIN_DATASET, TRAIN_FILE, train),
            (TEST_DATASET, TEST_FILE, test),
        )
    }


def publish_folder(out_dir: Path, version: str, files: dict[str, bytes]) -> Path:
    """Writes `files` as `out_dir/<version>/`, all at once; returns the folder.

    `files` is written in its order, so pass the manifest last. Raises DatasetError when the
    version already exists or cannot be written; on any failure the temporary folder is
    removed, so no partial version is left behind.
    """
    final = out_dir / version
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if final.exists():
            raise DatasetError(f"{final}: dataset version already exists")
        building = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".{version}."))
    except OSError as exc:
        raise DatasetError(f"{out_dir}: cannot create the dataset folder: {exc}") from exc
    try:
        for name, data in files.items():
            with (building / name).open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        building.chmod(0o755)  # mkdtemp makes it private; the trainer may be another user
        os.rename(building, final)
        _sync_folder(out_dir)
    except OSError as exc:
        shutil.rmtree(building, ignore_errors=True)
        raise DatasetError(f"{final}: cannot write the dataset version: {exc}") from exc
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return final


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def upload_version(store: ObjectStore, version: str, folder: Path, names: list[str]) -> None:
    """Copies the version's files to `datasets/<version>/` in `names` order, then points
    `datasets/LATEST` at it. Raises StoreUnavailable, saying the local copy is complete."""
    try:
        for name in names:
            store.put(f"{STORE_PREFIX}/{version}/{name}", (folder / name).read_bytes())
        store.put(
            f"{STORE_PREFIX}/{LATEST_FILE}", f"{version}\n".encode(), content_type="text/plain"
        )
    except StoreUnavailable as exc:
        raise StoreUnavailable(
            f"dataset {version} is complete in {folder} but its upload failed: {exc}"
        ) from exc
    _log.info("uploaded dataset %s to %s/%s/", version, STORE_PREFIX, version)


def mark_latest(out_dir: Path, version: str) -> None:
    """Points `out_dir/LATEST` at `version`, atomically."""
    path = out_dir / LATEST_FILE
    write_atomically(path, f"{version}\n".encode())
    path.chmod(0o644)


def latest_version(out_dir: Path) -> str | None:
    """The version `out_dir/LATEST` names, or None before the first build."""
    try:
        return (out_dir / LATEST_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None
