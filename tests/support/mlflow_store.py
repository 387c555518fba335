"""A real MLflow SQLite store per test, copied from one created (and migrated) per session.

Creating an MLflow database runs its migrations, about 3 s on our machines; copying a
migrated empty one takes milliseconds.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from training.tracking import mlflow_client


def migrated_database(folder: Path) -> Path:
    """An empty MLflow database in `folder`, with every table created."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mlflow.db"
    mlflow_client(f"sqlite:///{path}").search_experiments()
    return path


@dataclass(frozen=True)
class MlflowStore:
    """The URI of one test's MLflow database and its artifact root."""

    uri: str
    artifact_location: str


def copy_store(template: Path, folder: Path) -> MlflowStore:
    """A fresh store in `folder` made from the migrated `template` database."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "mlflow.db"
    shutil.copyfile(template, db)
    return MlflowStore(f"sqlite:///{db}", (folder / "artifacts").as_uri())
