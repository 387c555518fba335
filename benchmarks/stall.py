"""/ask latency while Redis and S3 accept connections and then never answer.

    python -m benchmarks.stall [--asks 200] [--backend-timeout 20]

Starts its own redis-server and SeaweedFS (`weed mini`) under .bench/stall, indexes a slice of
the FastAPI docs into S3, and runs `leximind serve` with both backends behind TCP proxies
(tests/support/stalling_proxy.py) and a fake model server, the rollout state and the catalog
due for a refresh every 0.2 s. It asks the same question `--asks` times with the backends
answering, then stalls both proxies (every byte swallowed, nothing answered, connections kept
open) and asks `--asks` times more, one question every 0.1 s, so every question falls in a new
refresh period. The Redis and S3 clients would wait `--backend-timeout` seconds each.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from contextlib import ExitStack

import httpx

from benchmarks.common import BENCH_DIR, percentile
from tests.support.redis_server import start_redis
from tests.support.seaweedfs import start_seaweedfs
from tests.support.stalled_stack import CHAMPION, QUESTION, serve_behind_stalling_proxies

PAUSE_S = 0.1  # between questions: half a refresh period


def _ask(client: httpx.Client, asks: int) -> tuple[list[float], int]:
    """Latencies of `asks` questions in seconds, and how many were not answered by CHAMPION."""
    latencies: list[float] = []
    wrong = 0
    for _ in range(asks):
        started = time.perf_counter()
        r = client.post("/ask", json={"question": QUESTION})
        latencies.append(time.perf_counter() - started)
        if r.status_code != 200 or r.json()["model"] != CHAMPION:
            wrong += 1
        time.sleep(PAUSE_S)
    return latencies, wrong


def _summary(latencies: list[float], wrong: int) -> dict[str, float | int]:
    return {
        "asks": len(latencies),
        "not_answered": wrong,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def run(asks: int, backend_timeout: float) -> dict[str, object]:
    work = BENCH_DIR / "stall"
    shutil.rmtree(work, ignore_errors=True)
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with ExitStack() as stack:
        redis = start_redis(redis_server, work / "redis")
        stack.callback(redis.stop)
        seaweedfs = stack.enter_context(start_seaweedfs(work / "s3"))
        served = stack.enter_context(
            serve_behind_stalling_proxies(
                work / "serve",
                redis=redis,
                seaweedfs=seaweedfs,
                model_cache=BENCH_DIR / "models",
                backend_timeout=backend_timeout,
            )
        )
        client = stack.enter_context(
            httpx.Client(base_url=served.server.url, timeout=backend_timeout * 3)
        )
        _ask(client, 5)  # warm: the first answers open connections
        healthy = _ask(client, asks)
        served.stall()
        stalled = _ask(client, asks)
        swallowed = {"redis_bytes": served.redis.swallowed, "s3_bytes": served.s3.swallowed}
    return {
        "backend_timeout_s": backend_timeout,
        "healthy": _summary(*healthy),
        "stalled": _summary(*stalled),
        "swallowed_while_stalled": swallowed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--asks", type=int, default=200)
    parser.add_argument("--backend-timeout", type=float, default=20.0)
    args = parser.parse_args()
    result = run(args.asks, args.backend_timeout)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
