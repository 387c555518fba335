"""Start `leximind serve` as a subprocess (its own process group) and stop it, for tests and
benchmarks that need the real server with its uvicorn workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import StoppedOnExit, signal_group
from tests.support.vllm_server import HOST, free_port, log_tail


class ServeStartError(RuntimeError):
    """`leximind serve` exited or did not answer /healthz before the deadline."""


@dataclass
class LeximindServer(StoppedOnExit):
    """A running `leximind serve`; stop it with `stop()` or by leaving a `with` block."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self, grace_s: float = 60.0) -> None:
        """SIGTERM the server's group (uvicorn drains), SIGKILL it after `grace_s`."""
        if self.process.poll() is not None:
            return
        signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=grace_s)
        signal_group(self.process.pid, signal.SIGKILL)  # workers that outlived the supervisor


def _ready(client: httpx.Client, server: LeximindServer, workers: int) -> bool:
    """/healthz answers 200 and every worker has logged the end of its start-up (one
    worker's answer alone would hide a second one still warming up)."""
    try:
        if client.get(f"{server.url}/healthz").status_code != 200:
            return False
    except httpx.TransportError:
        return False
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    return log.count("Application startup complete") >= workers


def start_leximind(
    env: Mapping[str, str], *, log_path: Path, workers: int = 1, deadline_s: float = 180.0
) -> LeximindServer:
    """`leximind serve --workers N` on a free loopback port with `env` (LEXIMIND_* settings)
    added to this process's environment; returns once /healthz answers 200.

    The app warms up the embedder and knowledge bases before it reports ready, so the first
    request measures nothing of start-up. Output goes to `log_path`.
    """
    port = free_port()
    command = [sys.executable, "-m", "ops.cli", "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LeximindServer(process, f"http://{HOST}:{port}", log_path)
    stop_at = time.monotonic() + deadline_s
    try:
        with httpx.Client(timeout=5.0) as client:
            while True:
                if process.poll() is not None:
                    raise ServeStartError(f"leximind serve exited:\n{log_tail(log_path)}")
                if _ready(client, server, workers):
                    return server
                if time.monotonic() > stop_at:
                    raise ServeStartError(f"leximind serve not ready:\n{log_tail(log_path)}")
                time.sleep(0.3)
    except BaseException:
        server.stop(grace_s=5.0)
        raise
