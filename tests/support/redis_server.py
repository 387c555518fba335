"""Start and stop a real `redis-server` (Debian package) for tests, on a free loopback port.

No persistence and no config file: `redis-server --port P --bind 127.0.0.1 --save ''
--appendonly no --dir D`. It answers PING within a few milliseconds of start.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
STARTUP_DEADLINE_S = 20.0
STOP_GRACE_S = 10.0


class RedisStartError(RuntimeError):
    """redis-server exited or did not answer PING before the deadline."""


@dataclass
class RedisServer:
    """A running redis-server process and where it listens."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def stop(self) -> None:
        """SIGTERM by PID, then SIGKILL if it has not exited within the grace period."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_GRACE_S)


def require_redis_server() -> str:
    """The redis-server executable; skips the calling test when it is missing (fails under CI)."""
    found = shutil.which("redis-server")
    if found:
        return found
    reason = "redis-server is not installed; `apt-get install redis-server` to run these tests"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required because CI is set)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(executable: str, work_dir: Path) -> RedisServer:
    """A redis-server on a free loopback port with `work_dir` as its folder, ready for use."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log_path = work_dir / "redis.log"
    args = [executable, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    args += ["--dir", str(work_dir), "--logfile", str(log_path)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    server = RedisServer(process=process, port=port, log_path=log_path)
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while not _answers_ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            log = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            raise RedisStartError(f"redis-server on port {port} did not start:\n{log}")
        time.sleep(0.05)
    return server
