"""The evaluation report: scores per model and split, throughput, examples; as JSON and Markdown.

Metric keys are `<split>/<metric>`, e.g. `test/rougeL`. On `test` the reference is the
dataset's answer and higher is better; on `feedback_rejected` it is an answer users marked
as bad (the feedback hold-out), so there lower is better: the model should no longer give it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from adapters.storage.local import write_atomically

METRICS = ("bleu4", "rouge1", "rouge2", "rougeL", "cosine")
TEST_SPLIT = "test"
REJECTED_SPLIT = "feedback_rejected"
LOWER_IS_BETTER_SPLITS = frozenset({REJECTED_SPLIT})
REPORT_JSON = "report.json"
REPORT_MARKDOWN = "report.md"


@dataclass(frozen=True, slots=True)
class SplitScores:
    """One model's answers to one split: how many, how long they took, how they scored."""

    model: str
    split: str
    samples: int
    seconds: float
    metrics: dict[str, float]
    per_sample: dict[str, list[float]] = field(default_factory=dict)
    answers: list[str] = field(default_factory=list)

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Candidate against champion on the same samples with the same prompts.

    `examples` holds the first few test prompts with the reference and both models' answers.
    """

    candidate: str
    champion: str
    dataset_version: str
    created_at: str
    concurrency: int
    scores: tuple[SplitScores, ...]
    examples: tuple[dict[str, str], ...] = field(default=())

    def metrics(self, model: str) -> dict[str, float]:
        """The model's metrics as `<split>/<metric>` keys."""
        return {
            f"{s.split}/{name}": value
            for s in self.scores
            if s.model == model
            for name, value in s.metrics.items()
        }

    @property
    def samples_per_s(self) -> float:
        """Answers generated per second over the whole evaluation."""
        seconds = sum(s.seconds for s in self.scores)
        return sum(s.samples for s in self.scores) / seconds if seconds > 0 else 0.0

    def paired_gains(self, metric: str, split: str = TEST_SPLIT) -> list[float] | None:
        """Per sample, the candidate's score on `metric` minus the champion's (the same samples
        in the same order); None when either has no per-sample scores for it (BLEU-4, a
        corpus figure, never has)."""
        rows = {s.model: s for s in self.scores if s.split == split}
        candidate, champion = rows.get(self.candidate), rows.get(self.champion)
        if candidate is None or champion is None:
            return None
        mine, theirs = candidate.per_sample.get(metric), champion.per_sample.get(metric)
        if not mine or not theirs or len(mine) != len(theirs):
            return None
        return [a - b for a, b in zip(mine, theirs, strict=True)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the report."""
        record = asdict(self)
        record["samples_per_s"] = round(self.samples_per_s, 3)
        for scores, entry in zip(self.scores, record["scores"], strict=True):
            entry["samples_per_s"] = round(scores.samples_per_s, 3)
        return record

    def markdown(self) -> str:
        """A short human-readable summary: one table per split, then the throughput."""
        lines = [
            f"# Evaluation of {self.candidate}",
            "",
            f"Against `{self.champion}` on dataset `{self.dataset_version}` ({self.created_at}).",
        ]
        for split in dict.fromkeys(s.split for s in self.scores):
            rows = [s for s in self.scores if s.split == split]
            names = list(rows[0].metrics)
            better = "lower" if split in LOWER_IS_BETTER_SPLITS else "higher"
            lines += [
                "",
                f"## {split} ({rows[0].samples} samples; {better} is better)",
                "",
                "| model | " + " | ".join(names) + " |",
                "|---|" + "---|" * len(names),
            ]
            for row in rows:
                values = " | ".join(f"{row.metrics[n]:.4f}" for n in names)
                lines.append(f"| {row.model} | {values} |")
        lines += ["", f"{self.samples_per_s:.2f} samples/s with {self.concurrency} in flight.", ""]
        return "\n".join(lines)


def write_report(report: EvaluationReport, folder: Path) -> Path:
    """Writes report.json and report.md into `folder` (created if needed); returns the JSON."""
    path = folder / REPORT_JSON
    write_atomically(path, (json.dumps(report.to_dict(), indent=1) + "\n").encode())
    write_atomically(folder / REPORT_MARKDOWN, report.markdown().encode())
    return path
