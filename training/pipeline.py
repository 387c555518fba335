"""The retraining loop: dataset -> training -> tracking -> evaluation -> gate -> deploy or reject.

One run builds a dataset version, trains an adapter on it, records the run and registers the
version, loads it beside the model in service, evaluates both on the dataset's test split,
and promotes it only if the gate says so. Whatever fails, the model in service keeps serving:
a failed training is registered as FAILED, a rejected candidate as REJECTED with the gate's
reason, and a candidate that could not be evaluated or deployed stays a CANDIDATE with the
error as its reason (`leximind model promote` can still deploy it by hand).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from core.errors import ModelUnavailable, StoreUnavailable
from training.build import DatasetVersion
from training.deploy import Deployer
from training.errors import DatasetError, DeploymentError, TrainingFailed
from training.eval_report import EvaluationReport, write_report
from training.gate import GatePolicy, decide
from training.ports import (
    ExperimentTracker,
    ModelRegistry,
    TrainedAdapter,
    Trainer,
    TrainingJob,
    VersionStatus,
)
from training.publish import MANIFEST_FILE, sha256

_log = logging.getLogger(__name__)

PROMOTED = "promoted"
REJECTED = "rejected"
FAILED = "failed"
NOT_EVALUATED = "not_evaluated"
NOT_DEPLOYED = "not_deployed"


class CandidateEvaluator(Protocol):
    """Scores a candidate and the model in service on a dataset version (training.evaluation)."""

    async def evaluate(
        self, dataset_dir: Path, *, candidate: str, champion: str, dataset_version: str = ""
    ) -> EvaluationReport: ...


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """What one run ended with: `status` is one of promoted, rejected, failed, not_evaluated,
    not_deployed; `version` is empty when the run failed before training."""

    status: str
    reason: str
    version: str = ""
    dataset_version: str = ""
    champion: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    report: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the outcome."""
        return asdict(self)


class RetrainPipeline:
    """Runs the loop once per `run()`; the caller makes sure runs do not overlap."""

    def __init__(
        self,
        *,
        build: Callable[[], DatasetVersion],
        trainer: Trainer,
        tracker: ExperimentTracker,
        registry: ModelRegistry,
        evaluator: CandidateEvaluator,
        deployer: Deployer,
        policy: GatePolicy,
        adapters_dir: Path,
        reports_dir: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._build = build
        self._trainer = trainer
        self._tracker = tracker
        self._registry = registry
        self._evaluator = evaluator
        self._deployer = deployer
        self._policy = policy
        self._adapters_dir = adapters_dir
        self._reports_dir = reports_dir
        self._clock = clock

    async def run(self) -> RetrainOutcome:
        """One retraining; raises only what the tracker or registry raise."""
        try:
            dataset = await asyncio.to_thread(self._build)
        except (DatasetError, StoreUnavailable) as exc:
            _log.error("retraining stopped: the dataset build failed: %s", exc)
            return RetrainOutcome(FAILED, f"dataset build failed: {exc}")
        version = self._new_version()
        job = TrainingJob(version, dataset.path, self._adapters_dir / version)
        manifest_sha = sha256((dataset.path / MANIFEST_FILE).read_bytes())
        _log.info("training %s on dataset %s", version, dataset.version)
        try:
            trained = await asyncio.to_thread(self._trainer.train, job)
        except TrainingFailed as exc:
            return await self._record_failure(version, dataset, manifest_sha, exc)
        run_id = self._tracker.start_run(
            version,
            params=dict(trained.params),
            dataset_version=dataset.version,
            manifest_sha256=manifest_sha,
        )
        failed = True
        try:
            self._tracker.log_losses(run_id, trained.losses)
            self._tracker.log_adapter(run_id, trained.adapter_dir)
            self._registry.register(version, run_id=run_id, dataset_version=dataset.version)
            outcome = await self._evaluate_and_gate(trained, dataset, run_id)
            failed = False
        finally:
            self._tracker.end_run(run_id, failed=failed)
        return outcome

    def _new_version(self) -> str:
        """`leximind-<UTC time>`, with a suffix should a run of the same second exist."""
        base = f"leximind-{self._clock():%Y%m%dT%H%M%SZ}"
        version, n = base, 1
        while (self._adapters_dir / version).exists():
            n += 1
            version = f"{base}-{n}"
        return version

    async def _record_failure(
        self, version: str, dataset: DatasetVersion, manifest_sha: str, exc: TrainingFailed
    ) -> RetrainOutcome:
        _log.error("training %s failed; the model in service stays: %s", version, exc)
        run_id = self._tracker.start_run(
            version, params={}, dataset_version=dataset.version, manifest_sha256=manifest_sha
        )
        self._tracker.end_run(run_id, failed=True)
        self._registry.register(version, run_id=run_id, dataset_version=dataset.version)
        self._registry.set_status(version, VersionStatus.FAILED, reason=str(exc))
        return RetrainOutcome(
            FAILED,
            f"training failed: {exc}",
            version=version,
            dataset_version=dataset.version,
            champion=await self._deployer.active_model(),
        )

    async def _evaluate_and_gate(
        self, trained: TrainedAdapter, dataset: DatasetVersion, run_id: str
    ) -> RetrainOutcome:
        version = trained.version
        champion = await self._deployer.active_model()
        base = RetrainOutcome("", "", version, dataset.version, champion)
        self._registry.set_status(version, VersionStatus.CHALLENGER, reason=f"against {champion}")
        try:
            await self._deployer.load_candidate(version, trained.adapter_dir)
            report = await self._evaluator.evaluate(
                dataset.path, candidate=version, champion=champion, dataset_version=dataset.version
            )
        except (DeploymentError, ModelUnavailable, DatasetError) as exc:
            return await self._keep_candidate(base, NOT_EVALUATED, f"not evaluated: {exc}")
        path = write_report(report, self._reports_dir / version)
        metrics = report.metrics(version)
        self._tracker.log_metrics(run_id, metrics)
        self._tracker.log_metrics(run_id, report.metrics(champion), prefix="champion/")
        decision = decide(
            metrics,
            report.metrics(champion),
            self._policy,
            gains=_per_sample_gains(report, self._policy),
        )
        scored = RetrainOutcome("", "", version, dataset.version, champion, metrics, str(path))
        if not decision.promote:
            _log.warning("%s rejected: %s", version, decision.reason)
            self._registry.set_status(version, VersionStatus.REJECTED, reason=decision.reason)
            await self._discard(version)
            return replace(scored, status=REJECTED, reason=decision.reason)
        try:
            await self._deployer.promote(version, trained.adapter_dir)
        except DeploymentError as exc:
            return await self._keep_candidate(scored, NOT_DEPLOYED, f"not deployed: {exc}")
        return replace(scored, status=PROMOTED, reason=decision.reason)

    async def _keep_candidate(
        self, outcome: RetrainOutcome, status: str, reason: str
    ) -> RetrainOutcome:
        _log.error("%s: %s; the model in service stays", outcome.version, reason)
        self._registry.set_status(outcome.version, VersionStatus.CANDIDATE, reason=reason)
        await self._discard(outcome.version)
        return replace(outcome, status=status, reason=reason)

    async def _discard(self, version: str) -> None:
        try:
            await self._deployer.discard(version)
        except DeploymentError as exc:
            _log.warning("could not unload %s: %s", version, exc)


def _per_sample_gains(report: EvaluationReport, policy: GatePolicy) -> dict[str, list[float]]:
    """Per-sample gains, in each split's better direction, of every metric that has them."""
    found = {}
    for scores in report.scores:
        if scores.model != report.candidate:
            continue
        for metric in scores.per_sample:
            gains = report.paired_gains(metric, scores.split)
            if gains:
                sign = -1.0 if scores.split in policy.lower_is_better else 1.0
                found[f"{scores.split}/{metric}"] = [sign * g for g in gains]
    return found
