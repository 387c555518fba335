"""Building one dataset version: read, clean, deduplicate, split, write, publish, upload.

`build_dataset` is what the `leximind data build` command and the retraining job call.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.ports import ObjectStore
from training.dataset import SourceCounts, Split, clean, split
from training.errors import DatasetError
from training.feedback import FEEDBACK, FeedbackSelection, select_feedback
from training.publish import (
    HOLDOUT_FILE,
    INFO_FILE,
    MANIFEST_FILE,
    TEST_FILE,
    TRAIN_FILE,
    dataset_info,
    json_bytes,
    json_records,
    mark_latest,
    publish_folder,
    sha256,
    upload_version,
)
from training.records import Example
from training.sources import CODEQA, CONALA, codeqa_splits, conala_files, read_codeqa, read_conala

_log = logging.getLogger(__name__)
_CODEQA_SUFFIXES = (".question", ".answer", ".code", ".code.original")


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """What to build from and how; a source left as None (or False) is not used.

    `max_record_chars` bounds instruction + input + output; `max_context_chars` bounds the
    conversation and passages put in a feedback example's input.
    """

    out_dir: Path
    codeqa_dir: Path | None = None
    conala_dir: Path | None = None
    include_feedback: bool = False
    seed: int = 42
    test_ratio: float = 0.2
    max_record_chars: int = 8000
    max_context_chars: int = 4000

    def check(self, *, has_store: bool) -> None:
        """Raises DatasetError for a spec that cannot produce a sound dataset."""
        if not (self.codeqa_dir or self.conala_dir or self.include_feedback):
            raise DatasetError("no dataset source: give a CodeQA or CoNaLa folder, or feedback")
        if self.include_feedback and not has_store:
            raise DatasetError("feedback is read from the object store, and none was given")
        if not 0 < self.test_ratio < 1:
            raise DatasetError(f"test ratio {self.test_ratio} is not between 0 and 1")


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """A published dataset: its id, folder, manifest and whether it reached the store."""

    version: str
    path: Path
    manifest: dict[str, Any]
    uploaded: bool


@dataclass(slots=True)
class _Inputs:
    """What was read, before cleaning."""

    sources: list[str] = field(default_factory=list)
    examples: list[Iterator[Example]] = field(default_factory=list)
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    feedback: FeedbackSelection | None = None


def build_dataset(
    spec: DatasetSpec,
    *,
    store: ObjectStore | None = None,
    upload: bool = True,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DatasetVersion:
    """Builds, publishes and uploads one dataset version.

    The store is where feedback is read from and, unless `upload` is False, where the version
    is copied to under `datasets/<version>/`.

    Raises DatasetError for bad input or a failed check (nothing is published then), and
    StoreUnavailable when the store fails (the local version is then complete but is not
    marked latest).
    """
    spec.check(has_store=store is not None)
    started = time.perf_counter()
    inputs = _read_inputs(spec, store)
    counts = {name: SourceCounts() for name in inputs.sources}
    kept = clean(
        itertools.chain.from_iterable(inputs.examples),
        max_chars=spec.max_record_chars,
        counts=counts,
    )
    result = split(kept, test_ratio=spec.test_ratio, seed=spec.seed, counts=counts)
    files = _data_files(result, inputs)
    now = clock()
    version = f"{now:%Y%m%dT%H%M%SZ}-{sha256(files[TRAIN_FILE] + files[TEST_FILE])[:8]}"
    manifest = _manifest(spec, version, now, result, inputs, files)
    manifest["seconds"] = round(time.perf_counter() - started, 3)
    files[MANIFEST_FILE] = json_bytes(manifest)
    published = _published(spec.out_dir, version)
    if published is None:
        path = publish_folder(spec.out_dir, version, files)
    else:
        # Same second and same splits: that version is this build, so it is reused, not doubled.
        _log.info("dataset %s already published with these splits; reusing it", version)
        path, manifest = published
    uploaded = False
    if store is not None and upload:
        upload_version(store, version, path, list(files))
        uploaded = True
    try:
        mark_latest(spec.out_dir, version)
    except OSError as exc:
        raise DatasetError(f"{spec.out_dir}: cannot mark {version} as latest: {exc}") from exc
    _log.info("dataset %s: %d train, %d test", version, len(result.train), len(result.test))
    return DatasetVersion(version, path, manifest, uploaded=uploaded)


def _published(out_dir: Path, version: str) -> tuple[Path, dict[str, Any]] | None:
    """The folder and manifest of `version` when it is already complete, else None.

    A version's name holds its build second and the hash of its splits, so an existing
    complete folder of that name holds exactly the data this build produced.
    """
    path = out_dir / version
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: the published version cannot be read: {exc}") from exc
    return path, manifest


def _data_files(result: Split, inputs: _Inputs) -> dict[str, bytes]:
    """train.json, test.json, dataset_info.json and, with feedback, the holdout set."""
    train = json_records([e.alpaca() for e in result.train])
    test = json_records([e.alpaca() for e in result.test])
    files = {TRAIN_FILE: train, TEST_FILE: test, INFO_FILE: json_bytes(dataset_info(train, test))}
    if inputs.feedback is not None:
        files[HOLDOUT_FILE] = json_records(inputs.feedback.holdout)
    return files


def _read_inputs(spec: DatasetSpec, store: ObjectStore | None) -> _Inputs:
    """The sources' example streams (read lazily, all before anything is written) and the
    digests of the input files."""
    inputs = _Inputs()
    if spec.codeqa_dir:
        inputs.files[CODEQA] = _digests(spec.codeqa_dir, _codeqa_files(spec.codeqa_dir))
        inputs.sources.append(CODEQA)
        inputs.examples.append(read_codeqa(spec.codeqa_dir))
    if spec.conala_dir:
        inputs.files[CONALA] = _digests(spec.conala_dir, conala_files(spec.conala_dir))
        inputs.sources.append(CONALA)
        inputs.examples.append(read_conala(spec.conala_dir))
    if spec.include_feedback and store is not None:
        inputs.feedback = select_feedback(store, max_context_chars=spec.max_context_chars)
        inputs.sources.append(FEEDBACK)
        inputs.examples.append(iter(inputs.feedback.examples))
    return inputs


def _codeqa_files(root: Path) -> list[Path]:
    folders = {q.parent for q in codeqa_splits(root)}
    return sorted(p for f in folders for p in f.iterdir() if p.name.endswith(_CODEQA_SUFFIXES))


def _digests(root: Path, paths: list[Path]) -> dict[str, str]:
    try:
        return {p.relative_to(root).as_posix(): sha256(p.read_bytes()) for p in paths}
    except OSError as exc:
        raise DatasetError(f"cannot read {exc.filename}: {exc.strerror}") from exc


def _manifest(
    spec: DatasetSpec,
    version: str,
    now: datetime,
    result: Split,
    inputs: _Inputs,
    files: dict[str, bytes],
) -> dict[str, Any]:
    dropped: Counter[str] = Counter()
    for tally in result.counts.values():
        dropped.update(tally.dropped)
    manifest: dict[str, Any] = {
        "version": version,
        "created_at": now.isoformat(timespec="seconds"),
        "format": "alpaca",
        "seed": spec.seed,
        "test_ratio": spec.test_ratio,
        "max_record_chars": spec.max_record_chars,
        "max_context_chars": spec.max_context_chars,
        "totals": {
            "read": sum(c.read for c in result.counts.values()),
            "dropped": dict(sorted(dropped.items())),
            "duplicates": sum(c.duplicates for c in result.counts.values()),
            "train": len(result.train),
            "test": len(result.test),
            "groups_train": result.groups_train,
            "groups_test": result.groups_test,
        },
        "sources": {name: c.as_dict() for name, c in sorted(result.counts.items())},
        "inputs": inputs.files,
        "files": {
            name: {"sha256": sha256(data), "bytes": len(data)} for name, data in files.items()
        },
    }
    if inputs.feedback is not None:
        manifest[FEEDBACK] = dict(sorted(inputs.feedback.counts.items()))
    return manifest
