"""The MLflow tracker records one run per training in a real MLflow store, adapter included."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from adapters.storage.local import LocalObjectStore
from ops.settings import TrackingSettings
from ops.wiring import build_tracking
from tests.fakes import MemoryObjectStore
from tests.support.mlflow_store import MlflowStore
from tests.support.vllm_server import free_port
from training.errors import TrackingError
from training.tracking import MlflowTracker, mlflow_client

VERSION = "leximind-20261125T020000Z"


def tracker(store: MlflowStore, objects: MemoryObjectStore | None = None) -> MlflowTracker:
    return MlflowTracker(
        mlflow_client(store.uri),
        uri=store.uri,
        experiment="leximind-adapters",
        artifact_location=store.artifact_location,
        object_store=objects,
    )


def adapter_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text('{"r": 8}')
    (folder / "adapter_model.safetensors").write_bytes(b"\x00weights\xff")
    (folder / ".hidden-cache").mkdir()
    return folder


def start(t: MlflowTracker) -> str:
    return t.start_run(
        VERSION,
        params={"lora_rank": 8, "learning_rate": 5e-5, "template": "llama3"},
        dataset_version="20261124T000000Z-abc",
        manifest_sha256="f" * 64,
    )


def test_a_run_per_training_with_params_and_dataset(mlflow_store: MlflowStore) -> None:
    """The run is named after the version, in an experiment with the explicit artifact
    location, and holds the params and the dataset version and manifest hash."""
    t = tracker(mlflow_store)
    run_id = start(t)
    t.end_run(run_id)
    client = mlflow_client(mlflow_store.uri)
    run = client.get_run(run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "leximind-adapters"
    assert experiment.artifact_location == mlflow_store.artifact_location
    assert run.info.run_name == VERSION
    assert run.info.status == "FINISHED"
    assert run.data.params == {
        "lora_rank": "8",
        "learning_rate": "5e-05",
        "template": "llama3",
        "dataset_version": "20261124T000000Z-abc",
        "dataset_manifest_sha256": "f" * 64,
    }
    assert run.data.tags["adapter_version"] == VERSION
    assert run.data.tags["dataset_version"] == "20261124T000000Z-abc"


def test_a_failed_run_is_marked_failed(mlflow_store: MlflowStore) -> None:
    """end_run(failed=True) leaves the run FAILED."""
    t = tracker(mlflow_store)
    run_id = start(t)
    t.end_run(run_id, failed=True)
    assert mlflow_client(mlflow_store.uri).get_run(run_id).info.status == "FAILED"


def test_loss_curve_and_metrics(mlflow_store: MlflowStore) -> None:
    """Losses are a step metric (long curves in several batches, NaN kept as NaN);
    evaluation metrics go under their prefix."""
    t = tracker(mlflow_store)
    run_id = start(t)
    losses = (*((step, 3.0 - step / 1000) for step in range(1, 1501)), (1501, math.nan))
    t.log_losses(run_id, losses)
    t.log_metrics(run_id, {"rougeL": 0.41, "bleu4": 0.12})
    t.log_metrics(run_id, {"rougeL": 0.39}, prefix="champion/")
    client = mlflow_client(mlflow_store.uri)
    history = sorted(client.get_metric_history(run_id, "loss"), key=lambda m: m.step)
    assert [m.step for m in history] == list(range(1, 1502))
    assert history[0].value == pytest.approx(2.999)
    assert math.isnan(history[-1].value)
    metrics = client.get_run(run_id).data.metrics
    assert (metrics["rougeL"], metrics["bleu4"], metrics["champion/rougeL"]) == (0.41, 0.12, 0.39)


def test_adapter_is_an_artifact_and_in_the_object_store(
    mlflow_store: MlflowStore, tmp_path: Path
) -> None:
    """The adapter's files (not hidden folders) are the run's `adapter/` artifact and are
    copied to adapters/<version>/ in the object store."""
    objects = MemoryObjectStore()
    t = tracker(mlflow_store, objects)
    run_id = start(t)
    t.log_adapter(run_id, adapter_folder(tmp_path))
    client = mlflow_client(mlflow_store.uri)
    artifacts = {a.path for a in client.list_artifacts(run_id, "adapter")}
    assert artifacts == {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"}
    assert objects.objects == {
        f"adapters/{VERSION}/adapter_config.json": b'{"r": 8}',
        f"adapters/{VERSION}/adapter_model.safetensors": b"\x00weights\xff",
    }
    assert client.get_run(run_id).data.tags["adapter_in_object_store"] == "true"
    downloaded = Path(client.download_artifacts(run_id, "adapter", str(tmp_path / "back")))
    assert (downloaded / "adapter_model.safetensors").read_bytes() == b"\x00weights\xff"


def test_object_store_down_keeps_the_adapter_in_mlflow(
    mlflow_store: MlflowStore, tmp_path: Path
) -> None:
    """With the object store down the run still gets its artifact, and says it is not
    in the store."""
    objects = MemoryObjectStore()
    objects.down = True
    t = tracker(mlflow_store, objects)
    run_id = start(t)
    t.log_adapter(run_id, adapter_folder(tmp_path))
    client = mlflow_client(mlflow_store.uri)
    assert len(client.list_artifacts(run_id, "adapter")) == 2
    assert client.get_run(run_id).data.tags["adapter_in_object_store"] == "false"


def test_an_empty_adapter_folder_is_refused(mlflow_store: MlflowStore, tmp_path: Path) -> None:
    """There is nothing to store from a folder without files."""
    t = tracker(mlflow_store)
    run_id = start(t)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no adapter files"):
        t.log_adapter(run_id, tmp_path / "empty")


def test_two_trackers_share_the_experiment(mlflow_store: MlflowStore) -> None:
    """A second process's tracker finds the experiment instead of creating another."""
    first, second = start(tracker(mlflow_store)), start(tracker(mlflow_store))
    client = mlflow_client(mlflow_store.uri)
    assert client.get_run(first).info.experiment_id == client.get_run(second).info.experiment_id


def test_unknown_run_is_a_tracking_error(mlflow_store: MlflowStore) -> None:
    """MLflow's refusal is translated, naming the store and what was attempted."""
    with pytest.raises(TrackingError, match=r"could not end run 0123456789abcdef"):
        tracker(mlflow_store).end_run("0123456789abcdef")


def test_unreachable_server_is_a_tracking_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """An MLflow server that is down fails the call, bounded by the timeout and retries."""
    for name in ("TIMEOUT", "MAX_RETRIES", "BACKOFF_FACTOR"):
        monkeypatch.setenv(f"MLFLOW_HTTP_REQUEST_{name}", "")  # restored after the test
    uri = f"http://127.0.0.1:{free_port()}"
    t = MlflowTracker(
        mlflow_client(uri, timeout=2, retries=0),
        uri=uri,
        experiment="leximind-adapters",
        artifact_location=None,
    )
    with pytest.raises(TrackingError, match=f"MLflow at {uri} could not start a run"):
        start(t)


def test_default_settings_keep_runs_and_adapters_in_the_data_dir(
    mlflow_template: Path, tmp_path: Path
) -> None:
    """Built from default settings, the tracker writes its database and the adapter artifact
    under DATA_DIR/mlflow, and the adapter to the local object store."""
    (tmp_path / "mlflow").mkdir()
    shutil.copyfile(mlflow_template, tmp_path / "mlflow" / "mlflow.db")
    objects = LocalObjectStore(tmp_path / "objects")
    t, registry = build_tracking(TrackingSettings(), data_dir=tmp_path, object_store=objects)
    run_id = start(t)
    t.log_adapter(run_id, adapter_folder(tmp_path))
    registry.register(VERSION, run_id=run_id, dataset_version="ds")
    weights = list((tmp_path / "mlflow" / "artifacts").rglob("adapter_model.safetensors"))
    assert len(weights) == 1 and weights[0].read_bytes() == b"\x00weights\xff"
    stored = tmp_path / "objects" / "adapters" / VERSION / "adapter_model.safetensors"
    assert stored.read_bytes() == b"\x00weights\xff"
    assert [v.version for v in registry.versions()] == [VERSION]
