"""Errors of the training pipeline: dataset builds, training runs and deployments.

LeximindError
 +-- TrainingError    root of everything training/ raises on purpose
      +-- DatasetError  an input that cannot be read or trusted, a dataset that fails its
                        checks, or a version that cannot be written
      +-- TrainingFailed  a run that must not be deployed (non-zero exit, no adapter, NaN)
      +-- DeploymentError an adapter the model server could not load or switch to
      +-- TrackingError   the experiment tracker or model registry (MLflow) failed a request

Messages name the file (or object key) and, where there is one, the line.
"""

from core.errors import LeximindError


class TrainingError(LeximindError):
    """Root of the errors of the training pipeline."""


class DatasetError(TrainingError, ValueError):
    """A dataset input is missing or malformed, the built dataset failed a check, or the
    version could not be written."""


class TrainingFailed(TrainingError):
    """A training run failed: the trainer exited non-zero, left no adapter, or its loss was NaN.

    Nothing from a failed run is deployed; the run is recorded as failed.
    """


class DeploymentError(TrainingError):
    """An adapter could not be loaded into, or switched on in, the model server."""


class TrackingError(TrainingError):
    """The experiment tracker or the model registry (MLflow) could not be reached or refused a
    request; the message names the tracking URI and what was being done."""
