"""The promotion gate: a pure decision on two models' metrics, with the reason in words.

A candidate is promoted only when its primary metric (on the test split) beats the champion's
by at least `margin`, and no other metric is worse by more than its tolerance. Metric keys are
`<split>/<metric>` (training.eval_report); on splits named in `lower_is_better` a smaller value
is the better one.
"""

from __future__ import annotations

from collections.abc import Mapping
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


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Promote or not, and why (stored with the version when it is rejected)."""

    promote: bool
    reason: str


def decide(
    candidate: Mapping[str, float], champion: Mapping[str, float], policy: GatePolicy
) -> GateDecision:
    """Compares the metrics both models have; raises ValueError without the primary metric."""
    key = policy.primary_key
    if key not in candidate or key not in champion:
        raise ValueError(f"the primary metric {key} is missing from the evaluation")
    primary_gain = policy.gain(key, candidate[key], champion[key])
    summary = f"{key} {champion[key]:.4f} -> {candidate[key]:.4f} ({primary_gain:+.4f})"
    if primary_gain < policy.margin:
        return GateDecision(False, f"{summary}: below the required gain of {policy.margin:+.4f}")
    regressions = []
    for other in sorted(set(candidate) & set(champion) - {key}):
        loss = -policy.gain(other, candidate[other], champion[other])
        allowed = policy.tolerance(other)
        if loss > allowed:
            regressions.append(
                f"{other} {champion[other]:.4f} -> {candidate[other]:.4f} "
                f"(worse by {loss:.4f}, tolerance {allowed:.4f})"
            )
    if regressions:
        return GateDecision(False, f"{summary}, but regressed: " + "; ".join(regressions))
    return GateDecision(True, f"{summary}; no other metric regressed beyond its tolerance")
