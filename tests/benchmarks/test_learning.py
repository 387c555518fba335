"""The learning benchmark's own pieces: the control dataset, the held-out users' questions and
the summary it reports (the long run itself is the benchmark, not a test)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from benchmarks.learning import seed_feedback, shuffled_dataset, split_codeqa, summarise
from tests.conftest import shared_data
from training.eval_report import EvaluationReport, SplitScores


def test_the_control_keeps_the_questions_and_permutes_the_answers(tmp_path: Path) -> None:
    dataset = tmp_path / "v1"
    dataset.mkdir()
    rows = [{"instruction": f"q{i}", "input": "", "output": f"a{i}"} for i in range(50)]
    (dataset / "train.json").write_text(json.dumps(rows))
    (dataset / "test.json").write_text(json.dumps(rows[:5]))
    (dataset / "manifest.json").write_text(json.dumps({"version": "v1"}))

    control = shuffled_dataset(dataset, tmp_path / "v1-shuffled", seed=7)

    shuffled = json.loads((control.path / "train.json").read_text())
    assert [r["instruction"] for r in shuffled] == [r["instruction"] for r in rows]
    assert Counter(r["output"] for r in shuffled) == Counter(r["output"] for r in rows)
    moved = sum(r["output"] != f"a{i}" for i, r in enumerate(shuffled))
    assert moved > 40
    assert (control.path / "test.json").read_text() == (dataset / "test.json").read_text()
    assert json.loads((dataset / "train.json").read_text()) == rows  # the original is untouched


def test_the_seeded_users_questions_are_held_out_of_the_training_inputs(tmp_path: Path) -> None:
    codeqa = shared_data("codeqa", "python")
    root, asked = split_codeqa(tmp_path / "codeqa", 10)
    dev = (codeqa / "dev" / "dev.question").read_text().split("\n")
    kept = (root / "dev" / "dev.question").read_text().split("\n")
    assert kept == dev[:-10] and [a["question"] for a in asked] == dev[-10:]
    assert all(a["answer"] and a["code"] for a in asked)
    test = (codeqa / "test" / "test.answer").read_text()
    assert (root / "test" / "test.answer").read_text() == test


def test_the_summary_reports_the_paired_gain_and_answer_lengths() -> None:
    def scores(model: str, rouge: list[float], answers: list[str]) -> SplitScores:
        mean = sum(rouge) / len(rouge)
        metrics = {"bleu4": 0.1, "rouge1": mean, "rouge2": mean, "rougeL": mean, "cosine": 0.5}
        return SplitScores(model, "test", len(rouge), 2.0, metrics, {"rougeL": rouge}, answers)

    report = EvaluationReport(
        "cand",
        "base",
        "v1",
        "2026-12-02T00:00:00+00:00",
        16,
        (
            scores("cand", [0.5, 0.6, 0.4, 0.5], ["a b", "c d", "e f", "g h"]),
            scores("base", [0.1, 0.2, 0.1, 0.2], ["a b c d e f"] * 4),
        ),
    )
    summary = summarise(report, ["x y", "z w", "v u", "t s"])
    assert summary["rougeL_gain"]["points"] == 35.0
    assert 0 < summary["rougeL_gain"]["low"] <= 35.0 <= summary["rougeL_gain"]["high"]
    assert summary["models"]["cand"]["test"]["answer_words"] == 2.0
    assert summary["models"]["base"]["test"]["answer_words"] == 6.0
    assert summary["models"]["cand"]["test"]["rougeL"] == 50.0
    assert summary["reference_words"] == 2.0 and summary["samples_per_s"] == 2.0


def test_seeded_users_like_answers_that_say_the_reference_however_long(tmp_path: Path) -> None:
    asked = [
        {"question": f"What does the code return {n}?", "code": "def f(): ...", "answer": ref}
        for n, ref in enumerate(["the sorted list", "a new dict", "the file name", "an int"])
    ]
    answers = [
        "It returns the sorted list of the items, after checking each one of them twice.",
        "It prints a greeting.",
        "Nothing at all.",
        "It raises ValueError.",
    ]
    counts = seed_feedback(tmp_path / "objects", asked, answers)
    assert counts == {"liked": 1, "disliked": 3, "corrected": 1}
    objects = tmp_path / "objects"
    assert len(list(objects.glob("feedback/seed0000/*.json"))) == 2
    assert [p.stem for p in objects.glob("corrections/*.json")] == ["seed0002"]
    correction = json.loads((objects / "corrections" / "seed0002.json").read_text())
    assert correction["answer"] == "the file name"
