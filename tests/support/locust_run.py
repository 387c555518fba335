"""Run `ops/loadtest/locustfile.py` headless in a subprocess and read its CSV statistics.

Locust monkey-patches the standard library with gevent on import, so it never runs inside
the pytest or benchmark process.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = REPO_ROOT / "ops" / "loadtest" / "locustfile.py"


@dataclass(frozen=True, slots=True)
class RequestStats:
    """One row of Locust's `<prefix>_stats.csv`: a request name, or `Aggregated`.

    Percentiles are Locust's: from its histogram, which rounds response times above 100 ms
    to two significant digits.
    """

    name: str
    requests: int
    failures: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class LocustRun:
    """What one headless run left: its exit code, statistics by name and its output."""

    returncode: int
    stats: dict[str, RequestStats]
    output: str


def _number(text: str) -> float:
    return float(text) if text not in ("", "N/A") else math.nan


def read_stats(path: Path) -> dict[str, RequestStats]:
    """The rows of a `_stats.csv` by request name."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {
        row["Name"]: RequestStats(
            name=row["Name"],
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            requests_per_s=_number(row["Requests/s"]),
            p50_ms=_number(row["50%"]),
            p99_ms=_number(row["99%"]),
        )
        for row in rows
    }


def run_locust(
    host: str,
    *,
    users: int,
    rate_per_user: float,
    seconds: float,
    csv_prefix: Path,
    tags: Sequence[str] = (),
    options: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    reset_stats: bool = False,
) -> LocustRun:
    """`locust --headless` with `users` users spawned in one second, for `seconds`.

    `options` are the locustfile's own flags (`{"--expect-model": "m"}`); `reset_stats`
    drops what was measured while users were being spawned.
    """
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", host]
    command += ["--headless", "--only-summary", "--loglevel", "WARNING"]
    command += ["-u", str(users), "-r", str(users), "-t", f"{seconds:g}s"]
    command += ["--rate-per-user", f"{rate_per_user:g}", "--csv", str(csv_prefix)]
    if tags:
        command += ["--tags", *tags]
    if reset_stats:
        command.append("--reset-stats")
    for flag, value in (options or {}).items():
        command += [flag, value]
    csv_prefix.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        command,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    stats_csv = Path(f"{csv_prefix}_stats.csv")
    stats = read_stats(stats_csv) if stats_csv.exists() else {}
    return LocustRun(done.returncode, stats, done.stdout + done.stderr)
