"""The confidence model is fitted so that confidence follows the share of right answers,
and judged only on dev sets it was not fitted on."""

from __future__ import annotations

import random

from benchmarks.calibration import Sample, fit, held_out, reliability, scores


def samples(dev: str, n: int, seed: int) -> list[Sample]:
    """Answers whose first source is right more often the higher their top similarity."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        top = rng.uniform(0.2, 0.8)
        out.append(Sample(dev, dev, (top, rng.uniform(-0.1, 0.2), top), rng.random() < top, 0.5))
    return out


def test_fitted_confidence_grows_with_the_top_similarity() -> None:
    model = fit(samples("a", 200, 1) + samples("b", 200, 2))
    low, high = model.probability((0.3, 0.0, 0.3)), model.probability((0.7, 0.0, 0.7))
    assert 0.1 < low < 0.5 < high < 0.9


def test_held_out_confidences_come_from_models_without_their_set() -> None:
    # Enough "a" answers that the fit, not its L2 penalty, decides the held-out confidence.
    a = samples("a", 200, 3)
    lonely = [Sample("b", "b", (0.9, 0.3, 0.9), False, 0.5) for _ in range(40)]
    confidences = held_out(a + lonely)
    # The "b" answers are judged by a model fitted on "a" alone, which has never seen a
    # wrong answer at 0.9: it is confident, and wrong, which the scores must show.
    assert min(confidences[200:]) > 0.6
    brier, ece = scores(confidences[200:], [s.right for s in lonely])
    assert brier > 0.3 and ece > 0.5


def test_reliability_rows_count_every_answer_once() -> None:
    rows = reliability([0.1, 0.5, 0.55, 1.0], [False, True, False, True])
    counts = [int(r.split("|")[2]) for r in rows[2:]]
    assert counts == [1, 0, 2, 0, 1]
