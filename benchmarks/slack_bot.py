"""Slack under a burst: 200 signed `app_mention` events fired at once at `leximind serve`.

    python -m benchmarks.slack_bot [--events 200] [--model-seconds 2] [--workers 1]

A local fake plays the Slack Web API and an OpenAI-compatible chat model that takes
`--model-seconds` per answer. Reports p50/p99 time to the HTTP acknowledgement, whether every
event was answered exactly once (then the whole burst is redelivered as Slack retries, which
must be dropped), and the time from the first event until the last answer was posted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from aiohttp import web

from benchmarks.common import BENCH_DIR, REPO_ROOT, percentile, services_at
from benchmarks.latency import free_port
from rag.sources import read_tree

SECRET = "benchmark-signing-secret-0123456789"
TOKEN = "xoxb-benchmark-token"
BOT_USER = "UBOT"


class FakeSlackAndModel:
    """Slack's Web API and a slow chat model in one aiohttp app, in a process of its own
    (so neither its work nor the load generator's shares a core's time with the other)."""

    def __init__(self, model_seconds: float, port: int) -> None:
        self.model_seconds = model_seconds
        self.port = port
        self.placeholders: dict[str, list[str]] = {}  # question ts -> placeholder ts
        self.updates: Counter[str] = Counter()
        self.failed_texts: list[str] = []
        self.update_times: list[float] = []  # wall-clock times, comparable across processes
        self._ts = 1_800_000_000

    async def _slack(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body: dict[str, Any] = await request.json() if request.can_read_body else {}
        if method == "auth.test":
            return web.json_response({"ok": True, "user_id": BOT_USER, "bot_id": "BBOT"})
        if method == "chat.postMessage":
            self._ts += 1
            ts = f"{self._ts}.000100"
            self.placeholders.setdefault(str(body.get("thread_ts")), []).append(ts)
            return web.json_response({"ok": True, "ts": ts, "channel": body["channel"]})
        if method == "chat.update":
            self.updates[str(body["ts"])] += 1
            self.update_times.append(time.time())
            if not str(body.get("text", "")).startswith("Run `make test`"):
                self.failed_texts.append(str(body.get("text")))
            return web.json_response({"ok": True, "ts": body["ts"]})
        return web.json_response({"ok": False, "error": "unknown_method"})

    async def _stats(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "placeholders": self.placeholders,
                "updates": self.updates,
                "update_times": self.update_times,
                "failed": len(self.failed_texts),
            }
        )

    async def _complete(self, request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(self.model_seconds)
        message = {"role": "assistant", "content": "Run `make test` from the root [1]."}
        return web.json_response(
            {"id": "x", "model": "slow", "choices": [{"index": 0, "message": message}]}
        )

    async def serve(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._slack)
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_get("/v1/models", lambda _: web.json_response({"data": [{"id": "slow"}]}))
        app.router.add_get("/stats", self._stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, backlog=1024).start()
        await asyncio.Event().wait()


def run_fake(model_seconds: float, port: int) -> None:
    """The fake's process: serves until it is terminated."""
    asyncio.run(FakeSlackAndModel(model_seconds, port).serve())


def start_fake(model_seconds: float) -> tuple[multiprocessing.process.BaseProcess, str]:
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=run_fake, args=(model_seconds, port), daemon=True
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/stats", timeout=2).raise_for_status()
            return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the fake Slack did not start")


def index_docs(data: Path) -> None:
    """This repository's README and docs as the default knowledge base."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        shutil.copy(REPO_ROOT / "README.md", root / "README.md")
        shutil.copytree(REPO_ROOT / "docs", root / "docs")
        services = services_at(data)
        services.indexer.index(read_tree(root, max_bytes=1_000_000), kb="default", source="docs")


def serve(data: Path, base: str, *, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "LEXIMIND_DATA_DIR": str(data),
        "LEXIMIND_EMBEDDING__CACHE_DIR": str(BENCH_DIR / "models"),
        "LEXIMIND_LOG_LEVEL": "WARNING",
        "LEXIMIND_LLM__BASE_URL": f"{base}/v1",
        "LEXIMIND_LLM__MODEL": "slow",
        "LEXIMIND_RETRIEVAL__MIN_RELEVANCE": "0",  # always ask the model: each answer costs 2 s
        "LEXIMIND_BOTS__RATE_LIMIT": "0",
        "LEXIMIND_SLACK__BOT_TOKEN": TOKEN,
        "LEXIMIND_SLACK__SIGNING_SECRET": SECRET,
        "LEXIMIND_SLACK__API_URL": f"{base}/api/",
    }
    command = [sys.executable, "-m", "ops.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


def signed_event(n: int) -> tuple[str, bytes, dict[str, str]]:
    ts = f"1700000000.{n:06d}"
    event = {
        "type": "app_mention",
        "user": f"U{n:05d}",
        "text": f"<@{BOT_USER}> How do I run the tests? ({n})",
        "ts": ts,
        "channel": "CBENCH",
        "event_ts": ts,
    }
    body = json.dumps(
        {"team_id": "T1", "event": event, "type": "event_callback", "event_id": f"Ev{n:06d}"}
    )
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    return ts, body.encode(), headers


async def burst(url: str, events: list[int], *, retry: int = 0) -> list[float]:
    """Posts every event at once, each on its own connection as Slack's senders do; the
    seconds each took to be acknowledged."""
    requests = []
    for n in events:
        _, body, headers = signed_event(n)
        if retry:
            headers = {**headers, "X-Slack-Retry-Num": str(retry)}
        requests.append((body, headers))
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def one(body: bytes, headers: dict[str, str]) -> float:
            started = time.perf_counter()
            async with client.post(f"{url}/slack/events", data=body, headers=headers) as r:
                await r.read()
                elapsed = time.perf_counter() - started
                r.raise_for_status()
            return elapsed

        return list(await asyncio.gather(*(one(body, headers) for body, headers in requests)))


def wait_for(check: Any, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.05)


def stats(fake_url: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{fake_url}/stats", timeout=10).json()
    return found


def answered(fake_url: str) -> int:
    return sum(stats(fake_url)["updates"].values())


def run(events: int, model_seconds: float, workers: int) -> None:
    fake_process, fake_url = start_fake(model_seconds)
    data = Path(tempfile.mkdtemp(prefix="slack-bench-", dir=BENCH_DIR))
    index_docs(data)
    proc, url = serve(data, fake_url, workers=workers)
    try:
        # Warm-up: auth.test, the embedding session and the first model call happen once.
        asyncio.run(burst(url, [0]))
        wait_for(lambda: answered(fake_url) == 1)
        numbers = list(range(1, events + 1))
        started = time.time()
        acks = asyncio.run(burst(url, numbers))
        wait_for(lambda: answered(fake_url) >= events + 1)
        last_answer = max(stats(fake_url)["update_times"]) - started
        retries = asyncio.run(burst(url, numbers, retry=1))
        time.sleep(model_seconds + 1)  # a wrongly accepted retry would be answered by now
        final = stats(fake_url)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        fake_process.terminate()
        shutil.rmtree(data, ignore_errors=True)
    placeholders, updates = final["placeholders"], final["updates"]
    once = all(
        len(placeholders.get(signed_event(n)[0], [])) == 1
        and updates.get(placeholders[signed_event(n)[0]][0]) == 1
        for n in numbers
    )
    posted = sum(len(p) for p in placeholders.values()) - 1
    answers = sum(updates.values()) - 1
    p50, p99 = percentile(acks, 50) * 1000, percentile(acks, 99) * 1000
    print(f"{events} signed Slack events at once at `leximind serve --workers {workers}`,")
    print(f"  chat model {model_seconds:.1f} s per answer")
    print(f"ack: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(acks) * 1000:.1f} ms")
    print(f"each event answered exactly once: {once} ({posted} placeholders, {answers} answers,")
    print(f"  {final['failed']} of them apologies)")
    retried = max(retries) * 1000
    print(f"{len(retries)} retries of the same events acked (max {retried:.1f} ms); answers after")
    print(f"  the retries: {answers} (unchanged means every retry was dropped)")
    print(f"last answer posted {last_answer:.2f} s after the first event was sent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--model-seconds", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()
    BENCH_DIR.mkdir(exist_ok=True)
    run(args.events, args.model_seconds, args.workers)


if __name__ == "__main__":
    main()
