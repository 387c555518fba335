"""build_dataset writes a complete, verifiable version or nothing, and uploads it whole."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.storage.local import LocalObjectStore
from core.errors import StoreUnavailable
from core.types import FeedbackLabel
from tests.support.datasets import CODEQA_LINES, CONALA_RECORDS, stored_interaction, stored_vote
from training.build import DatasetSpec, build_dataset
from training.errors import DatasetError
from training.publish import latest_version


class FailingStore:
    """A LocalObjectStore that goes down after `working` writes, as a remote store would."""

    def __init__(self, root: Path, working: int) -> None:
        self.inner = LocalObjectStore(root)
        self.working = working

    def put(self, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        if self.working <= 0:
            raise StoreUnavailable("connection refused")
        self.working -= 1
        self.inner.put(key, data, content_type=content_type)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.inner.list(prefix)


def at(second: int) -> datetime:
    return datetime(2026, 11, 25, 12, 0, second, tzinfo=UTC)


@pytest.fixture
def spec(tmp_path: Path, codeqa_dir: Path, conala_dir: Path) -> DatasetSpec:
    return DatasetSpec(out_dir=tmp_path / "out", codeqa_dir=codeqa_dir, conala_dir=conala_dir)


def test_version_files_manifest_and_llamafactory_info(spec: DatasetSpec) -> None:
    """train/test/dataset_info/manifest are written; hashes and counts in the manifest hold."""
    version = build_dataset(spec, clock=lambda: at(0))

    folder = spec.out_dir / version.version
    assert version.version.startswith("20261125T120000Z-") and version.path == folder
    assert latest_version(spec.out_dir) == version.version
    m = json.loads((folder / "manifest.json").read_text())
    for name, entry in m["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"]
    train = json.loads((folder / "train.json").read_text())
    test = json.loads((folder / "test.json").read_text())
    assert set(train[0]) == {"instruction", "input", "output"}
    assert m["sources"]["codeqa"]["read"] == 2 * CODEQA_LINES
    assert m["sources"]["conala"]["read"] == 2 * CONALA_RECORDS
    assert (m["totals"]["train"], m["totals"]["test"]) == (len(train), len(test))
    kept = m["totals"]["read"] - m["totals"]["duplicates"] - sum(m["totals"]["dropped"].values())
    assert kept == len(train) + len(test)
    assert m["seed"] == 42 and m["test_ratio"] == 0.2
    assert "dev/dev.question" in m["inputs"]["codeqa"]
    info = json.loads((folder / "dataset_info.json").read_text())
    assert info["leximind_train"]["file_name"] == "train.json"
    assert info["leximind_test"]["columns"] == {
        "prompt": "instruction",
        "query": "input",
        "response": "output",
    }
    pairs = {(r["instruction"].lower(), r["input"]) for r in train}
    assert not any((r["instruction"].lower(), r["input"]) in pairs for r in test)


def test_same_inputs_same_data(spec: DatasetSpec) -> None:
    """Two builds with one seed publish identical train and test files."""
    first = build_dataset(spec, clock=lambda: at(0))
    second = build_dataset(spec, clock=lambda: at(1))
    for name in ("train.json", "test.json"):
        assert (first.path / name).read_bytes() == (second.path / name).read_bytes()
    assert latest_version(spec.out_dir) == second.version


def test_a_second_build_in_the_same_second_reuses_the_version(spec: DatasetSpec) -> None:
    """Same second, same splits: one version, published once, still marked latest."""
    first = build_dataset(spec, clock=lambda: at(0))
    (spec.out_dir / "LATEST").unlink()
    second = build_dataset(spec, clock=lambda: at(0))

    assert second.version == first.version
    assert second.manifest == first.manifest
    assert sorted(p.name for p in spec.out_dir.iterdir()) == sorted(["LATEST", first.version])
    assert latest_version(spec.out_dir) == first.version


def test_bad_input_publishes_nothing(spec: DatasetSpec, codeqa_dir: Path) -> None:
    """A misaligned file fails the build; the previous version stays latest, no folder added."""
    good = build_dataset(spec, clock=lambda: at(0))
    (codeqa_dir / "dev" / "dev.answer").write_text("only one line")

    with pytest.raises(DatasetError, match=r"dev\.question:2"):
        build_dataset(spec, clock=lambda: at(1))

    assert sorted(p.name for p in spec.out_dir.iterdir()) == sorted(["LATEST", good.version])


def test_failure_while_writing_leaves_no_half_version(
    spec: DatasetSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the folder cannot be moved into place, the temporary folder is removed."""
    good = build_dataset(spec, clock=lambda: at(0))

    def fail(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "rename", fail)
    with pytest.raises(DatasetError, match=r"cannot write the dataset version: .*No space left"):
        build_dataset(spec, clock=lambda: at(1))

    assert sorted(p.name for p in spec.out_dir.iterdir()) == sorted(["LATEST", good.version])
    assert latest_version(spec.out_dir) == good.version


def test_upload_copies_the_version_and_latest_last(spec: DatasetSpec, tmp_path: Path) -> None:
    """Every file lands under datasets/<version>/; datasets/LATEST names it."""
    store = LocalObjectStore(tmp_path / "store")
    version = build_dataset(spec, store=store, clock=lambda: at(0))

    keys = list(store.list(f"datasets/{version.version}/"))
    names = sorted(p.name for p in version.path.iterdir())
    assert [k.rsplit("/", 1)[1] for k in keys] == names
    for name in names:
        stored = store.get(f"datasets/{version.version}/{name}")
        assert stored == (version.path / name).read_bytes()
    assert store.get("datasets/LATEST").decode().strip() == version.version
    assert version.uploaded


def test_store_failure_during_upload_moves_no_latest(spec: DatasetSpec, tmp_path: Path) -> None:
    """The store dies mid-upload: neither LATEST moves, and the error says the copy is whole."""
    store = FailingStore(tmp_path / "store", working=10)
    first = build_dataset(spec, store=store, clock=lambda: at(0))
    store.working = 2

    with pytest.raises(StoreUnavailable, match=r"is complete in .* but its upload failed"):
        build_dataset(spec, store=store, clock=lambda: at(1))

    assert store.get("datasets/LATEST").decode().strip() == first.version
    assert latest_version(spec.out_dir) == first.version


def test_feedback_examples_and_holdout(tmp_path: Path) -> None:
    """With feedback only: liked answers train, disliked ones are written to the holdout file."""
    store = LocalObjectStore(tmp_path / "store")
    for n in range(10):
        stored_interaction(store, f"up{n}", question=f"How do I configure option {n}?")
        stored_vote(store, f"up{n}", "u1", FeedbackLabel.POSITIVE)
    stored_interaction(store, "down", answer="Wrong.")
    stored_vote(store, "down", "u1", FeedbackLabel.NEGATIVE)
    spec = DatasetSpec(out_dir=tmp_path / "out", include_feedback=True)

    version = build_dataset(spec, store=store, upload=False, clock=lambda: at(0))

    m = version.manifest
    assert m["sources"]["feedback"]["train"] + m["sources"]["feedback"]["test"] == 10
    assert m["feedback"]["positive"] == 10 and m["feedback"]["holdout"] == 1
    holdout = json.loads((version.path / "feedback_holdout.json").read_text())
    assert [h["interaction_id"] for h in holdout] == ["down"]
    assert not store.exists("datasets/LATEST") and not version.uploaded


def test_spec_errors(tmp_path: Path) -> None:
    """No source, feedback without a store, or a ratio outside (0, 1) are refused up front."""
    with pytest.raises(DatasetError, match="no dataset source"):
        build_dataset(DatasetSpec(out_dir=tmp_path))
    with pytest.raises(DatasetError, match="object store"):
        build_dataset(DatasetSpec(out_dir=tmp_path, include_feedback=True))
    with pytest.raises(DatasetError, match="test ratio"):
        build_dataset(DatasetSpec(out_dir=tmp_path, conala_dir=tmp_path, test_ratio=1.0))
    assert not any(tmp_path.iterdir())
