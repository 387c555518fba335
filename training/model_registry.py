"""MLflow's model registry as Leximind's ModelRegistry: adapter versions, their status, aliases.

One registered model (default `leximind-adapter`) holds every adapter version. MLflow numbers
its versions 1, 2, ...; ours are named (`leximind-20261125T020000Z`), so each MLflow version
carries the tags `adapter_version`, `status`, `reason` and `dataset_version`. The aliases
`champion` (in service) and `challenger` (being evaluated) point at MLflow version numbers and
move with the status. Metrics come from the version's run. Versions registered by hand,
without an `adapter_version` tag, are not Leximind's and are ignored.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from training.errors import TrackingError
from training.ports import ModelVersion, VersionStatus
from training.tracking import ADAPTER_ARTIFACT, DATASET_TAG, VERSION_TAG, mlflow_errors

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion as MlflowVersion
    from mlflow.tracking import MlflowClient

_log = logging.getLogger(__name__)

STATUS_TAG = "status"
REASON_TAG = "reason"
_ALIASED = (VersionStatus.CHAMPION, VersionStatus.CHALLENGER)
_MAX_TAG_CHARS = 8000  # MLflow's limit for one tag value
# What the former holder of an alias becomes when another version takes it.
_DISPLACED = {
    VersionStatus.CHAMPION: VersionStatus.RETIRED,
    VersionStatus.CHALLENGER: VersionStatus.CANDIDATE,
}


class MlflowRegistry:
    """ModelRegistry on MLflow's registry; the registered model is created on first register.

    Status changes are several MLflow calls, not one transaction: a crash between them can
    leave a version's tag and the aliases disagreeing; the aliases are what `champion()` reads.
    """

    def __init__(self, client: MlflowClient, *, uri: str, model_name: str) -> None:
        if "'" in model_name or not model_name.strip():
            raise ValueError(f"invalid registered model name {model_name!r}")
        self._client = client
        self._uri = uri
        self._name = model_name

    def register(self, version: str, *, run_id: str, dataset_version: str) -> ModelVersion:
        """Registers the adapter of `run_id` as a CANDIDATE; registering the same version and
        run again returns it unchanged, the same version with another run is a TrackingError."""
        existing = self._find(version)
        if existing is not None:
            if existing.run_id != run_id:
                raise TrackingError(
                    f"adapter {version} is already registered, from run {existing.run_id}"
                )
            return self._to_model_version(existing)
        with mlflow_errors(self._uri, f"register {version}"):
            self._ensure_model()
            run = self._client.get_run(run_id)
            created = self._client.create_model_version(
                self._name,
                source=f"{run.info.artifact_uri}/{ADAPTER_ARTIFACT}",
                run_id=run_id,
                tags={
                    VERSION_TAG: version,
                    STATUS_TAG: VersionStatus.CANDIDATE.value,
                    DATASET_TAG: dataset_version,
                },
                description=f"LoRA adapter {version}, trained on dataset {dataset_version}",
            )
        _log.info("registered %s as %s version %s", version, self._name, created.version)
        return self._to_model_version(created)

    def get(self, version: str) -> ModelVersion:
        """Raises KeyError for an unknown version."""
        return self._to_model_version(self._require(version))

    def versions(self) -> list[ModelVersion]:
        """Every version, newest first."""
        found = sorted(
            self._all(),
            key=lambda mv: (mv.creation_timestamp, int(mv.version)),
            reverse=True,
        )
        return [self._to_model_version(mv) for mv in found]

    def set_status(self, version: str, status: VersionStatus, *, reason: str = "") -> None:
        """Tags `version` with `status` and `reason`; CHAMPION and CHALLENGER also take their
        alias, and the version that held it becomes RETIRED (a champion) or CANDIDATE (a
        challenger). Any other status drops the aliases `version` held. KeyError when unknown.
        """
        number = str(self._require(version).version)
        with mlflow_errors(self._uri, f"set {version} to {status.value}"):
            aliases = self._aliases()
            for held in _ALIASED:
                if held is not status and aliases.get(held.value) == number:
                    self._client.delete_registered_model_alias(self._name, held.value)
            if status in _ALIASED:
                holder = aliases.get(status.value)
                if holder is not None and holder != number:
                    self._tag(holder, _DISPLACED[status], f"{status.value} is now {version}")
                self._client.set_registered_model_alias(self._name, status.value, number)
            self._tag(number, status, reason)
        _log.info("%s is now %s%s", version, status.value, f": {reason}" if reason else "")

    def champion(self) -> ModelVersion | None:
        """The version the `champion` alias points at; None before any promotion."""
        with mlflow_errors(self._uri, "read the champion"):
            number = self._aliases().get(VersionStatus.CHAMPION.value)
            if number is None:
                return None
            found = self._client.get_model_version(self._name, number)
        return self._to_model_version(found)

    def _all(self) -> list[MlflowVersion]:
        with mlflow_errors(self._uri, f"list the versions of {self._name}"):
            found = self._client.search_model_versions(f"name = '{self._name}'")
        return [mv for mv in found if VERSION_TAG in (mv.tags or {})]

    def _find(self, version: str) -> MlflowVersion | None:
        return next((mv for mv in self._all() if mv.tags[VERSION_TAG] == version), None)

    def _require(self, version: str) -> MlflowVersion:
        found = self._find(version)
        if found is None:
            raise KeyError(f"no adapter version {version!r} in registered model {self._name}")
        return found

    def _aliases(self) -> dict[str, str]:
        from mlflow.exceptions import MlflowException

        try:
            model = self._client.get_registered_model(self._name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return {}
            raise
        return {alias: str(number) for alias, number in (model.aliases or {}).items()}

    def _ensure_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self._client.create_registered_model(
                self._name, description="LoRA adapters trained by Leximind's retraining loop"
            )
        except MlflowException as exc:  # the usual case: it exists already
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def _tag(self, number: str, status: VersionStatus, reason: str) -> None:
        self._client.set_model_version_tag(self._name, number, STATUS_TAG, status.value)
        self._client.set_model_version_tag(self._name, number, REASON_TAG, reason[:_MAX_TAG_CHARS])

    def _to_model_version(self, mv: MlflowVersion) -> ModelVersion:
        tags: dict[str, Any] = dict(mv.tags or {})
        try:
            status = VersionStatus(tags.get(STATUS_TAG, VersionStatus.CANDIDATE.value))
        except ValueError:
            raise TrackingError(
                f"{self._name} version {mv.version} has an unknown status {tags[STATUS_TAG]!r}"
            ) from None
        run_id = mv.run_id or ""
        return ModelVersion(
            version=tags[VERSION_TAG],
            run_id=run_id,
            status=status,
            created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(),
            dataset_version=tags.get(DATASET_TAG, ""),
            metrics=self._metrics(run_id),
            reason=tags.get(REASON_TAG, ""),
        )

    def _metrics(self, run_id: str) -> dict[str, float]:
        if not run_id:
            return {}
        with mlflow_errors(self._uri, f"read the metrics of run {run_id}"):
            return dict(self._client.get_run(run_id).data.metrics)
