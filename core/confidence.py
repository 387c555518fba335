"""Answer confidence: the chance that the first source answers, estimated from retrieval.

A logistic model (Platt scaling) over a few features of the retrieved passages, fitted on
the labelled dev questions by `python -m benchmarks.calibration`, which also writes the
committed coefficients in core/calibration_table.py and the reliability table in
docs/benchmarks.md. Boilerplate passages (core.passages) count as no evidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.passages import is_boilerplate
from core.types import Source

FEATURES = ("top", "margin", "best")


@dataclass(frozen=True, slots=True)
class Calibration:
    """`probability = 1 / (1 + exp(-(intercept + sum(weight_f * feature_f))))`."""

    intercept: float
    weights: tuple[float, ...]  # one per FEATURES entry

    def probability(self, features: Sequence[float]) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def evidence(source: Source) -> float:
    """A source's similarity as evidence: none for boilerplate passages."""
    return 0.0 if is_boilerplate(source.chunk) else source.score


def features(sources: Sequence[Source]) -> tuple[float, ...]:
    """The features of FEATURES for sources in ranked order.

    top: the first source's similarity; margin: how far it is above the best of the others
    (negative when dense search prefers another page); best: the best similarity of all.
    """
    if not sources:
        return (0.0, 0.0, 0.0)
    scores = [evidence(s) for s in sources]
    top, rest = scores[0], scores[1:]
    return (top, top - max(rest, default=0.0), max(scores))


def calibrated_confidence(sources: Sequence[Source], calibration: Calibration) -> float:
    """The estimated chance that the first source answers, rounded to 0.001; 0 without
    sources or when every source is boilerplate."""
    values = features(sources)
    if values[-1] <= 0.0:
        return 0.0
    return round(calibration.probability(values), 3)
