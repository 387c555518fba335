"""The retraining pipeline: a better adapter is promoted, a worse one rejected, a failed
training recorded, and the model in service keeps serving whatever goes wrong (fake vLLM API,
in-memory trainer, tracker and registry; the real dataset build, evaluation and deployer)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.llm.active_model import FileActiveModel
from core.answering import AnswerPolicy
from ops.settings import TrackingSettings
from ops.wiring import build_tracking
from rag.embedding import OnnxEmbedder
from tests.fakes import ListRetriever, MemoryInteractionLog
from tests.support.fake_vllm import FakeVllm, fake_vllm, write_fake_adapter
from tests.support.mlflow_store import MlflowStore
from tests.support.retraining import (
    MemoryRegistry,
    MemoryTracker,
    ScriptedTrainer,
    conala_inputs,
    intents,
    onnx_embedder,
)
from training.build import DatasetSpec, DatasetVersion, build_dataset
from training.deploy import Deployer
from training.deploy_ledger import DeployLedger
from training.errors import DatasetError, TrainingFailed
from training.evaluation import Evaluator, ModelEndpoint
from training.gate import GatePolicy
from training.pipeline import RetrainPipeline
from training.ports import VersionStatus
from training.smoke import AnswerSmokeTest
from training.vllm_adapters import VllmAdapterServer

GOOD = {question: f"answer number {n}" for n, question in enumerate(intents(20))}


@pytest.fixture(scope="module")
def embedder(model_cache: Path) -> OnnxEmbedder:
    return onnx_embedder(model_cache)


@pytest.fixture
def server() -> Iterator[FakeVllm]:
    with fake_vllm() as fake:
        yield fake


class Loop:
    """A pipeline over the fake server whose trainer takes `steps` in turn."""

    def __init__(
        self,
        tmp: Path,
        server: FakeVllm,
        embedder: OnnxEmbedder,
        steps: list[Path | Exception],
        *,
        build_error: DatasetError | None = None,
        mlflow: MlflowStore | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        spec = DatasetSpec(out_dir=tmp / "datasets", conala_dir=conala_inputs(tmp / "conala", GOOD))
        self.build_error = build_error
        self.builds: list[DatasetVersion] = []
        # In memory unless MLflow is asked for; the tests read the fakes' own records.
        self.tracker: Any = MemoryTracker()
        self.registry: Any = MemoryRegistry()
        if mlflow is not None:
            tracking = TrackingSettings(uri=mlflow.uri, artifact_location=mlflow.artifact_location)
            self.tracker, self.registry = build_tracking(tracking, data_dir=tmp)
        self.trainer = ScriptedTrainer(steps)
        self.active = FileActiveModel(tmp / "deploy" / "active_model.json")
        self.server = server
        endpoint = ModelEndpoint(base_url=server.base_url, timeout=10)
        deployer = Deployer(
            server=VllmAdapterServer(root_url=server.root_url, timeout=10),
            active=self.active,
            smoke=AnswerSmokeTest(
                endpoint=endpoint,
                retriever=ListRetriever({}),
                interaction_log=MemoryInteractionLog(),
                policy=AnswerPolicy(),
                question="How do I get started?",
            ),
            ledger=DeployLedger(tmp / "deploy"),
            base_model="base-model",
            adapters_dir=tmp / "adapters",
            registry=self.registry,
        )
        times = (datetime(2026, 11, 29, 2, tzinfo=UTC) + timedelta(hours=n) for n in range(99))
        self.pipeline = RetrainPipeline(
            build=lambda: self._build(spec),
            trainer=self.trainer,
            tracker=self.tracker,
            registry=self.registry,
            evaluator=Evaluator(endpoint=endpoint, embedder=embedder),
            deployer=deployer,
            policy=GatePolicy(),
            adapters_dir=tmp / "adapters",
            reports_dir=tmp / "evaluations",
            clock=clock or (lambda: next(times)),
        )

    def _build(self, spec: DatasetSpec) -> DatasetVersion:
        if self.build_error is not None:
            raise self.build_error
        # A version is named by the second it is built in; runs here are quicker than that.
        built_at = datetime(2026, 11, 29, 1, tzinfo=UTC) + timedelta(minutes=len(self.builds))
        version = build_dataset(spec, clock=lambda: built_at)
        self.builds.append(version)
        return version


@pytest.fixture
def adapters(tmp_path: Path) -> dict[str, Path]:
    """Prepared adapters: `good` gives the dataset's answers, `bad` something else."""
    return {
        "good": write_fake_adapter(tmp_path / "prepared" / "good", GOOD),
        "bad": write_fake_adapter(tmp_path / "prepared" / "bad", {}),
    }


async def test_the_first_adapter_beats_the_base_model_and_serves(
    tmp_path: Path, server: FakeVllm, embedder: OnnxEmbedder, adapters: dict[str, Path]
) -> None:
    """With no champion the candidate is measured against the base model, promoted, tracked."""
    loop = Loop(tmp_path, server, embedder, [adapters["good"]])

    outcome = await loop.pipeline.run()

    version = "leximind-20261129T020000Z"
    assert (outcome.status, outcome.version, outcome.champion) == (
        "promoted",
        version,
        "base-model",
    )
    assert loop.active.current() == version and version in server.adapters
    assert loop.registry.get(version).status is VersionStatus.CHAMPION
    job = loop.trainer.jobs[0]
    assert (
        job.dataset_dir == loop.builds[0].path and job.output_dir == tmp_path / "adapters" / version
    )
    run = loop.tracker.runs["run-1"]
    assert run["params"]["lora_rank"] == 8 and run["losses"] and run["adapter"] == job.output_dir
    assert run["metrics"]["test/rougeL"] == pytest.approx(1.0)
    assert run["metrics"]["champion/test/rougeL"] < 0.5
    assert run["dataset_version"] == loop.builds[0].version and len(run["manifest_sha256"]) == 64
    assert run["ended"] and not run["failed"]
    report = json.loads(Path(outcome.report).read_text())
    assert report["candidate"] == version and report["champion"] == "base-model"
    assert (tmp_path / "evaluations" / version / "report.md").is_file()


async def test_a_worse_candidate_is_rejected_and_the_champion_stays(
    tmp_path: Path, server: FakeVllm, embedder: OnnxEmbedder, adapters: dict[str, Path]
) -> None:
    """A candidate worse than the champion is registered as rejected with the gate's reason and
    unloaded; the champion keeps serving."""
    loop = Loop(tmp_path, server, embedder, [adapters["good"], adapters["bad"]])
    champion = (await loop.pipeline.run()).version

    outcome = await loop.pipeline.run()

    assert outcome.status == "rejected" and outcome.champion == champion
    assert "below the required gain" in outcome.reason
    rejected = loop.registry.get(outcome.version)
    assert rejected.status is VersionStatus.REJECTED and rejected.reason == outcome.reason
    assert loop.active.current() == champion
    assert outcome.version not in server.adapters and champion in server.adapters
    assert loop.tracker.runs["run-2"]["ended"] and not loop.tracker.runs["run-2"]["failed"]


async def test_a_failed_training_leaves_the_champion_in_service(
    tmp_path: Path, server: FakeVllm, embedder: OnnxEmbedder, adapters: dict[str, Path]
) -> None:
    """TrainingFailed is recorded as a failed run and a FAILED version; nothing is evaluated."""
    loop = Loop(tmp_path, server, embedder, [adapters["good"], TrainingFailed("loss is NaN")])
    champion = (await loop.pipeline.run()).version
    asked = len(server.requests)

    outcome = await loop.pipeline.run()

    assert outcome.status == "failed" and "loss is NaN" in outcome.reason
    failed = loop.registry.get(outcome.version)
    assert failed.status is VersionStatus.FAILED and failed.reason == "loss is NaN"
    assert loop.tracker.runs["run-2"]["failed"]
    assert loop.active.current() == champion and len(server.requests) == asked
    serving = loop.registry.champion()
    assert serving is not None and serving.version == champion


async def test_a_failed_dataset_build_trains_nothing(
    tmp_path: Path, server: FakeVllm, embedder: OnnxEmbedder
) -> None:
    """A dataset that cannot be built stops the run before training, with the reason."""
    loop = Loop(tmp_path, server, embedder, [], build_error=DatasetError("conala: bad JSON"))

    outcome = await loop.pipeline.run()

    assert (outcome.status, outcome.version) == ("failed", "")
    assert "conala: bad JSON" in outcome.reason
    assert loop.trainer.jobs == [] and loop.tracker.runs == {}


async def test_a_model_server_failure_keeps_the_candidate_for_later(
    tmp_path: Path, server: FakeVllm, embedder: OnnxEmbedder, adapters: dict[str, Path]
) -> None:
    """If the champion cannot answer, the candidate stays a CANDIDATE with the error and the
    active model does not change."""
    loop = Loop(tmp_path, server, embedder, [adapters["good"]])
    server.failing.add("base-model")

    outcome = await loop.pipeline.run()

    assert outcome.status == "not_evaluated" and "HTTP 500" in outcome.reason
    kept = loop.registry.get(outcome.version)
    assert kept.status is VersionStatus.CANDIDATE and "not evaluated" in kept.reason
    assert loop.active.current() is None and outcome.version not in server.adapters


async def test_runs_in_the_same_second_get_distinct_versions(
    tmp_path: Path, server: FakeVllm, embedder: OnnxEmbedder, adapters: dict[str, Path]
) -> None:
    """A second run whose clock shows the same second does not reuse the first's version."""
    steps: list[Path | Exception] = [adapters["good"], TrainingFailed("NaN")]
    same_second = datetime(2026, 11, 29, 2, tzinfo=UTC)
    loop = Loop(tmp_path, server, embedder, steps, clock=lambda: same_second)

    first, second = await loop.pipeline.run(), await loop.pipeline.run()

    assert (first.version, second.version) == (
        "leximind-20261129T020000Z",
        "leximind-20261129T020000Z-2",
    )


async def test_runs_and_versions_land_in_mlflow(
    tmp_path: Path,
    server: FakeVllm,
    embedder: OnnxEmbedder,
    adapters: dict[str, Path],
    mlflow_store: MlflowStore,
) -> None:
    """With MLflow as tracker and registry: the promoted version holds the champion alias, the
    rejected one its reason, the failed one FAILED; metrics are on the runs."""
    steps: list[Path | Exception] = [adapters["good"], adapters["bad"], TrainingFailed("NaN")]
    loop = Loop(tmp_path, server, embedder, steps, mlflow=mlflow_store)

    promoted, rejected, failed = [await loop.pipeline.run() for _ in range(3)]

    assert [o.status for o in (promoted, rejected, failed)] == ["promoted", "rejected", "failed"]
    champion = loop.registry.champion()
    assert champion is not None and champion.version == promoted.version
    assert champion.metrics["test/rougeL"] == pytest.approx(1.0)
    assert champion.metrics["champion/test/rougeL"] < 0.5
    versions = {v.version: v for v in loop.registry.versions()}
    assert versions[rejected.version].status is VersionStatus.REJECTED
    assert versions[rejected.version].reason == rejected.reason
    assert versions[failed.version].status is VersionStatus.FAILED
    assert loop.active.current() == promoted.version
