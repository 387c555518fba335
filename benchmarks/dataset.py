"""Training-data build speed and memory over all of CodeQA Python (dev + test) and CoNaLa.

    python -m benchmarks.dataset

Runs `leximind data build` as a user does (a fresh process, interpreter start-up included,
uploading to a scratch local object store) and reports records read per second and the
process's peak RSS; then the same build in-process, where only the ETL itself is timed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import SHARED_DATA
from training.build import DatasetSpec, build_dataset

CODEQA = SHARED_DATA / "codeqa" / "python"
CONALA = SHARED_DATA / "conala"
RUNS = 3


# Reports the peak RSS of its child. A child forked straight from this (large) process would
# count this process's pages too, so the measured command is started from a small one.
_MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)"
)


def measured(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds (start-up included), peak RSS in bytes and stdout of `command`."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak_kib * 1024, done.stdout


def cli_build(scratch: Path) -> tuple[list[float], int, dict[str, object]]:
    """Wall seconds of RUNS `leximind data build`s, their peak RSS in bytes, a manifest."""
    times, peaks, stdout = [], [], ""
    for n in range(RUNS):
        env = {**os.environ, "LEXIMIND_DATA_DIR": str(scratch / f"data-{n}")}
        command = [sys.executable, "-m", "ops.cli", "data", "build"]
        command += ["--codeqa", str(CODEQA), "--conala", str(CONALA)]
        command += ["--out", str(scratch / f"out-{n}"), "--json"]
        seconds, peak, stdout = measured(command, env)
        times.append(seconds)
        peaks.append(peak)
    return times, max(peaks), json.loads(stdout)


def etl_only_peak_rss(scratch: Path) -> int:
    """Peak RSS in bytes of a process that imports only training/ and builds once."""
    code = (
        "import sys; from pathlib import Path; from training.build import DatasetSpec, "
        "build_dataset; build_dataset(DatasetSpec(out_dir=Path(sys.argv[1]), "
        "codeqa_dir=Path(sys.argv[2]), conala_dir=Path(sys.argv[3])))"
    )
    command = [sys.executable, "-c", code, str(scratch / "etl-only"), str(CODEQA), str(CONALA)]
    return measured(command, dict(os.environ))[1]


def import_seconds() -> float:
    """Start-up cost: a fresh interpreter importing the CLI and what `data build` loads."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import ops.cli, ops.wiring, training.build"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def in_process(scratch: Path) -> list[float]:
    """Seconds of RUNS in-process builds, no upload."""
    times = []
    for n in range(RUNS):
        spec = DatasetSpec(
            out_dir=scratch / f"in-process-{n}", codeqa_dir=CODEQA, conala_dir=CONALA
        )
        started = time.perf_counter()
        build_dataset(spec)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="leximind-dataset-bench-") as tmp:
        scratch = Path(tmp)
        cli_times, peak, manifest = cli_build(scratch)
        etl_peak = etl_only_peak_rss(scratch)
        startup = import_seconds()
        times = in_process(scratch)
    totals = manifest["totals"]
    assert isinstance(totals, dict)
    read = int(totals["read"])
    print(f"inputs: {read} records read ({json.dumps(manifest['sources'])})")
    print(
        f"kept: {totals['train']} train + {totals['test']} test; "
        f"duplicates {totals['duplicates']}, dropped {totals['dropped']}"
    )
    seconds = statistics.median(cli_times)
    print(
        f"leximind data build (CLI, upload to a local store), median of {RUNS}: "
        f"{seconds:.2f} s wall, {read / seconds:,.0f} records/s, peak RSS {peak / 2**20:.0f} MiB"
    )
    print(f"  of which interpreter start-up and imports: {startup:.2f} s")
    print(
        f"peak RSS of a process importing only training/ and building: {etl_peak / 2**20:.0f} MiB"
    )
    median = statistics.median(times)
    print(
        f"build_dataset in-process, median of {RUNS}: {median:.2f} s, "
        f"{read / median:,.0f} records/s"
    )


if __name__ == "__main__":
    main()
