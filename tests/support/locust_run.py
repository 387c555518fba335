"""Run `ops/loadtest/locustfile.py` headless in a subprocess and read its statistics.

Locust monkey-patches the standard library with gevent on import, so it never runs inside
the pytest or benchmark process.
"""

from __future__ import annotations

import json
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
    """What Locust recorded for one request name, from its end-of-run JSON (`--json-file`).

    Percentiles are nearest-rank over Locust's response-time histogram, which rounds times
    above 100 ms to two significant digits (and above 1,000 ms to three).
    """

    name: str
    requests: int
    failures: int
    p50_ms: float
    p99_ms: float
    completed_per_second: dict[int, int]

    def steady_rate(self, seconds: float, *, skip_s: int = 2) -> float:
        """Requests completed per second over whole seconds of the run, leaving out the first
        `skip_s` (users starting) and the last (stopping); the run lasted `seconds`."""
        if not self.completed_per_second:
            return 0.0
        first = min(self.completed_per_second)
        window = range(first + skip_s, first + math.floor(seconds) - 1)
        if len(window) < 1:
            raise ValueError(f"a {seconds:g} s run has no steady whole second to count")
        return sum(self.completed_per_second.get(t, 0) for t in window) / len(window)


@dataclass(frozen=True, slots=True)
class LocustRun:
    """What one headless run left: its exit code, statistics by name and its output."""

    returncode: int
    stats: dict[str, RequestStats]
    output: str


def histogram_percentile(histogram: Mapping[int, int], q: float) -> float:
    """The nearest-rank q-th percentile (0-100) of {milliseconds: count}."""
    total = sum(histogram.values())
    if total == 0:
        return math.nan
    rank = max(1, math.ceil(total * q / 100))
    seen = 0
    for ms in sorted(histogram):
        seen += histogram[ms]
        if seen >= rank:
            return float(ms)
    return float(max(histogram))


def read_stats(path: Path) -> dict[str, RequestStats]:
    """The entries of Locust's JSON statistics by request name."""
    found = {}
    for entry in json.loads(path.read_text(encoding="utf-8")):
        histogram = {int(ms): int(n) for ms, n in entry["response_times"].items()}
        found[entry["name"]] = RequestStats(
            name=entry["name"],
            requests=int(entry["num_requests"]),
            failures=int(entry["num_failures"]),
            p50_ms=histogram_percentile(histogram, 50),
            p99_ms=histogram_percentile(histogram, 99),
            completed_per_second={int(t): int(n) for t, n in entry["num_reqs_per_sec"].items()},
        )
    return found


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
    stop_timeout_s: float = 120.0,
) -> LocustRun:
    """`locust --headless` with `users` users spawned in one second, for `seconds`.

    Requests still in flight at the end are waited for (up to `stop_timeout_s`), so the
    statistics hold every request started in the run, however slow. `options` are the
    locustfile's own flags (`{"--expect-model": "m"}`). The CSV files stay beside the JSON.
    """
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", host]
    command += ["--headless", "--only-summary", "--loglevel", "WARNING"]
    command += ["-u", str(users), "-r", str(users), "-t", f"{seconds:g}s"]
    command += ["--rate-per-user", f"{rate_per_user:g}", "--csv", str(csv_prefix)]
    if tags:
        command += ["--tags", *tags]
    command += ["--stop-timeout", f"{stop_timeout_s:g}", "--json-file", str(csv_prefix)]
    for flag, value in (options or {}).items():
        command += [flag, value]
    csv_prefix.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        command,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=seconds + stop_timeout_s + 120,
        check=False,
    )
    stats_json = Path(f"{csv_prefix}.json")
    stats = read_stats(stats_json) if stats_json.exists() else {}
    return LocustRun(done.returncode, stats, done.stdout + done.stderr)
