"""Start and stop a real Label Studio server (label-studio 1.23.2, its own venv) for tests.

What was measured with `label-studio==1.23.2` on our 2-core machines:

- Command: `label-studio start --no-browser --internal-host 127.0.0.1 --port P --data-dir D
  --username U --password W --user-token T --enable-legacy-api-token`. The user and its token
  exist before the server listens, so `Authorization: Token T` works as soon as /health does.
  A fresh data dir takes 35-80 s (database migrations: 36 s and 46 s on an idle machine, 75 s
  beside other test runs); the server is one Django `runserver` process that SIGTERM ends at
  once.
- Env: `LABEL_STUDIO_BASE_DATA_DIR` as well as `--data-dir` (importing its settings alone
  creates `~/.local/share/label-studio` otherwise), `LATEST_VERSION_CHECK=false` (else it asks
  PyPI for the latest version at start-up), `SENTRY_DSN=` and `FRONTEND_SENTRY_DSN=` (the
  defaults report errors to Label Studio's Sentry), `COLLECT_ANALYTICS=false`.
- `label-studio --version` is no harmless check: it initialises a database in the home folder
  and starts a server on 0.0.0.0:8080. A busy `--port` is silently replaced by the next free
  one, so the port is picked free just before the start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.processes import StoppedOnExit, signal_group
from tests.support.vllm_server import HOST, free_port, log_tail

_log = logging.getLogger(__name__)

LABEL_STUDIO_ENV = "LEXIMIND_TEST_LABEL_STUDIO"
DEFAULT_STARTUP_DEADLINE_S = 240.0


class LabelStudioStartError(RuntimeError):
    """Label Studio exited or did not become ready before the deadline."""


@dataclass
class LabelStudioServer(StoppedOnExit):
    """A running Label Studio; `token` is the legacy API token of its one user."""

    process: subprocess.Popen[bytes]
    port: int
    token: str
    username: str
    log_path: Path
    startup_s: float = 0.0
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def client(self) -> httpx.Client:
        """An httpx client authenticated as the server's user, for acting as a reviewer."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Token {self.token}"}, timeout=30.0
        )

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM the server's process group, SIGKILL it after `grace_s`; safe to repeat."""
        if self._stopped:
            return
        self._stopped = True
        signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=grace_s)


def label_studio_env(data_dir: Path) -> dict[str, str]:
    """The server's environment: its own data dir, no version check, no error reporting."""
    env = dict(os.environ)
    env.update(
        {
            "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
            "LATEST_VERSION_CHECK": "false",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "COLLECT_ANALYTICS": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def start_label_studio(
    executable: Path, work_dir: Path, *, deadline_s: float = DEFAULT_STARTUP_DEADLINE_S
) -> LabelStudioServer:
    """Start `executable` (a venv's `label-studio`) on a free loopback port; return when ready.

    Data and the log (`work_dir/label-studio-<port>.log`) go under `work_dir`. The server is
    stopped again, and the log tail shown, if it exits or is not ready within `deadline_s`.
    """
    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    token = secrets.token_hex(20)
    username = "reviewer@leximind.test"
    log_path = work_dir / f"label-studio-{port}.log"
    cmd = [
        str(executable),
        "start",
        "--no-browser",
        "--internal-host",
        HOST,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--username",
        username,
        # Hex, never a leading "-" that argparse would take for an option.
        f"--password={secrets.token_hex(16)}",
        "--user-token",
        token,
        "--enable-legacy-api-token",
    ]
    started = time.monotonic()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=label_studio_env(data_dir),
            cwd=work_dir,
            start_new_session=True,
        )
    server = LabelStudioServer(
        process=process, port=port, token=token, username=username, log_path=log_path
    )
    try:
        _wait_until_ready(server, deadline_s)
    except BaseException:
        server.stop(grace_s=5.0)
        raise
    server.startup_s = time.monotonic() - started
    _log.info(
        "Label Studio pid %d ready on %s after %.1f s", process.pid, server.url, server.startup_s
    )
    return server


def _wait_until_ready(server: LabelStudioServer, deadline_s: float) -> None:
    stop_at = time.monotonic() + deadline_s
    with server.client() as client:
        while True:
            code = server.process.poll()
            if code is not None:
                raise LabelStudioStartError(
                    f"Label Studio exited with code {code} during start-up; log tail:\n"
                    + log_tail(server.log_path)
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/api/projects", params={"page_size": 1}).status_code == 200:
                    return
            if time.monotonic() > stop_at:
                raise LabelStudioStartError(
                    f"Label Studio not ready after {deadline_s:.0f} s; log tail:\n"
                    + log_tail(server.log_path)
                )
            time.sleep(1.0)


def require_label_studio() -> Path:
    """The `label-studio` executable named by LEXIMIND_TEST_LABEL_STUDIO.

    Unset, the calling test is skipped, or failed when CI is set, so that CI cannot pass by
    skipping. Call it from a session fixture, before `clean_environ` removes LEXIMIND_* names.
    """
    value = os.environ.get(LABEL_STUDIO_ENV, "").strip()
    if not value:
        reason = (
            f"{LABEL_STUDIO_ENV} is not set; point it at the label-studio of a venv made with "
            "`bash ops/label_studio/make_venv.sh DEST` to run the Label Studio tests"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required because CI is set)", pytrace=False)
        pytest.skip(reason)
    executable = Path(value)
    if not executable.is_file():
        pytest.fail(f"{LABEL_STUDIO_ENV}={value} is not a file", pytrace=False)
    return executable
