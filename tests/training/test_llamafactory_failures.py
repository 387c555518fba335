"""The trainer runs the CLI it is given, streams its log, and fails every unusable run loudly.

These use small stand-ins for `llamafactory-cli` (tests/support/trainer.py), so they run
without the trainer venv; tests/training/test_llamafactory.py trains for real.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from tests.support.trainer import fake_cli
from training.build import DatasetVersion
from training.errors import TrainingFailed
from training.llamafactory import LlamaFactoryTrainer
from training.llamafactory_config import LoraRecipe
from training.ports import TrainingJob

RECIPE = LoraRecipe(model="/models/tiny", template="chatml", bf16=False, use_cpu=True)


def trainer(cli: Path, *, timeout: float = 60.0) -> LlamaFactoryTrainer:
    return LlamaFactoryTrainer(cli=cli, recipe=RECIPE, timeout=timeout)


def job(tmp_path: Path, dataset: DatasetVersion) -> TrainingJob:
    return TrainingJob("leximind-test", dataset.path, tmp_path / "adapters" / "leximind-test")


def test_successful_run_streams_the_log_and_returns_the_loss_curve(
    tmp_path: Path,
    small_dataset: DatasetVersion,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Output lines (progress bars split at carriage returns) reach the log file and our
    logger; the curve comes from trainer_state.json; no LEXIMIND_* variable reaches the child,
    and its datasets cache is removed afterwards."""
    monkeypatch.setenv("LEXIMIND_LLM__API_KEY", "a-secret-the-trainer-must-not-see")
    cli = fake_cli(
        tmp_path / "bin",
        """
        print("loading the tiny model", flush=True)
        sys.stdout.write(" 50%|#####     | 1/2 [00:01<00:01]\\r")
        sys.stdout.write("100%|##########| 2/2 [00:02<00:00]\\n")
        leaked = sorted(k for k in os.environ if k.startswith("LEXIMIND_"))
        print("leaked:", leaked, "cache:", os.environ["HF_DATASETS_CACHE"])
        Path(os.environ["HF_DATASETS_CACHE"]).mkdir()
        write_adapter()
        history = [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.0}]
        history.append({"step": 2, "train_loss": 2.2})
        (out / "trainer_state.json").write_text(json.dumps({"log_history": history}))
        """,
    )
    the_job = job(tmp_path, small_dataset)
    with caplog.at_level(logging.DEBUG, logger="training.llamafactory"):
        adapter = trainer(cli).train(the_job)
    assert adapter.losses == ((1, 2.5), (2, 2.0))
    assert adapter.adapter_dir == the_job.output_dir
    assert adapter.params["template"] == "chatml"
    log = (the_job.output_dir / "train.log").read_text().splitlines()
    assert "loading the tiny model" in log
    assert "100%|##########| 2/2 [00:02<00:00]" in log
    assert "leaked: []" in "\n".join(log)
    assert not (the_job.output_dir / ".hf-datasets-cache").exists()
    assert "llamafactory: loading the tiny model" in caplog.messages
    assert (the_job.output_dir / "llamafactory.yaml").is_file()


def test_non_zero_exit_fails_with_the_log_tail(
    tmp_path: Path, small_dataset: DatasetVersion
) -> None:
    """A crashed trainer is a failed run, and the message shows why it crashed."""
    cli = fake_cli(
        tmp_path / "bin",
        """
        print("Traceback (most recent call last):")
        print("ValueError: Cannot open the base model", flush=True)
        sys.exit(3)
        """,
    )
    with pytest.raises(TrainingFailed, match="exited with code 3") as failed:
        trainer(cli).train(job(tmp_path, small_dataset))
    assert "ValueError: Cannot open the base model" in str(failed.value)


def test_exit_zero_without_an_adapter_fails(tmp_path: Path, small_dataset: DatasetVersion) -> None:
    """A run that logged losses but saved no adapter is not a usable run."""
    cli = fake_cli(tmp_path / "bin", "write_losses([2.5, 2.0])")
    with pytest.raises(TrainingFailed, match=r"left no adapter: adapter_model\.safetensors"):
        trainer(cli).train(job(tmp_path, small_dataset))


@pytest.mark.parametrize("bad", ["NaN", "Infinity"])
def test_a_non_finite_loss_fails_the_run(
    tmp_path: Path, small_dataset: DatasetVersion, bad: str
) -> None:
    """A NaN or infinite loss in LlamaFactory's log fails the run even though an adapter
    was saved."""
    cli = fake_cli(
        tmp_path / "bin",
        f"""
        write_adapter()
        write_losses([2.5, float("{bad.lower()[:3]}"), 2.0])
        """,
    )
    with pytest.raises(TrainingFailed, match=f"loss became {bad.lower()[:3]} at step 2"):
        trainer(cli).train(job(tmp_path, small_dataset))


def test_a_run_past_its_timeout_is_stopped(tmp_path: Path, small_dataset: DatasetVersion) -> None:
    """A hanging trainer is killed (with anything it started) and the run fails."""
    cli = fake_cli(
        tmp_path / "bin",
        """
        (out / "pid").write_text(str(os.getpid()))
        print("training...", flush=True)
        time.sleep(120)
        """,
    )
    the_job = job(tmp_path, small_dataset)
    with pytest.raises(TrainingFailed, match="stopped: still running after 2 s"):
        trainer(cli, timeout=2).train(the_job)
    pid = int((the_job.output_dir / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_missing_cli_fails_before_anything_runs(
    tmp_path: Path, small_dataset: DatasetVersion
) -> None:
    """A trainer venv that is not there is named in the error."""
    the_job = job(tmp_path, small_dataset)
    with pytest.raises(TrainingFailed, match=r"no llamafactory-cli at .*make_venv\.sh"):
        trainer(tmp_path / "missing" / "llamafactory-cli").train(the_job)
    assert not the_job.output_dir.exists()


def test_an_adapter_folder_in_use_is_refused(tmp_path: Path, small_dataset: DatasetVersion) -> None:
    """An existing version's files are never overwritten."""
    cli = fake_cli(tmp_path / "bin", "write_adapter(); write_losses([1.0])")
    the_job = job(tmp_path, small_dataset)
    the_job.output_dir.mkdir(parents=True)
    (the_job.output_dir / "adapter_config.json").write_text("{}")
    with pytest.raises(TrainingFailed, match="not empty"):
        trainer(cli).train(the_job)
    assert (the_job.output_dir / "adapter_config.json").read_text() == "{}"


def test_a_folder_that_is_not_a_dataset_version_is_refused(tmp_path: Path) -> None:
    """Without dataset_info.json registering leximind_train there is nothing to train on."""
    cli = fake_cli(tmp_path / "bin", "write_adapter(); write_losses([1.0])")
    dataset = tmp_path / "not-a-dataset"
    dataset.mkdir()
    (dataset / "dataset_info.json").write_text(json.dumps({"other": {}}))
    the_job = TrainingJob("leximind-test", dataset, tmp_path / "out")
    with pytest.raises(TrainingFailed, match="does not register leximind_train"):
        trainer(cli).train(the_job)


def test_no_logged_loss_fails(tmp_path: Path, small_dataset: DatasetVersion) -> None:
    """A run whose loss was never logged cannot be shown to be sound."""
    cli = fake_cli(tmp_path / "bin", "write_adapter(); write_losses([])")
    with pytest.raises(TrainingFailed, match="no loss was logged"):
        trainer(cli).train(job(tmp_path, small_dataset))
