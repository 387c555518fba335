"""In-process fakes of the retraining seams (training.ports) and the data the tests train on.

`MemoryRegistry` and `MemoryTracker` keep what MLflow would; `ScriptedTrainer` "trains" by
copying a prepared adapter folder into the job's output folder, or raises TrainingFailed.
`blocking_backends` is a backends factory for scheduler processes (see its docstring).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.ports import ObjectStore
from ops.settings import Settings
from ops.wiring import TrainingBackends
from training.errors import TrainingFailed
from training.ports import ModelVersion, TrainedAdapter, TrainingJob, VersionStatus
from training.records import normalise_line

if TYPE_CHECKING:
    from rag.embedding import OnnxEmbedder

_SINGLE = (VersionStatus.CHAMPION, VersionStatus.CHALLENGER)
_DISPLACED = {
    VersionStatus.CHAMPION: VersionStatus.RETIRED,
    VersionStatus.CHALLENGER: VersionStatus.CANDIDATE,
}


class MemoryRegistry:
    """Implements training.ports.ModelRegistry in a dict; aliases follow the statuses."""

    def __init__(self) -> None:
        self._versions: dict[str, ModelVersion] = {}
        self.aliases: dict[VersionStatus, str] = {}

    def register(self, version: str, *, run_id: str, dataset_version: str) -> ModelVersion:
        registered = ModelVersion(
            version=version,
            run_id=run_id,
            status=VersionStatus.CANDIDATE,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            dataset_version=dataset_version,
        )
        self._versions[version] = registered
        return registered

    def get(self, version: str) -> ModelVersion:
        return self._versions[version]

    def versions(self) -> list[ModelVersion]:
        return list(reversed(self._versions.values()))

    def set_status(self, version: str, status: VersionStatus, *, reason: str = "") -> None:
        """As MLflowRegistry does: an alias moves with its status, and the version that held it
        becomes RETIRED (champion) or CANDIDATE (challenger)."""
        current = self._versions[version]
        for alias in _SINGLE:
            if self.aliases.get(alias) == version and status is not alias:
                del self.aliases[alias]
        if status in _SINGLE:
            holder = self.aliases.get(status)
            if holder is not None and holder != version:
                displaced = _DISPLACED[status]
                self._versions[holder] = replace(
                    self._versions[holder], status=displaced, reason=f"{status} is now {version}"
                )
            self.aliases[status] = version
        self._versions[version] = replace(current, status=status, reason=reason)

    def champion(self) -> ModelVersion | None:
        name = self.aliases.get(VersionStatus.CHAMPION)
        return self._versions[name] if name else None

    def set_metrics(self, version: str, metrics: Mapping[str, float]) -> None:
        self._versions[version] = replace(self._versions[version], metrics=dict(metrics))


class MemoryTracker:
    """Implements training.ports.ExperimentTracker: one dict per run."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}

    def start_run(
        self, version: str, *, params: Mapping[str, Any], dataset_version: str, manifest_sha256: str
    ) -> str:
        run_id = f"run-{len(self.runs) + 1}"
        self.runs[run_id] = {
            "version": version,
            "params": dict(params),
            "dataset_version": dataset_version,
            "manifest_sha256": manifest_sha256,
            "losses": (),
            "metrics": {},
            "adapter": None,
            "ended": False,
            "failed": False,
        }
        return run_id

    def log_losses(self, run_id: str, losses: tuple[tuple[int, float], ...]) -> None:
        self.runs[run_id]["losses"] = losses

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], *, prefix: str = "") -> None:
        self.runs[run_id]["metrics"].update({prefix + k: v for k, v in metrics.items()})

    def log_adapter(self, run_id: str, adapter_dir: Path) -> None:
        self.runs[run_id]["adapter"] = adapter_dir

    def end_run(self, run_id: str, *, failed: bool = False) -> None:
        self.runs[run_id].update(ended=True, failed=failed)


class ScriptedTrainer:
    """Each `train` takes the next step: an adapter folder (copied to the job's output folder
    and returned) or an exception (raised)."""

    def __init__(self, steps: Sequence[Path | Exception]) -> None:
        self._steps = list(steps)
        self.jobs: list[TrainingJob] = []

    def train(self, job: TrainingJob) -> TrainedAdapter:
        self.jobs.append(job)
        step = self._steps.pop(0)
        if isinstance(step, Exception):
            raise step
        shutil.copytree(step, job.output_dir)
        return TrainedAdapter(
            version=job.version,
            adapter_dir=job.output_dir,
            losses=((1, 2.5), (2, 1.9)),
            params={"lora_rank": 8, "learning_rate": 5e-5},
        )


def conala_inputs(folder: Path, answers: Mapping[str, str]) -> Path:
    """A CoNaLa-format folder whose snippets are `answers` (intent -> snippet), one question
    id per intent, so the dataset's references are exactly those answers."""
    rows = [
        {"intent": intent, "rewritten_intent": None, "snippet": snippet, "question_id": n}
        for n, (intent, snippet) in enumerate(answers.items(), start=1)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conala-train.json").write_text(json.dumps(rows, indent=1))
    return folder


def intents(count: int) -> list[str]:
    """Distinct questions in the form the ETL writes them (one line, single spaces)."""
    topics = ("sort a list", "read a file", "parse JSON", "join strings", "format a date")
    return [normalise_line(f"How do I {topics[n % len(topics)]} (case {n})?") for n in range(count)]


# Environment of a scheduler process started by a test (not LEXIMIND_* settings).
INTERVALS_ENV = "TEST_RETRAIN_INTERVALS"
RELEASE_ENV = "TEST_RETRAIN_RELEASE"


class BlockingTrainer:
    """Appends "start <pid> <time>" / "end <pid> <time>" lines to the intervals file, waits
    (up to a minute) until the release file exists, then fails like a real failed run."""

    def __init__(self, intervals: Path, release: Path) -> None:
        self._intervals = intervals
        self._release = release

    def train(self, job: TrainingJob) -> TrainedAdapter:
        self._note("start")
        deadline = time.monotonic() + 60
        while not self._release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._note("end")
        raise TrainingFailed(f"scripted failure of {job.version}")

    def _note(self, what: str) -> None:
        with self._intervals.open("a") as out:
            out.write(f"{what} {os.getpid()} {time.time():.6f}\n")


def blocking_backends(settings: Settings, *, object_store: ObjectStore) -> TrainingBackends:
    """Backends for a scheduler subprocess: the BlockingTrainer on the files named by
    TEST_RETRAIN_INTERVALS and TEST_RETRAIN_RELEASE, in-memory tracker and registry (the
    process's object store, which the real backends copy adapters to, is not needed)."""
    trainer = BlockingTrainer(Path(os.environ[INTERVALS_ENV]), Path(os.environ[RELEASE_ENV]))
    return TrainingBackends(trainer=trainer, tracker=MemoryTracker(), registry=MemoryRegistry())


def onnx_embedder(cache_dir: Path) -> OnnxEmbedder:
    """The project's MiniLM embedder, exported into `cache_dir` on first use."""
    from ops.wiring import default_model_path
    from rag.embedding import OnnxEmbedder

    return OnnxEmbedder(model_dir=default_model_path(), cache_dir=cache_dir)
