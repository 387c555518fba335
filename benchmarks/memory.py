"""The answer memory and the gaps report on real data nobody here wrote.

    python -m benchmarks.memory                    # every part
    python -m benchmarks.memory --only matching,clustering

- matching: CoNaLa (../shared/data/conala, train and test) gives each Stack Overflow
  question's title (`intent`) and annotators' rewrites (`rewritten_intent`). Each distinct
  intent is stored with its snippet as an endorsed answer (one knowledge base, LanceDB, the
  real IndexedAnswerMemory), each non-null rewrite asks, and the entry of the same
  question_id must come first. Unrelated questions (CodeQA's Python dev and test questions,
  and the three dev sets' questions) must match nothing. The threshold is swept: recall@1
  and false-match rate at each, and the lowest threshold whose false-match rate is at most
  TARGET_FMR is chosen.
- clustering: the rewrites that share a question_id (the same question asked again),
  clustered by rag.gaps; adjusted Rand index against the question_id groups, swept over the
  merge threshold on the train split and reported on train and test.
- loop: the whole FastAPI repository indexed (cached under .bench/retrieval/, shared with
  `benchmarks.retrieval`), the 15 FastAPI dev questions answered, a maintainer's correction
  (the page and section of the qa file) recorded for each whose first source is wrong and
  settled by the curator as `leximind label import` does; then every dev question of every
  set is asked again. Counted: corrected questions led by their correction, and questions
  led by an entry that is not theirs (the target is none).

Results go to .bench/memory/last_run.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from benchmarks.common import (
    BENCH_DIR,
    SHARED_DATA,
    CachedEmbedder,
    services_at,
)
from core.memory import (
    MatchWeights,
    MemoryEntry,
    MemorySource,
    match_score,
)
from core.object_keys import memory_key
from core.types import ChunkKind
from ops.settings import MemorySettings
from ops.wiring import Services
from rag.gaps import CLUSTER_THRESHOLD, SimilarityWeights, cluster, similarity
from rag.memory import IndexedAnswerMemory

CONALA = SHARED_DATA / "conala"
CODEQA = SHARED_DATA / "codeqa" / "python"
QA_DIR = SHARED_DATA / "qa"
OUT = BENCH_DIR / "memory"
EMBEDDINGS = BENCH_DIR / "embeddings"
TARGET_RECALL = 0.80
TARGET_FMR = 0.02
TARGET_ARI = 0.7
KB = "bench"


def conala_rows() -> dict[str, list[dict[str, Any]]]:
    """The CoNaLa curated split, train and test."""
    return {
        split: json.loads((CONALA / f"conala-{split}.json").read_text())
        for split in ("train", "test")
    }


def dev_questions() -> dict[str, list[dict[str, Any]]]:
    """Every dev set's rows, by set name."""
    sets = {}
    for path in sorted(QA_DIR.glob("*_qa_dev.jsonl")):
        name = path.name.split("_", 1)[0]
        sets[name] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sets


def unrelated_questions() -> list[str]:
    """Questions no CoNaLa entry answers: CodeQA's (distinct) and the dev sets'."""
    found: dict[str, None] = {}
    for split in ("dev", "test"):
        for line in (CODEQA / split / f"{split}.question").read_text().splitlines():
            if line.strip():
                found[line.strip()] = None
    for rows in dev_questions().values():
        found.update((r["question"], None) for r in rows)
    return list(found)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A memory entry near a question, as the store returned it: its id, text and cosine."""

    entry_id: str
    text: str
    cosine: float


def _entries(rows: list[dict[str, Any]]) -> list[MemoryEntry]:
    """One endorsed answer per distinct intent: the intent and its first snippet."""
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row["intent"], row)
    return [
        MemoryEntry(
            id=f"conala-{n}-{row['question_id']}",
            kb="conala",
            question=intent,
            answer=row["snippet"],
            source=MemorySource.CORRECTION,
            endorsed_by=("stackoverflow",),
            endorsed_at="2018-01-01T00:00:00+00:00",
        )
        for n, (intent, row) in enumerate(first.items())
    ]


def _question_id(entry_id: str) -> int:
    return int(entry_id.rsplit("-", 1)[1])


def matching(figures: dict[str, Any]) -> None:
    """Recall@1 of rewrites and false-match rate of unrelated questions, threshold swept."""
    rows = [r for split in conala_rows().values() for r in split]
    entries = _entries(rows)
    asked = [(r["rewritten_intent"], r["question_id"]) for r in rows if r["rewritten_intent"]]
    unrelated = unrelated_questions()
    folder = OUT / "conala"
    if folder.exists():
        shutil.rmtree(folder)
    services = services_at(folder / "data")
    cached = CachedEmbedder(services.embedder, EMBEDDINGS)
    started = time.perf_counter()
    cached.embed([e.search_text for e in entries] + [q for q, _ in asked] + unrelated)
    cached.save()
    memory = IndexedAnswerMemory(
        objects=services.object_store, store=services.store, embedder=cached
    )
    for entry in entries:
        services.object_store.put(
            memory_key(entry.kb, entry.id), json.dumps(entry.to_record()).encode()
        )
    memory.reindex("conala")
    near = [_candidates(services, cached, q) for q, _ in asked]
    far = [_candidates(services, cached, q) for q in unrelated]
    _check_recall(memory, asked[:50], near[:50])
    weights = {
        "default": MatchWeights(),
        "dense only": MatchWeights(dense=1.0, terms=0.0, code=0.0),
        "dense 0.7, terms 0.3": MatchWeights(dense=0.7, terms=0.3, code=0.1),
        "dense 0.6, terms 0.4": MatchWeights(dense=0.6, terms=0.4, code=0.1),
    }
    results = {}
    for name, w in weights.items():
        top_near = [_top(q, c, w) for (q, _), c in zip(asked, near, strict=True)]
        hits = [
            (score, _question_id(e) == qid)
            for (score, e), (_, qid) in zip(top_near, asked, strict=True)
        ]
        top_far = [_top(q, c, w)[0] for q, c in zip(unrelated, far, strict=True)]
        results[name] = _sweep(hits, top_far)
    figures["matching"] = {
        "entries": len(entries),
        "rewrites": len(asked),
        "unrelated": len(unrelated),
        "seconds": round(time.perf_counter() - started, 1),
        "weights": {name: vars_of(w) for name, w in weights.items()},
        "sweeps": results,
    }
    services.retriever.close()


def vars_of(weights: MatchWeights) -> dict[str, float]:
    return {"dense": weights.dense, "terms": weights.terms, "code": weights.code}


def _candidates(services: Services, embedder: CachedEmbedder, question: str) -> list[Candidate]:
    """The memory's candidates for a question, as IndexedAnswerMemory.recall gets them."""
    vector = embedder.embed([question])[0]
    near = services.store.vector_search(
        "conala", vector, k=MemorySettings().candidates, kind=ChunkKind.MEMORY
    )
    return [Candidate(c.id.removeprefix("memory-"), c.text, cos) for c, cos in near]


def _top(question: str, candidates: list[Candidate], weights: MatchWeights) -> tuple[float, str]:
    scored = [(match_score(question, c.text, c.cosine, weights), c.entry_id) for c in candidates]
    return max(scored, default=(0.0, "none-0"))


def _check_recall(
    memory: IndexedAnswerMemory, asked: list[tuple[str, int]], near: list[list[Candidate]]
) -> None:
    """The offline scoring agrees with the memory's own recall (same entry, same score)."""
    for (question, _), candidates in zip(asked, near, strict=True):
        [hit] = asyncio.run(memory.recall(question, kb="conala"))
        score, entry_id = _top(question, candidates, MatchWeights())
        assert (hit.entry.id, hit.score) == (entry_id, score), (question, hit, entry_id, score)


def _sweep(hits: list[tuple[float, bool]], unrelated: list[float]) -> dict[str, Any]:
    """Recall@1 and false-match rate per threshold; the chosen one: the lowest whose
    false-match rate is within TARGET_FMR."""
    near = np.array([s for s, _ in hits])
    right = np.array([ok for _, ok in hits])
    far = np.array(unrelated)
    curve = []
    for t in np.round(np.arange(0.30, 1.001, 0.01), 2):
        curve.append(
            {
                "threshold": float(t),
                "recall_at_1": round(float(np.mean(right & (near >= t))), 4),
                "fmr": round(float(np.mean(far >= t)), 4),
            }
        )
    within = [p for p in curve if p["fmr"] <= TARGET_FMR]
    return {
        "recall_at_1_any_threshold": round(float(np.mean(right)), 4),
        "chosen": within[0] if within else None,
        "curve": curve,
    }


# Clustering -----------------------------------------------------------------------------


def adjusted_rand_index(truth: Sequence[int], found: Sequence[int]) -> float:
    """Hubert and Arabie's adjusted Rand index of two labellings of the same items."""
    _, a = np.unique(np.asarray(truth), return_inverse=True)
    _, b = np.unique(np.asarray(found), return_inverse=True)
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)

    def pairs(x: np.ndarray[Any, Any]) -> float:
        return float((x * (x - 1) / 2).sum())

    both, rows, cols, n = pairs(table), pairs(table.sum(1)), pairs(table.sum(0)), len(a)
    expected = rows * cols / (n * (n - 1) / 2)
    best = (rows + cols) / 2
    return (both - expected) / (best - expected) if best != expected else 1.0


def _asked_again(rows: list[dict[str, Any]]) -> tuple[list[str], list[int]]:
    """The non-null rewrites of the questions with two or more of them, and their ids."""
    counts: dict[int, int] = {}
    for r in rows:
        if r["rewritten_intent"]:
            counts[r["question_id"]] = counts.get(r["question_id"], 0) + 1
    chosen = [r for r in rows if r["rewritten_intent"] and counts[r["question_id"]] >= 2]
    return [r["rewritten_intent"] for r in chosen], [r["question_id"] for r in chosen]


def clustering(figures: dict[str, Any]) -> None:
    """ARI of rag.gaps' clustering over rewrites of the same question, swept on train."""
    splits = conala_rows()
    services = services_at(OUT / "clustering" / "data")
    cached = CachedEmbedder(services.embedder, EMBEDDINGS)
    data = {}
    for split, rows in (*splits.items(), ("all", splits["train"] + splits["test"])):
        texts, ids = _asked_again(rows)
        data[split] = (texts, ids, cached.embed(texts))
    cached.save()
    sweeps = {}
    texts, ids, vectors = data["train"]
    for name, w in {
        "dense only": SimilarityWeights(dense=1.0, terms=0.0),
        "dense 0.8, terms 0.2": SimilarityWeights(dense=0.8, terms=0.2),
        "default": SimilarityWeights(),
        "dense 0.3, terms 0.7": SimilarityWeights(dense=0.3, terms=0.7),
    }.items():
        sim = similarity(texts, vectors, w)
        curve = []
        for t in np.round(np.arange(0.40, 0.901, 0.025), 3):
            labels = _labels(cluster(sim, threshold=float(t)), len(texts))
            curve.append({"threshold": float(t), "ari": round(adjusted_rand_index(ids, labels), 4)})
        sweeps[name] = {"weights": {"dense": w.dense, "terms": w.terms}, "curve": curve}
    report = {}
    for split, (texts, ids, vectors) in data.items():
        labels = _labels(
            cluster(similarity(texts, vectors), threshold=CLUSTER_THRESHOLD), len(texts)
        )
        report[split] = {
            "rewrites": len(texts),
            "questions": len(set(ids)),
            "clusters": len(set(labels)),
            "ari": round(adjusted_rand_index(ids, labels), 4),
        }
    figures["clustering"] = {"threshold": CLUSTER_THRESHOLD, "report": report, "sweeps": sweeps}
    services.retriever.close()


def _labels(groups: list[list[int]], n: int) -> list[int]:
    labels = [0] * n
    for label, group in enumerate(groups):
        for member in group:
            labels[member] = label
    return labels


def summary(figures: dict[str, Any], parts: Sequence[str]) -> None:
    """The figures of the parts just run, as docs/benchmarks.md quotes them."""
    if "matching" in parts:
        m = figures["matching"]
        print(
            f"matching: {m['entries']} entries, {m['rewrites']} rewrites, "
            f"{m['unrelated']} unrelated"
        )
        for name, sweep in m["sweeps"].items():
            chosen = sweep["chosen"]
            met = chosen is not None and chosen["recall_at_1"] >= TARGET_RECALL
            print(f"  {name}: target recall@1 >= {TARGET_RECALL} at FMR <= {TARGET_FMR} met: {met}")
            print(
                f"  {name}: recall@1 (no threshold) {sweep['recall_at_1_any_threshold']}; "
                f"chosen {chosen}"
            )
            for p in sweep["curve"][::5]:
                print(
                    f"    t={p['threshold']:.2f} recall@1 {p['recall_at_1']:.3f} fmr {p['fmr']:.3f}"
                )
    if "clustering" in parts:
        c = figures["clustering"]
        print(f"clustering at {c['threshold']}: {c['report']}")
        met = c["report"]["all"]["ari"] >= TARGET_ARI
        print(f"  target ARI >= {TARGET_ARI} over all rewrites met: {met}")
        for name, sweep in c["sweeps"].items():
            best = max(sweep["curve"], key=lambda p: p["ari"])
            print(f"  train, {name}: best {best}")
            print("   ", " ".join(f"{p['threshold']}:{p['ari']}" for p in sweep["curve"]))
    if "loop" in parts:
        lp = figures["loop"]
        print(
            f"loop at threshold {lp['threshold']}: {lp['corrections']} corrections, "
            f"{lp['led_by_correction']} led by their correction, "
            f"{lp['captured_by_unrelated']} captured by an unrelated entry ({lp['seconds']} s)"
        )
        for a in lp["asked_again"]:
            if a["led_by"] and not a["own"]:
                print(
                    f"  captured: {a['question'][:70]!r} by "
                    f"{a['led_by_question'][:70]!r} ({a['score']})"
                )


PARTS = ("matching", "clustering", "loop")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    wanted = [p for p in args.only.split(",") if p]
    figures: dict[str, Any] = {}
    OUT.mkdir(parents=True, exist_ok=True)
    last = OUT / "last_run.json"
    from benchmarks.memory_loop import loop

    runs = {"matching": matching, "clustering": clustering, "loop": loop}
    for part in wanted:
        runs[part](figures)
        figures[part]["date"] = datetime.now(UTC).isoformat(timespec="seconds")
        # Parts may run in separate processes: each keeps the others' latest figures.
        kept = json.loads(last.read_text()) if last.exists() else {}
        last.write_text(json.dumps({**kept, part: figures[part]}, indent=1))
    summary(figures, wanted)


if __name__ == "__main__":
    main()
