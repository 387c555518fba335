"""Latency and memory of `leximind serve`: /search and /ask p50/p99 over 200 questions,
peak RSS, and hybrid search p50 on a synthetic 100,000-chunk store.

    python -m benchmarks.latency [--synthetic N]

The server answers extractively (no model), so /ask measures Leximind's own overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.common import (
    BENCH_DIR,
    CORPORA,
    SHARED_DATA,
    baseline_chunks,
    load_dev_set,
    percentile,
    services_at,
    start_serve,
    stop_serve,
)
from core.types import Chunk, ChunkKind
from ops.wiring import default_model_path
from rag.catalog import KnowledgeBase
from rag.embedding import SentenceTransformerEmbedder
from rag.retrieval import HybridRetriever
from rag.sources import SourceTree, read_tree
from rag.stores.lancedb import LanceDBStore

KB = "corpora"


def questions(n: int = 200) -> list[str]:
    """The dev questions, then CoNaLa test intents, n in all."""
    found = [qa.question for qa in load_dev_set()]
    conala = json.loads((SHARED_DATA / "conala" / "conala-test.json").read_text())
    found += [row["rewritten_intent"] or row["intent"] for row in conala]
    return found[:n]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    return start_serve(
        {
            "LEXIMIND_DATA_DIR": str(data),
            "LEXIMIND_DEFAULT_KB": KB,
            "LEXIMIND_EMBEDDING__CACHE_DIR": str(BENCH_DIR / "models"),
        }
    )


def timed(client: httpx.Client, path: str, qs: list[str]) -> list[float]:
    out = []
    for q in qs:
        started = time.perf_counter()
        r = client.post(path, json={"question": q})
        out.append(time.perf_counter() - started)
        r.raise_for_status()
    return out


async def concurrent_load(url: str, qs: list[str], *, in_flight: int = 20) -> None:
    """Throughput with `in_flight` requests at once: each question to /ask and /search."""
    limit = asyncio.Semaphore(in_flight)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(path: str, q: str) -> int:
            async with limit:
                return (await client.post(path, json={"question": q})).status_code

        started = time.perf_counter()
        codes = await asyncio.gather(*(one(p, q) for q in qs for p in ("/ask", "/search")))
        seconds = time.perf_counter() - started
    ok = sum(code == 200 for code in codes)
    print(
        f"{in_flight} requests in flight: {ok}/{len(codes)} answered 200, "
        f"{len(codes) / seconds:.1f} requests/s"
    )


def http_latency(data: Path, qs: list[str]) -> None:
    proc, url = serve(data)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            timed(client, "/search", qs[:10])
            search = timed(client, "/search", qs)
            ask = timed(client, "/ask", qs)
        asyncio.run(concurrent_load(url, qs))
        rss = peak_rss_mb(proc.pid)
    finally:
        stop_serve(proc)
    for name, values in (("/search", search), ("/ask (extractive)", ask)):
        print(
            f"{name:20} p50 {percentile(values, 50) * 1000:6.1f} ms"
            f"   p99 {percentile(values, 99) * 1000:6.1f} ms   over {len(values)} questions"
        )
    print(f"peak RSS of `leximind serve` (embedding model loaded): {rss:.0f} MB")


def baseline_latency(tree: SourceTree, where: Path, qs: list[str]) -> None:
    """In-process search latency of the two baselines over fixed 1,200-character chunks."""
    chunks = baseline_chunks(tree)
    torch_embedder = SentenceTransformerEmbedder(model_dir=default_model_path())
    vectors = torch_embedder.embed([c.text for c in chunks])
    store = LanceDBStore(where, dimension=vectors.shape[1])
    store.upsert(chunks, vectors)
    store.optimize()
    bm25, dense = [], []
    for q in qs:
        started = time.perf_counter()
        store.keyword_search("fixed", q, k=5)
        bm25.append(time.perf_counter() - started)
        started = time.perf_counter()
        query = torch_embedder.embed([q])[0]
        np.argsort(-(vectors @ query))[:5]
        dense.append(time.perf_counter() - started)
    for name, values in (("BM25, fixed chunks", bm25), ("dense torch, fixed chunks", dense)):
        print(
            f"baseline {name:26} p50 {percentile(values, 50) * 1000:6.1f} ms"
            f"   p99 {percentile(values, 99) * 1000:6.1f} ms   (in-process)"
        )


def synthetic(data: Path, n: int, qs: list[str]) -> None:
    """Hybrid search p50 on a store of n chunks with random vectors and corpus-like text."""
    services = services_at(data)
    words = " ".join(f.text for f in read_tree(CORPORA, max_bytes=10**6).files).split()
    rng = np.random.default_rng(7)
    batch = 10_000
    started = time.perf_counter()
    for start in range(0, n, batch):
        size = min(batch, n - start)
        vectors = rng.standard_normal((size, services.embedder.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        chunks = []
        for i in range(start, start + size):
            at = int(rng.integers(0, len(words) - 120))
            text = " ".join(words[at : at + 120])
            chunks.append(
                Chunk(
                    f"{i:032x}",
                    "synthetic",
                    f"f{i // 20}.md",
                    f"t{i}",
                    text,
                    1,
                    9,
                    "markdown",
                    ChunkKind.DOC,
                )
            )
        services.store.upsert(chunks, vectors)
    services.store.optimize()
    services.catalog.save(KnowledgeBase(name="synthetic", source="synthetic", root=""))
    count = services.store.count("synthetic")
    print(f"synthetic store: {count} chunks in {time.perf_counter() - started:.0f} s")
    retriever: HybridRetriever = services.retriever

    async def run() -> list[float]:
        await retriever.search(qs[0], kb="synthetic", k=5)
        out = []
        for q in qs:
            t = time.perf_counter()
            await retriever.search(q, kb="synthetic", k=5)
            out.append(time.perf_counter() - t)
        return out

    values = asyncio.run(run())
    print(
        f"hybrid search on {n:,} chunks: p50 {percentile(values, 50) * 1000:.1f} ms, "
        f"p99 {percentile(values, 99) * 1000:.1f} ms (in-process, {len(values)} questions)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=100_000)
    args = parser.parse_args()
    qs = questions()
    with tempfile.TemporaryDirectory(prefix="leximind-bench-") as scratch:
        data = Path(scratch) / "data"
        services = services_at(data)
        services.indexer.index(read_tree(CORPORA, max_bytes=10**6), kb=KB, source=str(CORPORA))
        print(f"index: {services.store.count(KB)} chunks of {CORPORA.name}/")
        http_latency(data, qs)
        baseline_latency(read_tree(CORPORA, max_bytes=10**6), Path(scratch) / "baseline", qs)
        if args.synthetic:
            synthetic(Path(scratch) / "synthetic", args.synthetic, qs)


if __name__ == "__main__":
    main()
