"""Bot webhooks under load: acknowledgement latency, exactly-once answers, time to the last.

    python -m benchmarks.bots [--github 200] [--slack 200] [--model-seconds 2]

`leximind serve` runs as a subprocess over the FastAPI docs, with a chat model that
takes `--model-seconds` per answer. One local fake plays the model server (OpenAI-compatible)
and the platforms' APIs, recording every message the bots post. Each platform contributes a
function that makes its signed requests (`PLATFORMS`); all are fired at once.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import resource
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from benchmarks.common import (
    BENCH_DIR,
    CORPORA,
    load_dev_set,
    percentile,
    services_at,
    start_serve,
    start_uvicorn,
    stop_serve,
)
from rag.sources import read_tree

KB = "fastapi-docs"
DOCS = CORPORA / "fastapi" / "docs" / "en" / "docs"
GITHUB_SECRET = "benchmark-webhook-secret"
GITHUB_TOKEN = "ghp_benchmark"
GITHUB_BOT = "leximind-bench"
MODEL = "fake-slow-model"
SLACK_SECRET = "benchmark-slack-signing-secret"
SLACK_TOKEN = "xoxb-benchmark"
SLACK_BOT_USER = "UBENCH"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """One platform request as the platform would send it, and the key of its answer."""

    platform: str
    path: str
    headers: dict[str, str]
    body: bytes
    answer_key: str


@dataclass
class Posted:
    """What the bots posted to the fake platform APIs, by answer key, with times."""

    at: dict[str, list[float]] = field(default_factory=dict)
    model_calls: list[float] = field(default_factory=list)  # when each call arrived
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str) -> None:
        with self.lock:
            self.at.setdefault(key, []).append(time.perf_counter())

    def snapshot(self) -> dict[str, list[float]]:
        with self.lock:
            return {k: list(v) for k, v in self.at.items()}


def fake_remote(posted: Posted, model_seconds: float) -> FastAPI:
    """The model server and the platform APIs the bots talk to."""
    app = FastAPI()
    ids = itertools.count(1)

    @app.get("/v1/models")
    async def models() -> dict[str, object]:
        return {"data": [{"id": MODEL}]}

    @app.post("/v1/chat/completions")
    async def complete() -> dict[str, object]:
        posted.model_calls.append(time.perf_counter())  # one event loop: no lock needed
        await asyncio.sleep(model_seconds)
        message = {"role": "assistant", "content": "Declare it as a parameter [1]."}
        return {"model": MODEL, "choices": [{"index": 0, "message": message}]}

    placeholders: dict[str, str] = {}  # Slack placeholder ts -> the answer key of its event
    slack_ts = itertools.count(1)

    @app.post("/slack/api/{method}")
    async def slack_api(method: str, request: Request) -> dict[str, object]:
        if method == "auth.test":
            return {"ok": True, "user_id": SLACK_BOT_USER, "bot_id": "BBENCH", "team_id": "T1"}
        body = await request.json()
        if method == "chat.postMessage":
            ts = f"1800000000.{next(slack_ts):06d}"
            placeholders[ts] = f"slack:{body['channel']}:{body.get('thread_ts')}"
            return {"ok": True, "channel": body["channel"], "ts": ts}
        if method == "chat.update":
            posted.add(placeholders[body["ts"]])
            return {"ok": True, "channel": body["channel"], "ts": body["ts"]}
        return {"ok": False, "error": "unknown_method"}

    @app.post("/repos/{owner}/{repo}/issues/{number}/comments")
    async def comment(owner: str, repo: str, number: int, request: Request) -> JSONResponse:
        body = (await request.json())["body"]
        posted.add(f"github:{owner}/{repo}#{number}")
        user = {"login": GITHUB_BOT, "id": 1, "type": "User"}
        data = {"id": next(ids), "body": body, "user": user}
        return JSONResponse(data, status_code=201)

    return app


def github_requests(n: int, questions: list[str]) -> list[SignedRequest]:
    """`issues` opened with the question label, each by another user, signed."""
    requests = []
    for i in range(n):
        number = i + 1
        payload = {
            "action": "opened",
            "repository": {"full_name": "bench/widgets"},
            "issue": {
                "number": number,
                "title": questions[i % len(questions)],
                "body": "",
                "labels": [{"name": "question"}],
                "user": {"login": f"user{i}", "id": 10_000 + i, "type": "User"},
            },
            "sender": {"login": f"user{i}", "id": 10_000 + i, "type": "User"},
        }
        body = json.dumps(payload).encode()
        digest = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": f"sha256={digest}",
        }
        requests.append(
            SignedRequest(
                "github", "/github/webhook", headers, body, f"github:bench/widgets#{number}"
            )
        )
    return requests


def github_env(remote: str) -> dict[str, str]:
    return {
        "LEXIMIND_GITHUB__WEBHOOK_SECRET": GITHUB_SECRET,
        "LEXIMIND_GITHUB__TOKEN": GITHUB_TOKEN,
        "LEXIMIND_GITHUB__BOT_LOGIN": GITHUB_BOT,
        "LEXIMIND_GITHUB__API_URL": remote,
        "LEXIMIND_GITHUB__RETRIES": "0",
        "LEXIMIND_GITHUB__SECONDS_BETWEEN_REQUESTS": "0",
        "LEXIMIND_GITHUB__SECONDS_BETWEEN_WRITES": "0",
    }


def slack_requests(n: int, questions: list[str]) -> list[SignedRequest]:
    """`app_mention` events from n users, signed as Slack signs them (v0 HMAC)."""
    requests = []
    for i in range(n):
        ts = f"1700000000.{i:06d}"
        event = {
            "type": "app_mention",
            "user": f"U{i:05d}",
            "text": f"<@{SLACK_BOT_USER}> {questions[i % len(questions)]}",
            "ts": ts,
            "channel": "CBENCH",
            "event_ts": ts,
        }
        payload = {"team_id": "T1", "type": "event_callback", "event_id": f"Ev{i:06d}"}
        body = json.dumps({**payload, "event": event}).encode()
        stamp = str(int(time.time()))
        basestring = f"v0:{stamp}:".encode() + body
        digest = hmac.new(SLACK_SECRET.encode(), basestring, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest}",
        }
        requests.append(
            SignedRequest("slack", "/slack/events", headers, body, f"slack:CBENCH:{ts}")
        )
    return requests


def slack_env(remote: str) -> dict[str, str]:
    return {
        "LEXIMIND_SLACK__BOT_TOKEN": SLACK_TOKEN,
        "LEXIMIND_SLACK__SIGNING_SECRET": SLACK_SECRET,
        "LEXIMIND_SLACK__API_URL": f"{remote}/slack/api/",
    }


@dataclass(frozen=True, slots=True)
class Platform:
    """A platform in the benchmark: its signed requests for n questions, and the settings
    `leximind serve` needs to answer it with the fake API at the given URL."""

    requests: Callable[[int, list[str]], list[SignedRequest]]
    env: Callable[[str], dict[str, str]]


PLATFORMS = {
    "github": Platform(github_requests, github_env),
    "slack": Platform(slack_requests, slack_env),
}


def start_remote(posted: Posted, model_seconds: float) -> tuple[uvicorn.Server, str]:
    return start_uvicorn(fake_remote(posted, model_seconds), backlog=4096)


def prepare_data() -> Path:
    """The indexed tutorial docs (kept between runs); bot state and answers start empty."""
    data = BENCH_DIR / "bots" / "data"
    for stale in ("bots", "objects", "spool"):
        shutil.rmtree(data / stale, ignore_errors=True)
    services = services_at(data)
    report = services.indexer.index(read_tree(DOCS, max_bytes=10**6), kb=KB, source=str(DOCS))
    print(
        f"knowledge base {KB}: {report.chunks_total} chunks ({report.chunks_embedded} embedded now)"
    )
    return data


def serve(data: Path, remote: str, platforms: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        "LEXIMIND_DATA_DIR": str(data),
        "LEXIMIND_DEFAULT_KB": KB,
        "LEXIMIND_EMBEDDING__CACHE_DIR": str(BENCH_DIR / "models"),
        "LEXIMIND_LLM__BASE_URL": f"{remote}/v1",
        "LEXIMIND_LLM__MODEL": MODEL,
    }
    for name in platforms:
        env.update(PLATFORMS[name].env(remote))
    return start_serve(env)


async def send(host: str, port: int, request: SignedRequest) -> int:
    """POSTs one request over a new connection and reads the status; a lean client, so that
    the figures measure the server rather than the load generator."""
    reader, writer = await asyncio.open_connection(host, port)
    head = [f"POST {request.path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in request.headers.items()]
    head.append(f"Content-Length: {len(request.body)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + request.body)
    await writer.drain()
    status = await reader.readline()
    writer.close()
    return int(status.split()[1])


async def fire(
    url: str, requests: list[SignedRequest]
) -> tuple[float, list[tuple[SignedRequest, int, float]]]:
    """Sends every request at once; returns the start time and (request, status, seconds)."""
    host, port = url.removeprefix("http://").split(":")

    async def one(r: SignedRequest) -> tuple[SignedRequest, int, float]:
        started = time.perf_counter()
        status = await send(host, int(port), r)
        return r, status, time.perf_counter() - started

    started = time.perf_counter()
    results = await asyncio.gather(*(one(r) for r in requests))
    return started, list(results)


def wait_for_answers(posted: Posted, keys: set[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not keys <= posted.snapshot().keys():
        time.sleep(0.05)
    time.sleep(2.0)  # anything posted twice would arrive about now


def report(started: float, results: list[tuple[SignedRequest, int, float]], posted: Posted) -> None:
    answers = posted.snapshot()
    for name in sorted({r.platform for r, _, _ in results}):
        mine = [(r, code, s) for r, code, s in results if r.platform == name]
        acks = [s for _, _, s in mine]
        codes = Counter(code for _, code, _ in mine)
        keys = [r.answer_key for r, _, _ in mine]
        once = sum(len(answers.get(k, [])) == 1 for k in keys)
        missing = sum(k not in answers for k in keys)
        twice = sum(len(answers.get(k, [])) > 1 for k in keys)
        print(
            f"{name}: {len(mine)} requests, HTTP {dict(sorted(codes.items()))}; acknowledgement "
            f"p50 {percentile(acks, 50) * 1000:.1f} ms, p99 {percentile(acks, 99) * 1000:.1f} ms, "
            f"max {max(acks) * 1000:.1f} ms"
        )
        print(f"{name}: answered exactly once {once}/{len(mine)}", end=" ")
        print(f"({missing} missing, {twice} more than once)")
    calls = sorted(t - started for t in posted.model_calls)
    if calls:
        # Calls reach the model once retrieval is done: their spread is the retrieval backlog.
        print(
            f"model calls arrived: first {calls[0]:.2f} s, median {calls[len(calls) // 2]:.2f} s,"
            f" last {calls[-1]:.2f} s after the first request"
        )
    last = max((t for times in answers.values() for t in times), default=started)
    print(f"all {len(results)}: from the first request to the last answer posted", end=" ")
    print(f"{last - started:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--github", type=int, default=200, help="GitHub webhooks to send")
    parser.add_argument("--slack", type=int, default=200, help="Slack events to send")
    parser.add_argument("--model-seconds", type=float, default=2.0, help="chat model delay")
    args = parser.parse_args()
    counts = {"github": args.github, "slack": args.slack}
    questions = [qa.question for qa in load_dev_set()]
    data = prepare_data()
    posted = Posted()
    remote, remote_url = start_remote(posted, args.model_seconds)
    platforms = [name for name, n in counts.items() if n > 0]
    proc, url = serve(data, remote_url, platforms)
    try:
        # Interleaved, so that no platform's requests queue behind all of another's.
        batches = [PLATFORMS[name].requests(counts[name], questions) for name in platforms]
        requests = [r for group in itertools.zip_longest(*batches) for r in group if r]
        started, results = asyncio.run(fire(url, requests))
        wait_for_answers(posted, {r.answer_key for r in requests}, seconds=120)
    finally:
        stop_serve(proc, timeout=90)
        remote.should_exit = True
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"leximind serve used {cpu.ru_utime + cpu.ru_stime:.1f} s of CPU, start-up included")
    print(
        f"chat model: {args.model_seconds:g} s per answer, called {len(posted.model_calls)} times;",
        end=" ",
    )
    print("GitHub write throttling off (fake API)")
    report(started, results, posted)


if __name__ == "__main__":
    main()
