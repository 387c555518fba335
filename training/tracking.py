"""MLflow as the experiment tracker: one run per training, with its adapter as an artifact.

Each run is named after the adapter version and holds the training parameters, the dataset
version and the sha256 of its manifest (as params and tags), the loss curve as the step metric
`loss`, evaluation metrics logged later, and the adapter files under the artifact path
`adapter/`. The adapter is also copied to the object store under `adapters/<version>/`.

mlflow is imported only when a client is built (importing it takes about a second), so
processes that never track, such as the API server, do not pay for it. The default store is
an SQLite file (`sqlite:///...`) with experiments created with an explicit artifact
location; production points `uri` at an MLflow server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import StoreUnavailable
from core.object_keys import ADAPTERS, adapter_key
from core.ports import ObjectStore
from training.errors import TrackingError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

_log = logging.getLogger(__name__)

ADAPTER_ARTIFACT = "adapter"
LOSS_METRIC = "loss"
VERSION_TAG = "adapter_version"
DATASET_TAG = "dataset_version"
MANIFEST_TAG = "dataset_manifest_sha256"
UPLOADED_TAG = "adapter_in_object_store"
_MAX_PARAM_CHARS = 6000  # MLflow's limit for one param value
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000


def mlflow_client(uri: str, *, timeout: float = 30.0, retries: int = 2) -> MlflowClient:
    """An MLflow client for `uri`, used for both tracking and the model registry.

    For a server, `timeout` (seconds per request) and `retries` bound every request: MLflow
    reads them only from its environment variables, so they are set in this process's
    environment (its defaults are 120 s and 7 retries with back-off, minutes per call).
    """
    if uri.startswith(("http://", "https://")):
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, round(timeout)))
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(retries)
        os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "1"
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def mlflow_errors(uri: str, what: str) -> Iterator[None]:
    """Translates MLflow's (and its file store's) errors into TrackingError naming `what`."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise TrackingError(f"MLflow at {uri} could not {what}: {exc.message}") from exc
    except OSError as exc:
        raise TrackingError(f"MLflow at {uri} could not {what}: {exc}") from exc


class MlflowTracker:
    """ExperimentTracker on MLflow; adapters are also uploaded to `object_store` when given.

    The experiment is created on first use with `artifact_location` (None: the server's
    default); an existing experiment keeps the location it was created with.
    """

    def __init__(
        self,
        client: MlflowClient,
        *,
        uri: str,
        experiment: str,
        artifact_location: str | None,
        object_store: ObjectStore | None = None,
    ) -> None:
        self._client = client
        self._uri = uri
        self._experiment = experiment
        self._artifact_location = artifact_location
        self._store = object_store
        self._experiment_id: str | None = None

    def start_run(
        self, version: str, *, params: Mapping[str, Any], dataset_version: str, manifest_sha256: str
    ) -> str:
        """Opens a run named `version`; the dataset goes in as params and as tags."""
        dataset = {DATASET_TAG: dataset_version, MANIFEST_TAG: manifest_sha256}
        with mlflow_errors(self._uri, f"start a run for {version}"):
            run = self._client.create_run(
                self._experiment_id_or_create(),
                run_name=version,
                tags={VERSION_TAG: version, **dataset},
            )
            run_id: str = run.info.run_id
            self._log_params(run_id, {**params, **dataset})
        _log.info("MLflow run %s started for %s", run_id, version)
        return run_id

    def log_losses(self, run_id: str, losses: tuple[tuple[int, float], ...]) -> None:
        """The loss curve as the metric `loss`, one value per logged training step."""
        from mlflow.entities import Metric

        now = _now_ms()
        metrics = [Metric(LOSS_METRIC, float(loss), now, int(step)) for step, loss in losses]
        with mlflow_errors(self._uri, f"log the losses of run {run_id}"):
            for batch in _batches(metrics, _METRICS_PER_BATCH):
                self._client.log_batch(run_id, metrics=batch)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], *, prefix: str = "") -> None:
        """Each metric under `prefix + name` (e.g. `champion/rougeL`)."""
        from mlflow.entities import Metric

        now = _now_ms()
        entries = [Metric(f"{prefix}{name}", float(v), now, 0) for name, v in metrics.items()]
        with mlflow_errors(self._uri, f"log metrics of run {run_id}"):
            for batch in _batches(entries, _METRICS_PER_BATCH):
                self._client.log_batch(run_id, metrics=batch)

    def log_adapter(self, run_id: str, adapter_dir: Path) -> None:
        """The adapter folder's files as the artifact `adapter/`, then in the object store.

        An object store that is down does not fail the run: the adapter is safe in MLflow and
        on disk, the failure is logged and the run tagged `adapter_in_object_store=false`.
        ValueError when `adapter_dir` holds no files.
        """
        files = sorted(p for p in adapter_dir.iterdir() if p.is_file() and p.name[0] != ".")
        if not files:
            raise ValueError(f"{adapter_dir} holds no adapter files")
        with mlflow_errors(self._uri, f"store the adapter of run {run_id}"):
            version = self._client.get_run(run_id).data.tags[VERSION_TAG]
            for path in files:
                self._client.log_artifact(run_id, str(path), ADAPTER_ARTIFACT)
        if self._store is None:
            return
        uploaded = self._upload(version, files)
        with mlflow_errors(self._uri, f"tag run {run_id}"):
            self._client.set_tag(run_id, UPLOADED_TAG, str(uploaded).lower())

    def end_run(self, run_id: str, *, failed: bool = False) -> None:
        """Marks the run FINISHED, or FAILED."""
        with mlflow_errors(self._uri, f"end run {run_id}"):
            self._client.set_terminated(run_id, "FAILED" if failed else "FINISHED")

    def _experiment_id_or_create(self) -> str:
        if self._experiment_id is None:
            self._experiment_id = self._find_or_create_experiment()
        return self._experiment_id

    def _find_or_create_experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        found = self._client.get_experiment_by_name(self._experiment)
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(
                self._client.create_experiment(
                    self._experiment, artifact_location=self._artifact_location
                )
            )
        except MlflowException as exc:  # another process may have created it just now
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        found = self._client.get_experiment_by_name(self._experiment)
        if found is None:
            raise TrackingError(f"MLflow at {self._uri} lost experiment {self._experiment}")
        return str(found.experiment_id)

    def _log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        entries = [Param(str(k), str(v)[:_MAX_PARAM_CHARS]) for k, v in params.items()]
        for batch in _batches(entries, _PARAMS_PER_BATCH):
            self._client.log_batch(run_id, params=batch)

    def _upload(self, version: str, files: Sequence[Path]) -> bool:
        assert self._store is not None
        try:
            for path in files:
                key = adapter_key(version, path.name)
                self._store.put(key, path.read_bytes(), content_type="application/octet-stream")
        except StoreUnavailable as exc:
            _log.error(
                "adapter %s is in MLflow but not in the object store, which failed: %s",
                version,
                exc,
            )
            return False
        _log.info("adapter %s uploaded to %s%s/", version, ADAPTERS, version)
        return True


def _now_ms() -> int:
    return int(time.time() * 1000)


def _batches(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
