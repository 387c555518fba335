"""The trainer venv for tests, a CPU training recipe for the tiny Llama, and fake trainer CLIs.

Measured on our 2-core machines: `bash ops/training/make_venv.sh .venv-train` took 3 min 22 s
with a cold pip cache and 2 min 19 s with a warm one (2.1 GB); importing LlamaFactory takes
8-10 s of every run, and 20 steps of the tiny Llama on an idle CPU about 12 s.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from training.llamafactory_config import LoraRecipe

TRAIN_PYTHON_ENV = "LEXIMIND_TEST_TRAIN_PYTHON"

# The tiny Llama's tokenizer speaks ChatML, which LlamaFactory's `chatml` template writes.
TINY_TEMPLATE = "chatml"


def require_train_python() -> Path:
    """The trainer venv's python named by LEXIMIND_TEST_TRAIN_PYTHON.

    Unset, the calling test is skipped, or failed when the CI variable is set. Call it from a
    session-scoped fixture: the autouse `clean_environ` removes LEXIMIND_* variables first.
    """
    value = os.environ.get(TRAIN_PYTHON_ENV, "").strip()
    if not value:
        reason = (
            f"{TRAIN_PYTHON_ENV} is not set; point it at the python of a venv made with "
            "`bash ops/training/make_venv.sh DEST` to run the LlamaFactory tests"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required because CI is set)", pytrace=False)
        pytest.skip(reason)
    python = Path(value)
    if not (python.parent / "llamafactory-cli").is_file():
        pytest.fail(f"{TRAIN_PYTHON_ENV}={value}: no llamafactory-cli beside it", pytrace=False)
    return python


def cpu_recipe(model_dir: Path, **overrides: Any) -> LoraRecipe:
    """A LoRA recipe for the tiny Llama on CPU: 20 steps of 2 examples, a loss every step.

    The learning rate is high because the model is random and the run short; the point is a
    real adapter, not a good one.
    """
    values: dict[str, Any] = {
        "model": str(model_dir),
        "template": TINY_TEMPLATE,
        "bf16": False,
        "use_cpu": True,
        "max_steps": 20,
        "batch_size": 2,
        "gradient_accumulation": 1,
        "learning_rate": 1e-3,
        "logging_steps": 1,
    }
    values.update(overrides)
    return LoraRecipe(**values)


_FAKE_HEADER = """\
import json, os, sys, time
from pathlib import Path
import yaml

assert sys.argv[1] == "train", sys.argv
config = yaml.safe_load(Path(sys.argv[2]).read_text())
out = Path(config["output_dir"])


def write_adapter():
    (out / "adapter_model.safetensors").write_bytes(b"weights")
    (out / "adapter_config.json").write_text(
        json.dumps({"r": config["lora_rank"], "target_modules": ["q_proj", "v_proj"]})
    )


def write_losses(losses, name="trainer_log.jsonl"):
    with open(out / name, "w") as log:
        for step, loss in enumerate(losses, start=1):
            log.write(json.dumps({"current_steps": step, "loss": loss}) + "\\n")
"""


def fake_cli(folder: Path, body: str) -> Path:
    """An executable `llamafactory-cli` stand-in: a Python script (run by this interpreter)
    that reads the YAML it is given and then runs `body`, with `config`, `out`,
    `write_adapter()` and `write_losses(list)` defined."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "llamafactory-cli"
    script = f"#!{sys.executable}\n{_FAKE_HEADER}\n{textwrap.dedent(body)}"
    path.write_text(script, encoding="utf-8")
    path.chmod(0o755)
    return path
