"""LlamaFactory training configs: the LoRA recipe as options, written as the YAML it reads.

The defaults are the original prototype's production recipe: Meta-Llama-3-8B-Instruct with the
`llama3` template, LoRA rank 8 on the attention projections, bf16, 512-token examples, batch
8 x 8 accumulation, learning rate 5e-5 on a linear schedule with 3 % warm-up, gradient norm
clipped at 0.3, 1.5 epochs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from training.ports import TrainingJob

TRAIN_DATASET = "leximind_train"
CONFIG_FILE = "llamafactory.yaml"

# Arguments the trainer sets from the job or needs for its own checks; `extra` may not touch
# them. logging_nan_inf_filter off: transformers would otherwise log a NaN step's loss as the
# mean of earlier ones, hiding exactly what must fail the run.
MANAGED_KEYS = frozenset(
    {
        "model_name_or_path",
        "stage",
        "do_train",
        "finetuning_type",
        "dataset",
        "dataset_dir",
        "output_dir",
        "overwrite_output_dir",
        "report_to",
        "logging_nan_inf_filter",
        "save_strategy",
        "plot_loss",
    }
)


@dataclass(frozen=True, slots=True)
class LoraRecipe:
    """Everything about a LoRA run that is not the job's paths; see the module docstring.

    `lora_alpha` None is LlamaFactory's default, twice the rank. `max_steps` None trains for
    `epochs`. `extra` adds further LlamaFactory arguments (ValueError for one the trainer
    manages itself).
    """

    model: str = "meta-llama/Meta-Llama-3-8B-Instruct"
    template: str = "llama3"
    lora_rank: int = 8
    lora_alpha: int | None = None
    lora_dropout: float = 0.0
    lora_target: str = "q_proj,k_proj,v_proj,o_proj"
    cutoff_len: int = 512
    batch_size: int = 8
    gradient_accumulation: int = 8
    learning_rate: float = 5e-5
    lr_scheduler: str = "linear"
    warmup_ratio: float = 0.03
    max_grad_norm: float = 0.3
    epochs: float = 1.5
    max_steps: int | None = None
    bf16: bool = True
    use_cpu: bool = False
    logging_steps: int = 10
    seed: int = 42
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        managed = sorted(MANAGED_KEYS & set(self.extra))
        if managed:
            raise ValueError(
                f"extra LlamaFactory arguments {managed} are set by the trainer itself"
            )
        if self.bf16 and self.use_cpu:
            raise ValueError("bf16 needs a GPU: turn it off to train on the CPU")


def training_config(recipe: LoraRecipe, job: TrainingJob) -> dict[str, Any]:
    """The `llamafactory-cli train` arguments for `job`: supervised LoRA fine-tuning on the
    dataset version's `leximind_train` split, the adapter saved to the job's output folder.

    No intermediate checkpoints are kept: a failed run is retrained from the start.
    """
    config: dict[str, Any] = {
        "model_name_or_path": recipe.model,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": recipe.lora_rank,
        "lora_dropout": recipe.lora_dropout,
        "lora_target": recipe.lora_target,
        "dataset": TRAIN_DATASET,
        "dataset_dir": str(job.dataset_dir),
        "template": recipe.template,
        "cutoff_len": recipe.cutoff_len,
        "output_dir": str(job.output_dir),
        "overwrite_output_dir": True,
        "save_strategy": "no",
        "plot_loss": False,
        "report_to": "none",
        "logging_steps": recipe.logging_steps,
        "logging_nan_inf_filter": False,
        "per_device_train_batch_size": recipe.batch_size,
        "gradient_accumulation_steps": recipe.gradient_accumulation,
        "learning_rate": recipe.learning_rate,
        "lr_scheduler_type": recipe.lr_scheduler,
        "warmup_ratio": recipe.warmup_ratio,
        "max_grad_norm": recipe.max_grad_norm,
        "num_train_epochs": recipe.epochs,
        "bf16": recipe.bf16,
        "seed": recipe.seed,
    }
    if recipe.lora_alpha is not None:
        config["lora_alpha"] = recipe.lora_alpha
    if recipe.max_steps is not None:
        config["max_steps"] = recipe.max_steps
    if recipe.use_cpu:
        # One process, no dataloader or preprocessing workers: a CPU run is for small data.
        config.update(use_cpu=True, preprocessing_num_workers=1, dataloader_num_workers=0)
    config.update(recipe.extra)
    return config


def write_config(config: Mapping[str, Any], path: Path) -> Path:
    """Writes `config` as YAML (keys in the given order) and returns `path`."""
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    return path


def run_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config without this machine's paths: what a tracker records as the run's params."""
    return {k: v for k, v in config.items() if k not in ("dataset_dir", "output_dir")}
