"""LoRA training on CPU: a 20-step LlamaFactory run of the tiny Llama, and recording it in MLflow.

    python -m benchmarks.training [--cli .venv-train/bin/llamafactory-cli]

Each run is what the retraining job does: a fresh `llamafactory-cli train` process (importing
LlamaFactory, loading the model, tokenising the dataset, training, saving the adapter),
timed from start to the verified adapter; LlamaFactory's own `train_runtime` is the training
loop alone. Then the run is recorded in a scratch MLflow SQLite store (params, the loss
curve, the adapter as an artifact and in a local object store). The dataset is built by the
ETL from the first 60 CodeQA and 40 CoNaLa records of each split (160 train examples).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from adapters.storage.local import LocalObjectStore
from benchmarks.common import REPO_ROOT
from tests.support.datasets import codeqa_slice, conala_slice
from tests.support.tiny_llama import build_tiny_llama
from tests.support.trainer import cpu_recipe
from training.build import DatasetSpec, DatasetVersion, build_dataset
from training.llamafactory import LlamaFactoryTrainer
from training.ports import TrainedAdapter, TrainingJob
from training.tracking import MlflowTracker, mlflow_client

RUNS = 3


def dataset(scratch: Path) -> DatasetVersion:
    spec = DatasetSpec(
        out_dir=scratch / "datasets",
        codeqa_dir=codeqa_slice(scratch / "codeqa"),
        conala_dir=conala_slice(scratch / "conala"),
    )
    return build_dataset(spec, store=None, upload=False)


def train(cli: Path, model: Path, data: DatasetVersion, out: Path) -> tuple[float, TrainedAdapter]:
    trainer = LlamaFactoryTrainer(cli=cli, recipe=cpu_recipe(model), timeout=1800)
    started = time.perf_counter()
    adapter = trainer.train(TrainingJob(out.name, data.path, out))
    return time.perf_counter() - started, adapter


def record(scratch: Path, adapter: TrainedAdapter, data: DatasetVersion) -> float:
    uri = f"sqlite:///{scratch / 'mlflow.db'}"
    tracker = MlflowTracker(
        mlflow_client(uri),
        uri=uri,
        experiment="bench",
        artifact_location=(scratch / "artifacts").as_uri(),
        object_store=LocalObjectStore(scratch / "objects"),
    )
    tracker.start_run("warm-up", params={}, dataset_version="-", manifest_sha256="-")
    started = time.perf_counter()
    run_id = tracker.start_run(
        adapter.version, params=adapter.params, dataset_version=data.version, manifest_sha256="-"
    )
    tracker.log_losses(run_id, adapter.losses)
    tracker.log_adapter(run_id, adapter.adapter_dir)
    tracker.end_run(run_id)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_cli = os.environ.get("LEXIMIND_TRAINING__CLI") or str(
        REPO_ROOT / ".venv-train" / "bin" / "llamafactory-cli"
    )
    parser.add_argument("--cli", type=Path, default=Path(default_cli))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="leximind-bench-train-") as tmp:
        scratch = Path(tmp)
        model = build_tiny_llama(scratch / "tiny-llama")
        data = dataset(scratch)
        walls, loops, rates = [], [], []
        for n in range(RUNS):
            wall, adapter = train(args.cli, model, data, scratch / f"adapter-{n}")
            result = json.loads((adapter.adapter_dir / "all_results.json").read_text())
            walls.append(wall)
            loops.append(float(result["train_runtime"]))
            rates.append(float(result["train_samples_per_second"]))
            print(
                f"run {n + 1}: {wall:.1f} s wall, {loops[-1]:.1f} s training loop, "
                f"{rates[-1]:.2f} samples/s, loss {adapter.losses[0][1]:.3f} -> "
                f"{adapter.losses[-1][1]:.3f}"
            )
        mlflow_s = record(scratch, adapter, data)
    print(f"\nLlamaFactory LoRA, tiny Llama, 20 steps x 2 examples on CPU ({os.cpu_count()} cores)")
    print(f"wall time per run (median of {RUNS}): {statistics.median(walls):.1f} s")
    print(f"training loop (median): {statistics.median(loops):.1f} s")
    print(f"samples/s in the loop (median): {statistics.median(rates):.2f}")
    print(f"recording the run in MLflow (params, losses, adapter): {mlflow_s:.2f} s")


if __name__ == "__main__":
    main()
