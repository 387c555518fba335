"""Training: datasets, LlamaFactory, MLflow, evaluation, the gate and hot redeploy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.storage.logs import ObjectInteractionLog
from core.ports import ObjectStore
from ops.errors import NotConfigured
from ops.settings import (
    DeploySettings,
    LabelStudioSettings,
    LLMSettings,
    Settings,
    TrackingSettings,
    TrainingSettings,
)
from ops.wiring.serving import Services
from training.build import DatasetSpec, DatasetVersion, build_dataset
from training.deploy import Deployer
from training.deploy_ledger import DeployLedger
from training.gate import GatePolicy
from training.llamafactory import LlamaFactoryTrainer
from training.llamafactory_config import LoraRecipe
from training.model_registry import MlflowRegistry
from training.pipeline import RetrainPipeline
from training.ports import ExperimentTracker, ModelRegistry, Trainer
from training.tracking import MlflowTracker, mlflow_client
from training.vllm_adapters import VllmAdapterServer

if TYPE_CHECKING:
    from training.evaluation import Evaluator, ModelEndpoint
    from training.review.label_studio import LabelStudioClient


def build_label_studio(ls: LabelStudioSettings) -> LabelStudioClient:
    """The Label Studio client; raises NotConfigured when no server is configured."""
    from training.review.label_studio import LabelStudioClient

    if not ls.url or not ls.token:
        raise NotConfigured(
            "Label Studio is not configured: set LEXIMIND_LABEL_STUDIO__URL and "
            "LEXIMIND_LABEL_STUDIO__TOKEN"
        )
    return LabelStudioClient(url=ls.url, token=ls.token.get_secret_value(), timeout=ls.timeout)


def dataset_spec(
    settings: Settings,
    *,
    codeqa: Path | None = None,
    conala: Path | None = None,
    out: Path | None = None,
    feedback: bool | None = None,
    seed: int | None = None,
) -> DatasetSpec:
    """The dataset build's spec from settings, with command-line values taking precedence."""
    d = settings.dataset
    return DatasetSpec(
        out_dir=out or d.out_dir or settings.data_dir / "datasets",
        codeqa_dir=codeqa or d.codeqa_dir,
        conala_dir=conala or d.conala_dir,
        include_feedback=d.include_feedback if feedback is None else feedback,
        seed=d.seed if seed is None else seed,
        test_ratio=d.test_ratio,
        max_record_chars=d.max_record_chars,
        max_context_chars=d.max_context_chars,
    )


def build_trainer(t: TrainingSettings) -> LlamaFactoryTrainer:
    """LlamaFactory with the LEXIMIND_TRAINING__* recipe; NotConfigured when no CLI is set."""
    if t.cli is None:
        raise NotConfigured(
            "LEXIMIND_TRAINING__CLI is not set: build the trainer venv with "
            "`bash ops/training/make_venv.sh DEST` and point it at DEST/bin/llamafactory-cli"
        )
    recipe = LoraRecipe(
        model=t.model,
        template=t.template,
        lora_rank=t.lora_rank,
        lora_alpha=t.lora_alpha,
        lora_dropout=t.lora_dropout,
        lora_target=t.lora_target,
        cutoff_len=t.cutoff_len,
        batch_size=t.batch_size,
        gradient_accumulation=t.gradient_accumulation,
        learning_rate=t.learning_rate,
        lr_scheduler=t.lr_scheduler,
        warmup_ratio=t.warmup_ratio,
        max_grad_norm=t.max_grad_norm,
        epochs=t.epochs,
        max_steps=t.max_steps,
        bf16=t.bf16,
        use_cpu=t.use_cpu,
        logging_steps=t.logging_steps,
        seed=t.seed,
        extra=dict(t.extra),
    )
    return LlamaFactoryTrainer(cli=t.cli, recipe=recipe, timeout=t.timeout)


def tracking_uri(tracking: TrackingSettings, *, data_dir: Path) -> str:
    """The MLflow URI: the setting, else an SQLite file in DATA_DIR/mlflow (folder created)."""
    if tracking.uri:
        return tracking.uri
    folder = (data_dir / "mlflow").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def artifact_location(tracking: TrackingSettings, *, data_dir: Path) -> str | None:
    """Where a new experiment keeps artifacts: the setting; with a server its own default
    (None); else DATA_DIR/mlflow/artifacts, so nothing lands in the working directory."""
    if tracking.artifact_location:
        return tracking.artifact_location
    if tracking_uri(tracking, data_dir=data_dir).startswith(("http://", "https://")):
        return None
    return (data_dir / "mlflow" / "artifacts").resolve().as_uri()


def build_tracking(
    tr: TrackingSettings, *, data_dir: Path, object_store: ObjectStore | None = None
) -> tuple[MlflowTracker, MlflowRegistry]:
    """The MLflow tracker (adapters also go to `object_store`) and registry; imports mlflow."""
    uri = tracking_uri(tr, data_dir=data_dir)
    client = mlflow_client(uri, timeout=tr.timeout, retries=tr.retries)
    tracker = MlflowTracker(
        client,
        uri=uri,
        experiment=tr.experiment,
        artifact_location=artifact_location(tr, data_dir=data_dir),
        object_store=object_store,
    )
    return tracker, MlflowRegistry(client, uri=uri, model_name=tr.registered_model)


@dataclass(frozen=True, slots=True)
class TrainingBackends:
    """The trainer (LlamaFactory), the experiment tracker and the model registry (MLflow)."""

    trainer: Trainer
    tracker: ExperimentTracker
    registry: ModelRegistry


def build_training_backends(settings: Settings, *, object_store: ObjectStore) -> TrainingBackends:
    """LlamaFactory, and MLflow with adapters also copied to the process's object store.

    Raises NotConfigured when LEXIMIND_TRAINING__CLI is not set.
    """
    trainer = build_trainer(settings.training)
    tracker, registry = build_tracking(
        settings.tracking, data_dir=settings.data_dir, object_store=object_store
    )
    return TrainingBackends(trainer=trainer, tracker=tracker, registry=registry)


def build_model_registry(settings: Settings) -> ModelRegistry:
    """The MLflow model registry alone (`leximind model`); needs no trainer."""
    return build_tracking(settings.tracking, data_dir=settings.data_dir)[1]


def model_endpoint(
    llm: LLMSettings, d: DeploySettings, *, evaluation: bool = False
) -> ModelEndpoint:
    """The served models' API, for evaluation (greedy, longer answers) or as users get it."""
    from training.evaluation import ModelEndpoint

    if not llm.base_url or not llm.model:
        raise NotConfigured(
            "adapters are served by vLLM: set LEXIMIND_LLM__BASE_URL and LEXIMIND_LLM__MODEL "
            "(the base model's served name)"
        )
    return ModelEndpoint(
        base_url=llm.base_url,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        timeout=d.eval_timeout if evaluation else llm.timeout,
        max_tokens=d.eval_max_tokens if evaluation else llm.max_tokens,
        temperature=0.0 if evaluation else llm.temperature,
    )


def adapters_dir(deploy: DeploySettings, *, data_dir: Path) -> Path:
    """Where trained adapters go, one folder per version."""
    return deploy.adapters_dir or data_dir / "adapters"


def build_deployer(
    settings: Settings, services: Services, *, registry: ModelRegistry | None = None
) -> Deployer:
    """Hot redeploy into the vLLM of LEXIMIND_LLM__BASE_URL; raises NotConfigured without one."""
    from training.smoke import AnswerSmokeTest

    d, llm = settings.deploy, settings.llm
    endpoint = model_endpoint(llm, d)
    root = d.vllm_url or endpoint.base_url.rstrip("/").removesuffix("/v1")
    smoke = AnswerSmokeTest(
        endpoint=endpoint,
        retriever=services.retriever,
        interaction_log=ObjectInteractionLog(services.spooled_writer),
        # The smoke question shows the adapter serves and answers; whether its answers hold
        # up against their sources is the evaluation's and the gate's to judge.
        policy=replace(services.answers.policy, grounding=None),
        question=d.smoke_question,
        kb=d.smoke_kb,
    )
    return Deployer(
        server=VllmAdapterServer(root_url=root, api_key=endpoint.api_key, timeout=d.timeout),
        active=services.active_model,
        smoke=smoke,
        ledger=DeployLedger(settings.data_dir / "deploy"),
        base_model=llm.model or "",
        adapters_dir=adapters_dir(d, data_dir=settings.data_dir),
        registry=registry,
    )


def build_evaluator(settings: Settings, services: Services) -> Evaluator:
    """Candidate-against-champion evaluation through the model server."""
    from training.evaluation import Evaluator

    d = settings.deploy
    return Evaluator(
        endpoint=model_endpoint(settings.llm, d, evaluation=True),
        embedder=services.embedder,
        concurrency=d.eval_concurrency,
        max_samples=d.eval_max_samples,
        max_prompt_chars=d.eval_max_prompt_chars,
    )


def gate_policy(d: DeploySettings) -> GatePolicy:
    """The promotion gate from the deploy settings."""
    return GatePolicy(
        primary=d.primary_metric,
        margin=d.margin,
        default_tolerance=d.tolerance,
        tolerances=dict(d.tolerances),
        confidence=d.confidence,
    )


def build_retrain_pipeline(
    settings: Settings,
    services: Services,
    backends: TrainingBackends,
    *,
    dataset: Callable[[], DatasetVersion] | None = None,
) -> RetrainPipeline:
    """The retraining loop over the dataset settings, the backends and the model server;
    `dataset`, when given, supplies the dataset version instead of a fresh build (a control
    run on a prepared dataset)."""
    spec = dataset_spec(settings)
    store = services.object_store
    return RetrainPipeline(
        build=dataset or (lambda: build_dataset(spec, store=store)),
        trainer=backends.trainer,
        tracker=backends.tracker,
        registry=backends.registry,
        evaluator=build_evaluator(settings, services),
        deployer=build_deployer(settings, services, registry=backends.registry),
        policy=gate_policy(settings.deploy),
        adapters_dir=adapters_dir(settings.deploy, data_dir=settings.data_dir),
        reports_dir=settings.data_dir / "evaluations",
    )
