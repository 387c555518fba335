"""Settings of training: review, datasets, LoRA, tracking, deploy and the scheduler."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator

from core.text import validate_kb_name
from ops.settings.common import RealSecret
from training.eval_report import METRICS, REJECTED_SPLIT, TEST_SPLIT
from training.llamafactory_config import MANAGED_KEYS

_LORA_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


class LabelStudioSettings(BaseModel):
    """The Label Studio server where maintainers review and correct answers."""

    url: str | None = Field(None, description="e.g. http://127.0.0.1:8080")
    token: RealSecret = Field(None, description="a user's legacy API token")
    project: str = Field(
        "Leximind review", min_length=1, description="project title (created if missing) or id"
    )
    timeout: float = Field(30.0, gt=0, description="seconds per request")

    @model_validator(mode="after")
    def _complete(self) -> LabelStudioSettings:
        if self.url and not self.token:
            raise ValueError(
                "LEXIMIND_LABEL_STUDIO__TOKEN is required when LEXIMIND_LABEL_STUDIO__URL is set"
            )
        return self


class DatasetSettings(BaseModel):
    """The training-data build (`leximind data build`); unset folders are sources not used."""

    codeqa_dir: Path | None = Field(None, description="CodeQA folder (<split>.question ...)")
    conala_dir: Path | None = Field(None, description="CoNaLa folder (conala-*.json)")
    out_dir: Path | None = Field(None, description="dataset versions; default DATA_DIR/datasets")
    include_feedback: bool = Field(False, description="add labelled feedback from the store")
    seed: int = Field(42, description="shuffle and split seed")
    test_ratio: float = Field(0.2, gt=0, lt=1, description="share of examples in test")
    max_record_chars: int = Field(8000, gt=0, description="longer records are dropped")
    max_context_chars: int = Field(
        4000, gt=0, description="passages and earlier turns in a feedback record's input"
    )


class TrainingSettings(BaseModel):
    """LoRA training with LlamaFactory (`llamafactory-cli train`, run from its own venv).

    The defaults are the production recipe (Llama 3 8B Instruct on a GPU); a CPU test run
    sets a tiny model, its chat template, use_cpu, no bf16 and max_steps.
    """

    cli: Path | None = Field(
        None, description="llamafactory-cli of the trainer venv (ops/training/make_venv.sh)"
    )
    model: str = Field(
        "meta-llama/Meta-Llama-3-8B-Instruct", min_length=1, description="base model: id or folder"
    )
    template: str = Field("llama3", min_length=1, description="LlamaFactory chat template")
    lora_rank: int = Field(8, gt=0, description="vLLM's --max-lora-rank must be at least this")
    lora_alpha: int | None = Field(None, gt=0, description="default: twice the rank")
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    lora_target: str = Field("q_proj,k_proj,v_proj,o_proj", description="comma-separated modules")
    cutoff_len: int = Field(512, gt=0, description="tokens per example; longer ones are cut")
    batch_size: int = Field(8, gt=0, description="per-device train batch size")
    gradient_accumulation: int = Field(8, gt=0, description="steps per optimizer update")
    learning_rate: float = Field(5e-5, gt=0)
    lr_scheduler: str = Field("linear", min_length=1, description="transformers scheduler type")
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    max_grad_norm: float = Field(0.3, gt=0)
    epochs: float = Field(1.5, gt=0)
    max_steps: int | None = Field(None, gt=0, description="stop after this many steps")
    bf16: bool = Field(True, description="bfloat16 mixed precision (needs a GPU that has it)")
    use_cpu: bool = Field(False, description="train on the CPU (tests)")
    logging_steps: int = Field(10, gt=0, description="steps between loss records")
    seed: int = Field(42)
    timeout: float = Field(
        8 * 3600, gt=0, description="seconds a run may take before it is stopped and failed"
    )
    extra: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description='JSON of further LlamaFactory arguments, e.g. {"quantization_bit": 4}',
    )

    @field_validator("lora_target")
    @classmethod
    def _modules(cls, value: str) -> str:
        modules = [m.strip() for m in value.split(",")]
        if not all(_LORA_MODULE.fullmatch(m) for m in modules):
            raise ValueError(
                f"LEXIMIND_TRAINING__LORA_TARGET {value!r} must be module names separated by commas"
            )
        return ",".join(modules)

    @field_validator("extra")
    @classmethod
    def _not_managed(
        cls, value: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        managed = sorted(MANAGED_KEYS & set(value))
        if managed:
            raise ValueError(f"LEXIMIND_TRAINING__EXTRA may not set {managed}: Leximind sets them")
        return value

    @model_validator(mode="after")
    def _precision(self) -> TrainingSettings:
        if self.bf16 and self.use_cpu:
            raise ValueError("LEXIMIND_TRAINING__BF16 needs a GPU; set it to false with USE_CPU")
        return self


class TrackingSettings(BaseModel):
    """MLflow: one run per training and the registered adapter versions.

    Unset, runs go to an SQLite file in DATA_DIR/mlflow and artifacts to DATA_DIR/mlflow/artifacts.
    """

    uri: str | None = Field(
        None, description="MLflow server URL or sqlite:/// URI; default DATA_DIR/mlflow/mlflow.db"
    )
    artifact_location: str | None = Field(
        None,
        description="artifact root of a new experiment; default DATA_DIR/mlflow/artifacts "
        "with the SQLite default, the server's own with a server",
    )
    experiment: str = Field("leximind-adapters", min_length=1)
    registered_model: str = Field("leximind-adapter", min_length=1)
    timeout: float = Field(30.0, gt=0, description="seconds per request to an MLflow server")
    retries: int = Field(2, ge=0, le=10, description="retries of a failed MLflow request")


class DeploySettings(BaseModel):
    """Evaluation, the promotion gate and hot redeploy of adapters into vLLM.

    vLLM must run with `--enable-lora --max-lora-rank 8` and
    `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`; LEXIMIND_LLM__MODEL names its base model.
    """

    vllm_url: str | None = Field(
        None, description="vLLM root for loading adapters; default: LLM base_url without /v1"
    )
    adapters_dir: Path | None = Field(None, description="adapters; default DATA_DIR/adapters")
    timeout: float = Field(60.0, gt=0, description="seconds per adapter load or unload")
    smoke_question: str = Field(
        "How do I get started?", min_length=1, description="asked through the core before a switch"
    )
    smoke_kb: str | None = Field(None, description="knowledge base of the smoke question")
    eval_concurrency: int = Field(16, gt=0, le=512, description="requests in flight")
    eval_max_samples: int = Field(1000, gt=0, description="test samples per split")
    eval_max_prompt_chars: int = Field(2000, gt=0, description="longer prompts are cut")
    eval_max_tokens: int = Field(256, gt=0, description="tokens per evaluation answer")
    eval_timeout: float = Field(120.0, gt=0, description="seconds per evaluation request")
    primary_metric: str = Field("rougeL", description="bleu4, rouge1, rouge2, rougeL or cosine")
    margin: float = Field(0.005, ge=0, le=1, description="gain the primary metric must show")
    tolerance: float = Field(0.01, ge=0, le=1, description="regression allowed elsewhere")
    confidence: float = Field(
        0.95,
        gt=0,
        lt=1,
        description="the primary metric's per-sample gain must stay above 0 at this bootstrap "
        "confidence",
    )
    tolerances: dict[str, float] = Field(
        default_factory=dict,
        description='JSON metric -> allowed regression, e.g. {"bleu4": 0.02}',
    )

    @field_validator("primary_metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"primary metric {value!r} is not one of {', '.join(METRICS)}")
        return value

    @field_validator("tolerances")
    @classmethod
    def _tolerances(cls, value: dict[str, float]) -> dict[str, float]:
        splits = (TEST_SPLIT, REJECTED_SPLIT)
        known = set(METRICS) | {f"{s}/{m}" for s in splits for m in METRICS}
        for key, allowed in value.items():
            if key not in known:
                raise ValueError(f"tolerance for unknown metric {key!r}; known: {sorted(known)}")
            if not 0 <= allowed <= 1:
                raise ValueError(f"tolerance {key}={allowed} is not between 0 and 1")
        return value

    @field_validator("smoke_kb")
    @classmethod
    def _smoke_kb(cls, value: str | None) -> str | None:
        return validate_kb_name(value) if value else None


class SchedulerSettings(BaseModel):
    """`leximind scheduler`: weekly retraining, spool drain, reaction polling, re-indexing.

    An interval of 0 turns its job off.
    """

    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the job store; default SQLite in DATA_DIR/scheduler"
    )
    timezone: str = Field("UTC", description="time zone of the cron expressions")
    retrain_cron: str = Field(
        "0 2 * * sun", description="crontab: minute hour day month day-of-week (names are safest)"
    )
    retrain_interval: float = Field(
        0, ge=0, description="seconds; when set, retrain on this interval instead of the cron"
    )
    retrain_enabled: bool = Field(True, description="schedule retraining at all")
    misfire_grace: float = Field(
        3600, gt=0, description="seconds a run missed while down may still start late"
    )
    drain_interval: float = Field(60, ge=0, description="seconds between spool drains")
    reindex_interval: float = Field(
        21600, ge=0, description="seconds between incremental re-indexes of every knowledge base"
    )
    reaction_poll_interval: float = Field(
        300, ge=0, description="seconds between GitHub reaction polls"
    )

    @model_validator(mode="after")
    def _cron(self) -> SchedulerSettings:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(self.retrain_cron, timezone=self.timezone)
        except (ValueError, LookupError) as exc:
            raise ValueError(
                f"LEXIMIND_SCHEDULER__RETRAIN_CRON {self.retrain_cron!r} or TIMEZONE "
                f"{self.timezone!r} is invalid: {exc}"
            ) from exc
        return self
