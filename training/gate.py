"""The promotion gate: a pure decision on two models' metrics, with the reason in words.

A candidate is promoted only when its primary metric (on the test split) beats the champion's
by at least `margin`, the gain holds up beyond noise (when per-sample scores are given: a
paired bootstrap of the per-sample gains puts the lower end of its `confidence` interval above
zero), and no other metric is worse by more than its tolerance beyond noise (when that
metric's per-sample scores are given, a loss counts only when its interval lies wholly below
zero: on a split of 17 answers a small loss is a coin toss, not a regression). Metric keys are
`<split>/<metric>` (training.eval_report); on splits named in `lower_is_better` a smaller value
is the better one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from training.eval_report import LOWER_IS_BETTER_SPLITS, TEST_SPLIT


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """What a candidate must show; margins and tolerances are in metric units (0..1).

    `tolerances` maps a full key (`test/bleu4`) or a bare metric name (`bleu4`) to the
    regression allowed there; anything not named gets `default_tolerance`.
    """

    primary: str = "rougeL"
    margin: float = 0.005
    default_tolerance: float = 0.01
    tolerances: Mapping[str, float] = field(default_factory=dict)
    lower_is_better: frozenset[str] = LOWER_IS_BETTER_SPLITS
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0

    @property
    def primary_key(self) -> str:
        return f"{TEST_SPLIT}/{self.primary}"

    def tolerance(self, key: str) -> float:
        """The regression allowed on `key`, by full key first, then by metric name."""
        name = key.rsplit("/", 1)[-1]
        return self.tolerances.get(key, self.tolerances.get(name, self.default_tolerance))

    def gain(self, key: str, candidate: float, champion: float) -> float:
        """How much better the candidate is on `key`; negative when it is worse."""
        split = key.split("/", 1)[0]
        return champion - candidate if split in self.lower_is_better else candidate - champion

    def interval(self, gains: Sequence[float]) -> Interval:
        """The paired-bootstrap interval of per-sample gains, at this policy's settings."""
        return paired_bootstrap(
            gains, confidence=self.confidence, resamples=self.resamples, seed=self.seed
        )


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean and its bootstrap interval at `confidence`."""

    mean: float
    low: float
    high: float
    confidence: float

    def __str__(self) -> str:
        return (
            f"{self.mean:+.4f}, {self.confidence:.0%} interval [{self.low:+.4f}, {self.high:+.4f}]"
        )


def paired_bootstrap(
    gains: Sequence[float], *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Interval:
    """The mean of per-sample gains (candidate minus champion on the same samples) and its
    percentile bootstrap interval: `resamples` draws of len(gains) samples with replacement,
    seeded, so the same scores always give the same interval. Raises ValueError when empty."""
    if not gains:
        raise ValueError("no per-sample gains to resample")
    if not 0 < confidence < 1 or resamples < 1:
        raise ValueError("confidence must be in (0, 1) and resamples positive")
    rng = random.Random(seed)
    n = len(gains)
    means = sorted(sum(rng.choices(gains, k=n)) / n for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = means[int(tail * (resamples - 1))]
    high = means[round((1 - tail) * (resamples - 1))]
    return Interval(sum(gains) / n, low, high, confidence)


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Promote or not, and why (stored with the version when it is rejected)."""

    promote: bool
    reason: str
    interval: Interval | None = None


def decide(
    candidate: Mapping[str, float],
    champion: Mapping[str, float],
    policy: GatePolicy,
    *,
    gains: Mapping[str, Sequence[float]] | None = None,
) -> GateDecision:
    """Compares the metrics both models have; raises ValueError without the primary metric.

    `gains` maps metric keys ("test/rougeL") to their per-sample gains (candidate minus
    champion, in the metric's better direction). With the primary metric's, its gain must
    also hold up in a paired bootstrap; without them (a corpus-level metric such as BLEU-4)
    the gate decides on the means alone. A loss beyond tolerance on another metric that has
    per-sample gains rejects only when its interval lies below zero."""
    key = policy.primary_key
    if key not in candidate or key not in champion:
        raise ValueError(f"the primary metric {key} is missing from the evaluation")
    primary_gain = policy.gain(key, candidate[key], champion[key])
    summary = f"{key} {champion[key]:.4f} -> {candidate[key]:.4f} ({primary_gain:+.4f})"
    if primary_gain < policy.margin:
        return GateDecision(False, f"{summary}: below the required gain of {policy.margin:+.4f}")
    per_sample = gains or {}
    interval = None
    if per_sample.get(key):
        interval = policy.interval(per_sample[key])
        summary = f"{summary}; per-sample gain {interval}"
        if interval.low <= 0:
            return GateDecision(
                False, f"{summary}: the gain is within noise (the interval reaches 0)", interval
            )
    regressions, noise = [], []
    for other in sorted(set(candidate) & set(champion) - {key}):
        loss = -policy.gain(other, candidate[other], champion[other])
        allowed = policy.tolerance(other)
        if loss <= allowed:
            continue
        worse = (
            f"{other} {champion[other]:.4f} -> {candidate[other]:.4f} "
            f"(worse by {loss:.4f}, tolerance {allowed:.4f}"
        )
        if per_sample.get(other):
            spread = policy.interval(per_sample[other])
            if spread.high >= 0:
                noise.append(f"{worse}; per-sample gain {spread})")
                continue
            worse = f"{worse}; per-sample gain {spread}"
        regressions.append(f"{worse})")
    if regressions:
        reason = f"{summary}, but regressed: " + "; ".join(regressions)
        return GateDecision(False, reason, interval)
    reason = f"{summary}; no other metric regressed beyond its tolerance"
    if noise:
        reason += " and noise (" + "; ".join(noise) + ")"
    return GateDecision(True, reason, interval)
