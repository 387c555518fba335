"""The seams of the retraining loop: a trainer, an experiment tracker and a model registry.

LlamaFactory (training/llamafactory.py) implements Trainer and MLflow (training/tracking.py)
implements ExperimentTracker and ModelRegistry; the retraining pipeline only sees these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class TrainingJob:
    """One training run: which dataset version to learn from and where the adapter goes.

    `dataset_dir` is a published dataset version (train.json, test.json, dataset_info.json,
    manifest.json); `version` names the adapter (also its vLLM model name).
    """

    version: str
    dataset_dir: Path
    output_dir: Path


@dataclass(frozen=True, slots=True)
class TrainedAdapter:
    """A LoRA adapter that training produced, with what it took to make it."""

    version: str
    adapter_dir: Path
    losses: tuple[tuple[int, float], ...]
    params: Mapping[str, Any] = field(default_factory=dict)


class Trainer(Protocol):
    """Trains a LoRA adapter; raises training.errors.TrainingFailed when the run fails."""

    def train(self, job: TrainingJob) -> TrainedAdapter: ...


class VersionStatus(StrEnum):
    """Where a model version stands."""

    CANDIDATE = "candidate"
    CHAMPION = "champion"
    CHALLENGER = "challenger"
    REJECTED = "rejected"
    RETIRED = "retired"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A registered adapter version as the registry knows it."""

    version: str
    run_id: str
    status: VersionStatus
    created_at: str
    dataset_version: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""


class ExperimentTracker(Protocol):
    """Records training runs: parameters, the dataset, the loss curve, metrics, the adapter."""

    def start_run(
        self, version: str, *, params: Mapping[str, Any], dataset_version: str, manifest_sha256: str
    ) -> str:
        """Opens a run for `version` and returns its id."""
        ...

    def log_losses(self, run_id: str, losses: tuple[tuple[int, float], ...]) -> None: ...

    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], *, prefix: str = ""
    ) -> None: ...

    def log_adapter(self, run_id: str, adapter_dir: Path) -> None:
        """Stores the adapter files as the run's artifact."""
        ...

    def end_run(self, run_id: str, *, failed: bool = False) -> None: ...


class ModelRegistry(Protocol):
    """Registered adapter versions and the aliases `champion` (in service) and `challenger`."""

    def register(self, version: str, *, run_id: str, dataset_version: str) -> ModelVersion: ...

    def get(self, version: str) -> ModelVersion:
        """Raises KeyError for an unknown version."""
        ...

    def versions(self) -> list[ModelVersion]:
        """Every version, newest first."""
        ...

    def set_status(self, version: str, status: VersionStatus, *, reason: str = "") -> None:
        """Moves the aliases with the status: CHAMPION and CHALLENGER are held by one version
        at a time."""
        ...

    def champion(self) -> ModelVersion | None: ...
