"""Indexing speed: full index of the corpora, an unchanged re-run, and a one-file re-index.

    python -m benchmarks.indexing
    python -m benchmarks.indexing --repo [--slice N] [--commits C1,C2] [--rounds R]

`--repo` instead indexes the whole FastAPI repository with older commits' code and this
checkout side by side in one run, then times embedder variants (benchmarks.indexing_compare).

The one-file re-index is timed in-process and as the `leximind index` command (a new
process: interpreter start-up and imports included), median of 5 runs each. Also measures
the embedder alone on the same passages against sentence-transformers on torch
(the original prototype's embedder). The corpora are copied to a scratch folder first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import BENCH_DIR, CORPORA, baseline_chunks, services_at
from ops.wiring import Services, default_model_path
from rag.chunking import chunk_file
from rag.embedding import SentenceTransformerEmbedder
from rag.indexer import embedding_text
from rag.ports import Embedder
from rag.sources import SourceTree, read_tree
from rag.stores.lancedb import LanceDBStore

KB = "corpora"
CHANGED = "fastapi/docs/en/docs/tutorial/cors.md"


RUNS = 5


def leximind_command() -> list[str]:
    """The `leximind` script of this environment, or the module it runs."""
    script = Path(sys.executable).with_name("leximind")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ops.cli"]


def cli_seconds(args: list[str], data: Path) -> float:
    """Wall time of one `leximind` process as a user runs it, interpreter start-up included."""
    env = {
        **os.environ,
        "LEXIMIND_DATA_DIR": str(data),
        "LEXIMIND_EMBEDDING__CACHE_DIR": str(BENCH_DIR / "models"),
    }
    started = time.perf_counter()
    subprocess.run([*leximind_command(), *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def one_file_changes(services: Services, copy: Path, data: Path, full_seconds: float) -> None:
    """Median in-process and `leximind index` times of a re-index after one file changed."""
    page = copy / CHANGED
    in_process, embedded, wall = [], [], []
    for run in range(RUNS):
        page.write_text(page.read_text() + f"\n\n## Note {run}\n\nA paragraph for the benchmark.\n")
        one = services.indexer.index(read_tree(copy, max_bytes=10**6), kb=KB, source=str(copy))
        in_process.append(one.seconds)
        embedded.append(one.chunks_embedded)
        page.write_text(page.read_text() + f"\nAnd line {run} more.\n")
        wall.append(cli_seconds(["index", str(copy), "--kb", KB], data))
    fast, slow = statistics.median(in_process), statistics.median(wall)
    print(
        f"one file changed, median of {RUNS}: {fast:.2f} s in-process "
        f"({max(embedded)} embedded at most), {full_seconds / fast:.0f}x faster than full"
    )
    print(
        f"  `leximind index` wall time incl. start-up: {slow:.2f} s "
        f"(runs {', '.join(f'{w:.2f}' for w in wall)}), {full_seconds / slow:.0f}x faster than full"
    )
    helps = [cli_seconds(["--help"], data) for _ in range(RUNS)]
    print(f"  `leximind --help` wall time: {statistics.median(helps):.2f} s (median of {RUNS})")


def embedder_throughput(embedder: Embedder, texts: list[str]) -> None:
    embed = embedder.embed
    embed(texts[:64])
    started = time.perf_counter()
    embed(texts)
    onnx_rate = len(texts) / (time.perf_counter() - started)
    torch_embedder = SentenceTransformerEmbedder(model_dir=default_model_path())
    torch_embedder.embed(texts[:64])
    started = time.perf_counter()
    torch_embedder.embed(texts)
    torch_rate = len(texts) / (time.perf_counter() - started)
    print(f"embedder alone on {len(texts)} passages:")
    print(f"  int8 ONNX (Leximind)          {onnx_rate:7.1f} passages/s")
    print(f"  sentence-transformers, torch  {torch_rate:7.1f} passages/s")
    print(f"  speed-up                      {onnx_rate / torch_rate:7.2f}x")


def baseline_index(tree: SourceTree, where: Path) -> None:
    """Full index time of the baselines: fixed chunks, BM25 only or torch MiniLM vectors."""
    chunks = baseline_chunks(tree)
    torch_embedder = SentenceTransformerEmbedder(model_dir=default_model_path())
    torch_embedder.embed(["warm up"])
    started = time.perf_counter()
    vectors = torch_embedder.embed([c.text for c in chunks])
    store = LanceDBStore(where, dimension=vectors.shape[1])
    store.upsert(chunks, vectors)
    store.optimize()
    seconds = time.perf_counter() - started
    print(
        f"baseline dense (fixed 1,200-char chunks, torch MiniLM): {len(chunks)} chunks "
        f"in {seconds:.1f} s, {len(chunks) / seconds:.1f} passages/s"
    )
    started = time.perf_counter()
    bm25 = LanceDBStore(where.with_name("bm25"), dimension=1)
    bm25.upsert(chunks, np.zeros((len(chunks), 1), dtype=np.float32))
    bm25.optimize()
    print(f"baseline BM25 (fixed chunks, no embedding): {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.indexing")
    parser.add_argument("--repo", action="store_true", help="whole-repository comparison")
    parser.add_argument("--commits", default="40d5ca4", help="older code, comma-separated")
    parser.add_argument("--slice", type=int, default=1, help="index one file in N")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds")
    parser.add_argument("--variant-rounds", type=int, default=3, help="embedder variants (0: none)")
    parser.add_argument("--sample", type=int, default=400, help="passages per variant")
    args = parser.parse_args()
    if args.repo:
        from benchmarks import indexing_compare

        indexing_compare.main(
            commits=args.commits.split(","),
            every=args.slice,
            rounds=args.rounds,
            variant_rounds=args.variant_rounds,
            sample=args.sample,
        )
        return
    corpus_benchmark()


def corpus_benchmark() -> None:
    with tempfile.TemporaryDirectory(prefix="leximind-bench-") as scratch:
        copy = Path(scratch) / "corpora"
        shutil.copytree(CORPORA, copy)
        data = Path(scratch) / "data"
        services = services_at(data)
        services.embedder.embed(["warm up"])  # exports the ONNX model once, outside the timing

        tree = read_tree(copy, max_bytes=10**6)
        full = services.indexer.index(tree, kb=KB, source=str(copy))
        print(f"full index: {full.files_indexed} files, {full.chunks_total} chunks")
        print(
            f"  {full.seconds:.1f} s, {full.chunks_embedded / full.seconds:.1f} passages/s overall"
        )

        again = services.indexer.index(read_tree(copy, max_bytes=10**6), kb=KB, source=str(copy))
        print(f"unchanged re-run: {again.seconds:.2f} s, {again.chunks_embedded} embedded")

        one_file_changes(services, copy, data, full.seconds)

        baseline_index(tree, Path(scratch) / "baseline")
        texts = [
            embedding_text(c)
            for f in tree.files
            for c in chunk_file(kb=KB, path=f.path, text=f.text)
        ]
        embedder_throughput(services.embedder, texts[:1000])


if __name__ == "__main__":
    main()
