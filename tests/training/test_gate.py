"""The promotion gate: promote on a real gain of the primary metric with nothing else worse."""

from __future__ import annotations

import pytest

from training.gate import GatePolicy, decide

CHAMPION = {
    "test/bleu4": 0.20,
    "test/rouge1": 0.40,
    "test/rouge2": 0.20,
    "test/rougeL": 0.35,
    "test/cosine": 0.70,
    "feedback_rejected/rougeL": 0.50,
}


def candidate(**changes: float) -> dict[str, float]:
    metrics = dict(CHAMPION)
    metrics.update({k.replace("__", "/"): v for k, v in changes.items()})
    return metrics


def test_a_gain_above_the_margin_with_nothing_worse_is_promoted() -> None:
    """ROUGE-L up by 0.02 against a margin of 0.005: promoted, and the reason says by how much."""
    decision = decide(candidate(test__rougeL=0.37), CHAMPION, GatePolicy())
    assert decision.promote
    assert "test/rougeL 0.3500 -> 0.3700 (+0.0200)" in decision.reason


def test_a_gain_below_the_margin_is_rejected() -> None:
    """A gain smaller than the margin is not enough."""
    decision = decide(candidate(test__rougeL=0.352), CHAMPION, GatePolicy(margin=0.005))
    assert not decision.promote
    assert "below the required gain of +0.0050" in decision.reason


def test_a_worse_primary_metric_is_rejected() -> None:
    """A candidate worse on the primary metric is rejected whatever else it does."""
    decision = decide(candidate(test__rougeL=0.30, test__bleu4=0.5), CHAMPION, GatePolicy())
    assert not decision.promote and "(-0.0500)" in decision.reason


def test_a_regression_beyond_its_tolerance_blocks_the_promotion() -> None:
    """BLEU-4 down by 0.05 with a tolerance of 0.01 rejects, naming the metric."""
    decision = decide(candidate(test__rougeL=0.40, test__bleu4=0.15), CHAMPION, GatePolicy())
    assert not decision.promote
    assert "test/bleu4 0.2000 -> 0.1500 (worse by 0.0500, tolerance 0.0100)" in decision.reason


def test_a_regression_within_a_named_tolerance_is_allowed() -> None:
    """Tolerances can be set per metric name or per full key."""
    worse_bleu = candidate(test__rougeL=0.40, test__bleu4=0.15)
    assert decide(worse_bleu, CHAMPION, GatePolicy(tolerances={"bleu4": 0.06})).promote
    assert decide(worse_bleu, CHAMPION, GatePolicy(tolerances={"test/bleu4": 0.06})).promote
    assert not decide(worse_bleu, CHAMPION, GatePolicy(tolerances={"rouge1": 0.06})).promote


def test_on_the_rejected_answers_lower_is_better() -> None:
    """Moving towards the answers users rejected is a regression; moving away is not."""
    closer = candidate(test__rougeL=0.40, feedback_rejected__rougeL=0.60)
    further = candidate(test__rougeL=0.40, feedback_rejected__rougeL=0.30)
    decision = decide(closer, CHAMPION, GatePolicy())
    assert not decision.promote and "feedback_rejected/rougeL" in decision.reason
    assert decide(further, CHAMPION, GatePolicy()).promote


def test_another_primary_metric_can_be_chosen() -> None:
    """With cosine as the primary metric, cosine must gain."""
    better_rouge = candidate(test__rougeL=0.40)
    assert not decide(better_rouge, CHAMPION, GatePolicy(primary="cosine")).promote
    better_cosine = candidate(test__cosine=0.75)
    assert decide(better_cosine, CHAMPION, GatePolicy(primary="cosine")).promote


def test_a_missing_primary_metric_is_an_error() -> None:
    """Without the primary metric on both sides there is nothing to decide on."""
    with pytest.raises(ValueError, match="test/rougeL"):
        decide({"test/bleu4": 0.3}, CHAMPION, GatePolicy())
