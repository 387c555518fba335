"""Shared pieces of the benchmarks: data paths, services on a scratch data dir, timing."""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.types import Chunk, ChunkKind
from ops.settings import EmbeddingSettings, Settings
from ops.wiring import Services, build_services
from rag.sources import SourceTree

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
CORPORA = SHARED_DATA / "corpora"
DEV_QA = SHARED_DATA / "qa" / "fastapi_doc_qa_dev.jsonl"
BENCH_DIR = REPO_ROOT / ".bench"


@dataclass(frozen=True, slots=True)
class QA:
    question: str
    answer_doc: str


def load_dev_set() -> list[QA]:
    rows = [json.loads(line) for line in DEV_QA.read_text().splitlines() if line.strip()]
    return [QA(r["question"], r["answer_doc"]) for r in rows]


def services_at(data_dir: Path) -> Services:
    """Services on a scratch data dir, sharing one exported embedding model across runs."""
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        embedding=EmbeddingSettings(cache_dir=BENCH_DIR / "models"),
    )
    return build_services(settings)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def fixed_chunks(text: str, size: int = 1200) -> list[str]:
    """The original prototype's chunking: fixed windows of `size` characters."""
    return [text[i : i + size] for i in range(0, len(text), size) if text[i : i + size].strip()]


def baseline_chunks(tree: SourceTree) -> list[Chunk]:
    """Every file in fixed 1,200-character windows, as the baselines index it."""
    chunks = []
    for f in tree.files:
        for n, text in enumerate(fixed_chunks(f.text)):
            digest = hashlib.sha256(f"{f.path}\0{n}".encode()).hexdigest()[:32]
            chunks.append(Chunk(digest, "fixed", f.path, f.path, text, 1, 1, "text", ChunkKind.DOC))
    return chunks
