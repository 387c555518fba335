"""Fixtures for the training tests: slices of the shared datasets, the tiny Llama, the trainer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.datasets import codeqa_slice, conala_slice
from tests.support.mlflow_store import MlflowStore, copy_store, migrated_database
from tests.support.trainer import require_train_python
from tests.support.vllm_server import tiny_llama_dir
from training.build import DatasetSpec, DatasetVersion, build_dataset


@pytest.fixture
def codeqa_dir(tmp_path: Path) -> Path:
    """Sixty examples each of CodeQA dev and test, in the shared layout."""
    return codeqa_slice(tmp_path / "codeqa")


@pytest.fixture
def conala_dir(tmp_path: Path) -> Path:
    """Forty records of each CoNaLa file."""
    return conala_slice(tmp_path / "conala")


@pytest.fixture(scope="session")
def train_cli() -> Path:
    """The trainer venv's llamafactory-cli; read at session scope, before env cleaning."""
    return require_train_python().parent / "llamafactory-cli"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama (the same build as the `tiny_llama` fixture), without needing vLLM."""
    return tiny_llama_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> DatasetVersion:
    """A dataset version built by the ETL from slices of CodeQA and CoNaLa (160 train)."""
    root = tmp_path_factory.mktemp("small-dataset")
    spec = DatasetSpec(
        out_dir=root / "datasets",
        codeqa_dir=codeqa_slice(root / "codeqa"),
        conala_dir=conala_slice(root / "conala"),
    )
    return build_dataset(spec, store=None, upload=False)


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty MLflow database, made once per session."""
    return migrated_database(tmp_path_factory.mktemp("mlflow-template"))


@pytest.fixture
def mlflow_store(mlflow_template: Path, tmp_path: Path) -> MlflowStore:
    """This test's own MLflow SQLite store, with artifacts in tmp_path/mlflow/artifacts."""
    return copy_store(mlflow_template, tmp_path / "mlflow")
