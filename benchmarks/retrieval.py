"""Retrieval quality on the FastAPI dev questions: hit@5 and MRR@10, against two baselines.

    python -m benchmarks.retrieval

Indexes all of ../shared/data/corpora as one knowledge base and asks each question of
../shared/data/qa/fastapi_doc_qa_dev.jsonl; a hit is the page a maintainer pointed to.
Baselines over fixed 1,200-character chunks: BM25 (LanceDB full-text) and dense-only MiniLM on
torch (the original prototype). Also prints ablations of Leximind's own pipeline: without
link lift, dense or BM25 alone, and pages ranked by their best chunk only (no decayed sum,
secondary-page weight or links).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import CORPORA, QA, baseline_chunks, load_dev_set, services_at
from ops.wiring import Services, default_model_path
from rag.embedding import SentenceTransformerEmbedder
from rag.retrieval import FusionWeights, HybridRetriever
from rag.sources import SourceTree, read_tree
from rag.stores.lancedb import LanceDBStore

KB = "corpora"


def rank_of(paths: Sequence[str], wanted: str) -> int | None:
    """1-based rank of the first result from the wanted page."""
    for rank, path in enumerate(paths, start=1):
        if path == wanted:
            return rank
    return None


def score(rankings: list[list[str]], dev: list[QA]) -> tuple[float, float]:
    """(hit@5, MRR@10) of ranked path lists against the dev set."""
    hits, rr = 0, 0.0
    for paths, qa in zip(rankings, dev, strict=True):
        rank = rank_of(paths[:10], qa.answer_doc)
        hits += rank is not None and rank <= 5
        rr += 1 / rank if rank else 0.0
    return hits / len(dev), rr / len(dev)


def baselines(tree: SourceTree, dev: list[QA], scratch: Path) -> dict[str, tuple[float, float]]:
    chunks = baseline_chunks(tree)
    torch_embedder = SentenceTransformerEmbedder(model_dir=default_model_path())
    vectors = torch_embedder.embed([c.text for c in chunks])
    store = LanceDBStore(scratch / "baseline", dimension=vectors.shape[1])
    store.upsert(chunks, vectors)
    store.optimize()
    bm25 = [[c.path for c, _ in store.keyword_search("fixed", q.question, k=10)] for q in dev]
    queries = torch_embedder.embed([q.question for q in dev])
    order = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    dense = [[chunks[i].path for i in row] for row in order]
    print(f"baseline: {len(chunks)} fixed chunks")
    return {
        "BM25, fixed 1,200-char chunks": score(bm25, dev),
        "dense MiniLM, fixed chunks": score(dense, dev),
    }


def leximind_variants(services_dir: Path, dev: list[QA]) -> dict[str, tuple[float, float]]:
    services = services_at(services_dir)
    started = time.perf_counter()
    report = services.indexer.index(read_tree(CORPORA, max_bytes=10**6), kb=KB, source=str(CORPORA))
    print(
        f"indexed {report.files_indexed} files into {report.chunks_total} chunks "
        f"in {time.perf_counter() - started:.1f} s"
    )
    variants: dict[str, dict[str, Any]] = {
        "Leximind hybrid (default)": {},
        "  ablation: no link lift": {"follow_links": False},
        "  ablation: dense only": {"weights": FusionWeights(keyword=0.0)},
        "  ablation: BM25 only": {"weights": FusionWeights(dense=0.0)},
        "  ablation: best chunk per page only": {
            "page_decay": 0.0,
            "secondary_weight": 1.0,
            "follow_links": False,
        },
    }
    results = {}
    for name, options in variants.items():
        retriever = HybridRetriever(
            store=services.store,
            embedder=services.embedder,
            catalog=services.catalog,
            **options,
        )
        rankings = [
            [s.path for s in asyncio.run(retriever.search(q.question, kb=KB, k=10))] for q in dev
        ]
        results[name] = score(rankings, dev)
        if name.startswith("Leximind"):
            for paths, qa in zip(rankings, dev, strict=True):
                rank = rank_of(paths, qa.answer_doc)
                if rank != 1:
                    print(f"  rank {rank}: {qa.question[:70]!r} -> {paths[0]}")
    abstention(services, dev)
    return results


OFF_TOPIC = [
    "What is a good recipe for sourdough bread?",
    "Who won the football world cup in 1998?",
    "How do I change a flat tire on a bicycle?",
    "What is the capital of Australia?",
    "Recommend a good science fiction novel",
    "How tall is Mount Everest?",
    "What's the weather like in Paris today?",
    "How do I knit a scarf?",
]


def abstention(services: Services, dev: list[QA]) -> None:
    """How many dev questions would be answered and off-topic ones declined."""
    threshold = services.answers.policy.min_relevance

    def best(question: str) -> float:
        found = asyncio.run(services.retriever.search(question, kb=KB, k=5))
        return max((s.score for s in found), default=0.0)

    answered = [best(q.question) for q in dev]
    declined = [best(q) for q in OFF_TOPIC]
    print(
        f"abstention at min_relevance {threshold}: "
        f"{sum(b >= threshold for b in answered)}/{len(dev)} dev questions answered "
        f"(lowest best-passage similarity {min(answered):.2f}), "
        f"{sum(b < threshold for b in declined)}/{len(OFF_TOPIC)} off-topic declined "
        f"(highest {max(declined):.2f})"
    )


def main() -> None:
    dev = load_dev_set()
    with tempfile.TemporaryDirectory(prefix="leximind-bench-") as scratch:
        tree = read_tree(CORPORA, max_bytes=10**6)
        results = leximind_variants(Path(scratch) / "data", dev)
        results.update(baselines(tree, dev, Path(scratch)))
    print(f"\n{len(dev)} questions, corpus {CORPORA.name}/ ({len(tree.files)} files)")
    print(f"{'retriever':40} {'hit@5':>6} {'MRR@10':>7}")
    for name, (hit, mrr) in results.items():
        print(f"{name:40} {hit:6.3f} {mrr:7.3f}")


if __name__ == "__main__":
    main()
