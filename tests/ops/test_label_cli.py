"""`leximind label export|import` print summaries, and one-line errors instead of tracebacks."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.storage.local import LocalObjectStore
from core.types import FeedbackLabel
from ops.cli import app
from ops.settings import Settings
from ops.wiring import Role, lifecycle
from tests.support.label_studio import LabelStudioServer
from tests.support.review import annotate, interaction, store_feedback, store_interaction
from tests.support.vllm_server import free_port
from tests.training.review.test_loop import MemoryReviewBoard, corrected
from training.review.board import LabelStudioBoard

runner = CliRunner()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalObjectStore:
    monkeypatch.setenv("LEXIMIND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    store = LocalObjectStore(tmp_path / "data" / "objects")
    store_interaction(store, interaction("cli1"))
    store_feedback(store, "cli1", "u1", FeedbackLabel.NEGATIVE)
    return store


@pytest.mark.label_studio
def test_export_then_import_summaries(
    label_studio: LabelStudioServer, data: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Export and import report what they did, and a re-run reports nothing new."""
    monkeypatch.setenv("LEXIMIND_LABEL_STUDIO__URL", label_studio.url)
    monkeypatch.setenv("LEXIMIND_LABEL_STUDIO__TOKEN", label_studio.token)
    monkeypatch.setenv("LEXIMIND_LABEL_STUDIO__PROJECT", "cli review")

    exported = runner.invoke(app, ["label", "export"])
    assert exported.exit_code == 0, exported.output
    assert exported.output.startswith("exported 1, already there 0")
    assert runner.invoke(app, ["label", "export"]).output.startswith("exported 0, already there 1")

    with label_studio.client() as reviewer:
        projects = reviewer.get("/api/projects", params={"title": "cli review"}).json()
        project_id = projects["results"][0]["id"]
        tasks = reviewer.get("/api/tasks", params={"project": project_id}).json()["tasks"]
        annotate(reviewer, tasks[0]["id"], corrected="Add the middleware.")

    imported = runner.invoke(app, ["label", "import"])
    assert imported.exit_code == 0, imported.output
    # stdout alone: exporting the embedding model on first use shows progress on stderr.
    assert imported.stdout.startswith("imported 1, unchanged 0")
    assert runner.invoke(app, ["label", "import"]).stdout.startswith("imported 0, unchanged 1")
    assert json.loads(data.get("corrections/cli1.json"))["answer"] == "Add the middleware."


def test_not_configured_and_unreachable(
    data: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No URL set, or nothing listening there: exit 1 with a one-line message."""
    missing = runner.invoke(app, ["label", "export"])
    assert missing.exit_code == 1
    assert "Label Studio is not configured: set LEXIMIND_LABEL_STUDIO__URL" in missing.output

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("LEXIMIND_LABEL_STUDIO__URL", url)
    monkeypatch.setenv("LEXIMIND_LABEL_STUDIO__TOKEN", "t" * 40)
    down = runner.invoke(app, ["label", "import"])
    assert down.exit_code == 1 and f"cannot reach Label Studio at {url}" in down.output
    assert "Traceback" not in down.output


def test_invalid_settings_are_one_line(
    data: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL without a token is refused before anything is contacted."""
    monkeypatch.setenv("LEXIMIND_LABEL_STUDIO__URL", "http://127.0.0.1:9")
    result = runner.invoke(app, ["label", "export"])
    assert result.exit_code == 1 and "LEXIMIND_LABEL_STUDIO__TOKEN is required" in result.output


def test_import_settles_the_memory_on_services_opened_once(
    data: LocalObjectStore, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the answer memory on, `label import` stores the corrections and settles the
    memory from them on one opening of the services."""
    monkeypatch.setenv("LEXIMIND_EMBEDDING__CACHE_DIR", str(model_cache))
    monkeypatch.setenv("LEXIMIND_LABEL_STUDIO__URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LEXIMIND_LABEL_STUDIO__TOKEN", "t" * 40)
    board = MemoryReviewBoard()
    board.scripted = [corrected("cli1", "Add CORSMiddleware to the app.", "2026-11-25T10:00:00Z")]
    monkeypatch.setattr("ops.wiring.build_label_studio", lambda _: contextlib.nullcontext())
    monkeypatch.setattr(LabelStudioBoard, "open", lambda client, project: board)
    roles: list[str] = []
    real_open = lifecycle.open_services

    def counted(settings: Settings, role: Role, **kwargs: Any) -> Any:
        roles.append(role)
        return real_open(settings, role, **kwargs)

    monkeypatch.setattr(lifecycle, "open_services", counted)
    result = runner.invoke(app, ["label", "import"])
    assert result.exit_code == 0, result.output
    assert "imported 1, unchanged 0" in result.output
    assert "answer memory: remembered 1," in result.output
    assert roles == ["cli"]
