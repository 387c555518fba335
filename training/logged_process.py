"""Running a long child process whose output is streamed, line by line, to a log and a callback.

tqdm progress bars redraw with carriage returns, so output is split on both '\\r' and '\\n':
each redraw becomes one line of the log file rather than one endless line.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

_LINE_BREAK = re.compile(r"[\r\n]")
_STOP_GRACE_S = 10.0
_CHUNK = 65536


def run_logged(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    timeout: float,
    on_line: Callable[[str], None],
) -> int:
    """Runs `command` to its end and returns its exit code.

    stdout and stderr go, as lines, to `log_path` (replaced) and to `on_line`. The child leads
    its own session; past `timeout` seconds, or if this thread is interrupted, its whole
    process group gets SIGTERM, then SIGKILL after a grace period, and TimeoutError (for the
    timeout) or the interruption is raised. OSError when the command cannot be started.
    """
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
        assert process.stdout is not None  # stdout=PIPE
        pump = threading.Thread(
            target=_pump, args=(process.stdout, log, on_line), name="child-log", daemon=True
        )
        pump.start()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(process)
            pump.join(timeout=_STOP_GRACE_S)
            raise TimeoutError(f"still running after {timeout:.0f} s") from None
        except BaseException:
            stop_group(process)
            raise
        pump.join()
    return code


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group led by `process`, SIGKILL if it is still alive after 10 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=_STOP_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _pump(stream: IO[bytes], log: IO[str], on_line: Callable[[str], None]) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while True:
        chunk = stream.read1(_CHUNK)  # type: ignore[attr-defined]
        text = pending + decoder.decode(chunk, final=not chunk)
        *lines, pending = _LINE_BREAK.split(text)
        if not chunk:
            lines.append(pending)
        for line in lines:
            if line.strip():
                log.write(line + "\n")
                on_line(line)
        log.flush()
        if not chunk:
            return


def log_tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file, or a note that it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
