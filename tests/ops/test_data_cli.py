"""`leximind data build` builds from flags or settings, uploads, and reports bad input plainly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.types import FeedbackLabel
from ops.cli import app
from tests.support.datasets import (
    CODEQA_LINES,
    CONALA_RECORDS,
    codeqa_slice,
    conala_slice,
    stored_interaction,
    stored_vote,
)

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("LEXIMIND_DATA_DIR", str(data))
    return data


@pytest.fixture
def codeqa_dir(tmp_path: Path) -> Path:
    return codeqa_slice(tmp_path / "codeqa")


@pytest.fixture
def conala_dir(tmp_path: Path) -> Path:
    return conala_slice(tmp_path / "conala")


def test_build_from_flags_prints_summary_and_uploads(
    data_dir: Path, tmp_path: Path, codeqa_dir: Path, conala_dir: Path
) -> None:
    """Flags name the inputs and output; the version is also copied to the data-dir store."""
    out = tmp_path / "out"
    args = ["data", "build", "--codeqa", str(codeqa_dir), "--conala", str(conala_dir)]
    result = runner.invoke(app, [*args, "--out", str(out)])

    assert result.exit_code == 0, result.output
    version = (out / "LATEST").read_text().strip()
    assert f"dataset {version}" in result.output
    assert f"codeqa │ {2 * CODEQA_LINES}" in result.output
    assert f"conala │ {2 * CONALA_RECORDS}" in result.output
    assert (data_dir / "objects" / "datasets" / version / "manifest.json").is_file()
    assert (data_dir / "objects" / "datasets" / "LATEST").read_text().strip() == version


def test_build_from_settings_with_feedback_as_json(
    data_dir: Path, conala_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no flags the settings choose inputs; --json prints the manifest."""
    from adapters.storage.local import LocalObjectStore

    store = LocalObjectStore(data_dir / "objects")
    stored_interaction(store, "i1")
    stored_vote(store, "i1", "u1", FeedbackLabel.POSITIVE)
    monkeypatch.setenv("LEXIMIND_DATASET__CONALA_DIR", str(conala_dir))
    monkeypatch.setenv("LEXIMIND_DATASET__INCLUDE_FEEDBACK", "true")
    monkeypatch.setenv("LEXIMIND_DATASET__SEED", "5")

    result = runner.invoke(app, ["data", "build", "--json", "--no-upload"])

    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert set(manifest["sources"]) == {"conala", "feedback"}
    assert manifest["seed"] == 5 and manifest["feedback"]["positive"] == 1
    assert (data_dir / "datasets" / manifest["version"] / "feedback_holdout.json").is_file()


def test_bad_input_exits_1_with_file_and_line(data_dir: Path, tmp_path: Path) -> None:
    """Malformed CoNaLa JSON and a missing folder are one-line errors, not tracebacks."""
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "conala-train.json").write_text('[\n{"intent": }\n]')
    malformed = runner.invoke(app, ["data", "build", "--conala", str(bad), "--no-upload"])
    assert malformed.exit_code == 1
    assert "conala-train.json:2: malformed JSON" in malformed.output
    nothing = runner.invoke(app, ["data", "build", "--no-upload"])
    assert nothing.exit_code == 1 and "no dataset source" in nothing.output
    assert "Traceback" not in malformed.output + nothing.output
    assert not (data_dir / "datasets").exists()


def test_feedback_flag_overrides_settings(data_dir: Path, conala_dir: Path) -> None:
    """--feedback adds the feedback source although the setting is off."""
    args = ["data", "build", "--conala", str(conala_dir), "--feedback", "--no-upload", "--json"]
    result = runner.invoke(app, args)

    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert manifest["sources"]["feedback"]["read"] == 0
    assert manifest["feedback"] == {}
