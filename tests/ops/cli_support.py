"""What the command-line tests of the model commands share: the environment and the runner."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ops.cli import app
from tests.support.fake_vllm import FakeVllm


def model_env(tmp_path: Path, server: FakeVllm, model_cache: Path) -> dict[str, str]:
    """Settings of a Leximind process on `tmp_path/data` answering through the fake vLLM."""
    return {
        "LEXIMIND_DATA_DIR": str(tmp_path / "data"),
        "LEXIMIND_EMBEDDING__CACHE_DIR": str(model_cache),
        "LEXIMIND_LLM__BASE_URL": server.base_url,
        "LEXIMIND_LLM__MODEL": "base-model",
    }


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Runs `leximind ARGS` in this process; returns the exit code and the output."""
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output
