"""Calibrates Leximind's answer confidence on the labelled dev questions.

    python -m benchmarks.retrieval --no-baselines    # first: every run, its per-question results
    python -m benchmarks.calibration                 # leave-one-set-out reliability
    python -m benchmarks.calibration --write         # and core/calibration_table.py, docs

Reads the per-question results of the last `benchmarks.retrieval` run (each Leximind answer
with the features of core.confidence and whether its first source is right), fits a
logistic model (Platt scaling, L2-regularised, on standardised features) and judges it
leave-one-set-out: the confidence of each FastAPI question comes from a model fitted on the
httpx, requests and own-repository questions only, and so on for each dev set. The
reliability table (confidence band -> share of answers whose first source is right) is
built from those held-out confidences. The committed coefficients are fitted on every set.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from benchmarks.common import REPO_ROOT
from benchmarks.retrieval import BANDS, DOCS, LAST_RUN, MEASURE_ONLY, RUNS, SYSTEMS
from core.confidence import FEATURES, Calibration

TABLE = REPO_ROOT / "core" / "calibration_table.py"
PENALTY = 20.0  # L2 on the standardised weights; of 1, 5, 20, 50 the best held-out Brier
SECTION = "## Answer confidence"


@dataclass(frozen=True, slots=True)
class Sample:
    dev: str
    run: str
    features: tuple[float, ...]
    right: bool
    old: float  # the confidence the answer was given in that run


def load_samples() -> list[Sample]:
    """Leximind's answers of the last retrieval run, with their dev set; the measure-only
    sets (benchmarks/qa_extra) are left out."""
    dev_of = {r.name: r.dev for r in RUNS}
    rows = json.loads(LAST_RUN.read_text())
    return [
        Sample(dev_of[r["run"]], r["run"], tuple(r["features"]), r["rank"] == 1, r["confidence"])
        for r in rows
        if r["system"] == SYSTEMS[0]
        and r.get("features") is not None
        and dev_of[r["run"]] not in MEASURE_ONLY
    ]


def fit(samples: Sequence[Sample], *, penalty: float = PENALTY) -> Calibration:
    """Logistic regression by Newton's method on standardised features, L2 on the weights;
    the coefficients returned apply to the raw features."""
    x = np.array([s.features for s in samples], dtype=float)
    y = np.array([s.right for s in samples], dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    ridge = np.diag([0.0] + [penalty] * x.shape[1])
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-design @ beta))
        gradient = design.T @ (p - y) + ridge @ beta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + ridge
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    weights = beta[1:] / scale
    intercept = beta[0] - float(weights @ mean)
    return Calibration(
        intercept=round(float(intercept), 4), weights=tuple(round(float(w), 4) for w in weights)
    )


def held_out(samples: Sequence[Sample]) -> list[float]:
    """Each sample's confidence from a model fitted without its dev set."""
    confidences = []
    models = {
        dev: fit([s for s in samples if s.dev != dev]) for dev in sorted({s.dev for s in samples})
    }
    for s in samples:
        confidences.append(models[s.dev].probability(s.features))
    return confidences


def reliability(confidences: Sequence[float], right: Sequence[bool]) -> list[str]:
    lines = [
        "| confidence | answers | mean confidence | first source right |",
        "|---|---:|---:|---:|",
    ]
    for low, high in BANDS:
        band = [
            (c, r)
            for c, r in zip(confidences, right, strict=True)
            if low <= c < high + (high == 1.0)
        ]
        if band:
            mean = sum(c for c, _ in band) / len(band)
            share = sum(r for _, r in band) / len(band)
            lines.append(f"| {low:.1f}–{high:.1f} | {len(band)} | {mean:.2f} | {share:.2f} |")
        else:
            lines.append(f"| {low:.1f}–{high:.1f} | 0 | – | – |")
    return lines


def scores(confidences: Sequence[float], right: Sequence[bool]) -> tuple[float, float]:
    """Brier score and expected calibration error over BANDS."""
    c = np.array(confidences)
    r = np.array(right, dtype=float)
    brier = float(np.mean((c - r) ** 2))
    ece = 0.0
    for low, high in BANDS:
        mask = (c >= low) & (c < high + (high == 1.0))
        if mask.any():
            ece += mask.sum() / len(c) * abs(c[mask].mean() - r[mask].mean())
    return brier, ece


def table_module(model: Calibration, samples: Sequence[Sample], date: str) -> str:
    sets = ", ".join(
        f"{dev} {sum(s.dev == dev for s in samples)}" for dev in sorted({s.dev for s in samples})
    )
    weights = "".join(f"        {w!r},\n" for w in model.weights)
    return (
        f'"""The committed answer-confidence model, written by `python -m benchmarks.calibration '
        f"--write`\non {date}.\n\nFitted (L2 {PENALTY} on standardised features) on "
        f"{len(samples)} Leximind answers of the\nlabelled dev questions against their curated "
        f"corpora and whole repositories\n({sets});\nlabel: the first source is the page a "
        f"maintainer pointed to.\nFeatures: {', '.join(FEATURES)} (core.confidence.features)."
        f'\n"""\n\nfrom core.confidence import Calibration\n\n'
        f"CALIBRATION = Calibration(\n    intercept={model.intercept!r},\n    weights=(\n"
        f"{weights}    ),\n)\n"
    )


def write_docs(section: list[str]) -> None:
    """Replaces the answer-confidence section of docs/benchmarks.md (or appends it)."""
    text = DOCS.read_text()
    block = "\n".join([SECTION, "", *section, ""])
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + block
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + block + ("\n" + text[end + 1 :] if end != -1 else "")
    DOCS.write_text(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calibration")
    parser.add_argument("--write", action="store_true", help="core/calibration_table.py, docs")
    args = parser.parse_args(argv)
    samples = load_samples()
    if not samples:
        parser.error(f"no Leximind results with features in {LAST_RUN}: run benchmarks.retrieval")
    right = [s.right for s in samples]
    confidences = held_out(samples)
    brier, ece = scores(confidences, right)
    old_brier, old_ece = scores([s.old for s in samples], right)
    model = fit(samples)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    runs = sorted({s.run for s in samples})
    section = [
        f"`python -m benchmarks.calibration`, {date}, on the Leximind answers of the last "
        f"`python -m benchmarks.retrieval` run ({len(samples)} answers: {', '.join(runs)}). "
        "Each answer's confidence comes from a model fitted without its dev set "
        "(leave-one-set-out), so no question is judged by a model that saw it.",
        "",
        *reliability(confidences, right),
        "",
        f"Held out: Brier {brier:.3f}, calibration error {ece:.3f}; the confidence these "
        f"answers carried in that run: Brier {old_brier:.3f}, calibration error {old_ece:.3f}. "
        f"Committed model (fitted on all): intercept {model.intercept}, weights "
        + ", ".join(f"{f} {w}" for f, w in zip(FEATURES, model.weights, strict=True))
        + " (core/calibration_table.py).",
    ]
    print("\n".join(section))
    section = [
        "How sure an answer is (shown with every answer, and in words on the web page) is "
        "the chance that its first source answers, from core.confidence.",
        "",
        *section,
    ]
    if args.write:
        TABLE.write_text(table_module(model, samples, date))
        write_docs(section)


if __name__ == "__main__":
    main()
