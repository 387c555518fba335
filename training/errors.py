"""Errors of the training-data pipeline.

LeximindError
 +-- TrainingError    root of everything training/ raises on purpose
      +-- DatasetError  an input that cannot be read or trusted, or a dataset that fails its checks

Messages name the file (or object key) and, where there is one, the line.
"""

from core.errors import LeximindError


class TrainingError(LeximindError):
    """Root of the errors of the training pipeline."""


class DatasetError(TrainingError, ValueError):
    """A dataset input is missing or malformed, or the built dataset failed a check."""
