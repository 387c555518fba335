"""The composition root builds the trainer and MLflow from settings; only MLflow imports mlflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from ops.settings import TrackingSettings, TrainingSettings
from ops.wiring import artifact_location, build_tracking, build_trainer, tracking_uri
from tests.conftest import REPO_ROOT


def test_default_tracking_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    """Unset, MLflow is an SQLite file and an artifact folder under DATA_DIR/mlflow."""
    tracking = TrackingSettings()
    uri = tracking_uri(tracking, data_dir=tmp_path)
    assert uri == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    assert (tmp_path / "mlflow").is_dir()
    expected = (tmp_path / "mlflow" / "artifacts").as_uri()
    assert artifact_location(tracking, data_dir=tmp_path) == expected


def test_a_server_keeps_its_own_artifact_store_unless_told(tmp_path: Path) -> None:
    """With a server URL the server's artifact default applies, or the configured location."""
    server = TrackingSettings(uri="http://mlflow.internal:5000")
    assert tracking_uri(server, data_dir=tmp_path) == "http://mlflow.internal:5000"
    assert artifact_location(server, data_dir=tmp_path) is None
    located = TrackingSettings(uri="http://mlflow.internal:5000", artifact_location="s3://b/a")
    assert artifact_location(located, data_dir=tmp_path) == "s3://b/a"
    assert not (tmp_path / "mlflow").exists()


def test_tracking_is_built_without_contacting_the_server(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building the tracker and registry sends no request; the first one goes to the
    configured server and asks for the configured model."""
    for name in ("TIMEOUT", "MAX_RETRIES", "BACKOFF_FACTOR"):  # set by the builder; restored
        monkeypatch.setenv(f"MLFLOW_HTTP_REQUEST_{name}", "")
    server = TrackingSettings(uri=httpserver.url_for("").rstrip("/"), registered_model="prod")
    _, registry = build_tracking(server, data_dir=tmp_path)
    assert httpserver.log == []
    httpserver.expect_request(
        "/api/2.0/mlflow/registered-models/get", query_string={"name": "prod"}
    ).respond_with_json({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "none"}, status=404)
    assert registry.champion() is None
    assert len(httpserver.log) == 1


def test_trainer_uses_the_configured_cli(tmp_path: Path) -> None:
    """The trainer runs the CLI of the settings, with their recipe and timeout."""
    training = TrainingSettings(cli=tmp_path / "llamafactory-cli", max_steps=5, timeout=60)
    trainer = build_trainer(training)
    assert trainer.recipe.max_steps == 5
    assert trainer.recipe.model == "meta-llama/Meta-Llama-3-8B-Instruct"


def test_serving_processes_do_not_import_mlflow() -> None:
    """The CLI, the API and the composition root load without mlflow (about a second)."""
    code = (
        "import sys, ops.cli, ops.api, ops.wiring, training.tracking, training.model_registry; "
        "sys.exit('mlflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, timeout=120).returncode == 0
