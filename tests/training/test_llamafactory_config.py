"""LlamaFactory configs carry the production recipe by default, overrides and the job's paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ops.errors import NotConfigured
from ops.settings import Settings
from ops.wiring import build_trainer
from training.llamafactory_config import (
    LoraRecipe,
    run_params,
    training_config,
    write_config,
)
from training.ports import TrainingJob

JOB = TrainingJob("leximind-1", Path("/data/datasets/v1"), Path("/data/adapters/leximind-1"))


def test_defaults_are_the_production_recipe() -> None:
    """Llama 3 8B Instruct, llama3 template, rank 8 on q/k/v/o, bf16, 512 tokens, 8x8, 5e-5."""
    config = training_config(LoraRecipe(), JOB)
    assert config == config | {
        "model_name_or_path": "meta-llama/Meta-Llama-3-8B-Instruct",
        "template": "llama3",
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": 8,
        "lora_target": "q_proj,k_proj,v_proj,o_proj",
        "bf16": True,
        "cutoff_len": 512,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 8,
        "learning_rate": 5e-5,
        "lr_scheduler_type": "linear",
        "warmup_ratio": 0.03,
        "max_grad_norm": 0.3,
        "num_train_epochs": 1.5,
    }
    assert "max_steps" not in config and "use_cpu" not in config
    assert "lora_alpha" not in config  # LlamaFactory's default: twice the rank


def test_job_paths_and_the_checks_the_trainer_relies_on() -> None:
    """The dataset version's leximind_train split in, the adapter to the job's folder, and
    NaN losses logged as NaN rather than smoothed away."""
    config = training_config(LoraRecipe(), JOB)
    assert config["dataset"] == "leximind_train"
    assert config["dataset_dir"] == "/data/datasets/v1"
    assert config["output_dir"] == "/data/adapters/leximind-1"
    assert config["logging_nan_inf_filter"] is False
    assert config["report_to"] == "none"
    assert config["save_strategy"] == "no"


def test_cpu_profile_and_overrides() -> None:
    """A CPU run: use_cpu, no bf16, max_steps, one worker; extra arguments are passed on."""
    recipe = LoraRecipe(
        model="/models/tiny",
        template="chatml",
        bf16=False,
        use_cpu=True,
        max_steps=20,
        lora_alpha=32,
        extra={"quantization_bit": 4},
    )
    config = training_config(recipe, JOB)
    assert config["bf16"] is False
    assert config["use_cpu"] is True
    assert config["max_steps"] == 20
    assert config["lora_alpha"] == 32
    assert config["preprocessing_num_workers"] == 1
    assert config["quantization_bit"] == 4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"extra": {"output_dir": "/elsewhere"}},
        {"extra": {"logging_nan_inf_filter": True}},
        {"bf16": True, "use_cpu": True},
    ],
)
def test_refused_recipes(kwargs: dict[str, object]) -> None:
    """A recipe may not redirect the job's paths, hide NaN losses, or ask for bf16 on CPU."""
    with pytest.raises(ValueError):
        LoraRecipe(**kwargs)  # type: ignore[arg-type]


def test_yaml_round_trip_and_params_without_paths(tmp_path: Path) -> None:
    """The YAML reads back as the config; run params leave out this machine's paths."""
    config = training_config(LoraRecipe(), JOB)
    path = write_config(config, tmp_path / "llamafactory.yaml")
    assert yaml.safe_load(path.read_text()) == config
    params = run_params(config)
    assert "output_dir" not in params and "dataset_dir" not in params
    assert params["lora_rank"] == 8


def test_recipe_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """LEXIMIND_TRAINING__* variables reach the generated config."""
    cli = tmp_path / "llamafactory-cli"
    monkeypatch.setenv("LEXIMIND_TRAINING__CLI", str(cli))
    monkeypatch.setenv("LEXIMIND_TRAINING__LEARNING_RATE", "1e-4")
    monkeypatch.setenv("LEXIMIND_TRAINING__LORA_TARGET", "q_proj, v_proj")
    monkeypatch.setenv("LEXIMIND_TRAINING__EXTRA", '{"flash_attn": "fa2"}')
    trainer = build_trainer(Settings(_env_file=None).training)
    config = training_config(trainer.recipe, JOB)
    assert config["learning_rate"] == 1e-4
    assert config["lora_target"] == "q_proj,v_proj"
    assert config["flash_attn"] == "fa2"


def test_no_cli_configured_is_a_clear_error() -> None:
    """Without LEXIMIND_TRAINING__CLI the trainer cannot be built, and the error says why."""
    with pytest.raises(NotConfigured, match="LEXIMIND_TRAINING__CLI"):
        build_trainer(Settings(_env_file=None).training)


@pytest.mark.parametrize(
    "env",
    [
        {"LEXIMIND_TRAINING__USE_CPU": "true"},  # with the default bf16
        {"LEXIMIND_TRAINING__LORA_TARGET": "q_proj;v_proj"},
        {"LEXIMIND_TRAINING__EXTRA": '{"dataset": "other"}'},
        {"LEXIMIND_TRAINING__LORA_RANK": "0"},
    ],
)
def test_bad_training_settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Contradictory or malformed training settings are refused at start-up."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError):
        Settings(_env_file=None)
