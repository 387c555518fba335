"""The promotion gate: promote on a real gain of the primary metric with nothing else worse."""

from __future__ import annotations

import pytest

from training.gate import GatePolicy, decide, paired_bootstrap

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


def test_a_mean_gain_carried_by_a_few_samples_is_rejected_as_noise() -> None:
    """Above the margin on average, but from 4 samples of 300 gaining everything while the
    rest lose a little: the paired bootstrap's interval reaches 0, so the gate calls it noise."""
    gains = [1.0] * 4 + [-0.0068] * 296
    mean = sum(gains) / len(gains)
    assert mean > GatePolicy().margin
    decision = decide(
        candidate(test__rougeL=0.35 + mean), CHAMPION, GatePolicy(), gains={"test/rougeL": gains}
    )
    assert not decision.promote
    assert decision.interval is not None and decision.interval.low <= 0 < decision.interval.high
    assert "within noise" in decision.reason and "95% interval" in decision.reason


def test_a_gain_most_samples_share_is_promoted_with_its_interval() -> None:
    gains = [0.05 if i % 4 else -0.05 for i in range(300)]  # three in four gain
    mean = sum(gains) / len(gains)
    decision = decide(
        candidate(test__rougeL=0.35 + mean), CHAMPION, GatePolicy(), gains={"test/rougeL": gains}
    )
    assert decision.promote, decision.reason
    assert decision.interval is not None and 0 < decision.interval.low < mean
    assert decision.interval.high > mean


def test_the_bootstrap_is_seeded_and_its_interval_narrows_with_more_samples() -> None:
    few = [0.1, -0.05, 0.02, 0.08, -0.01] * 4
    many = few * 20
    assert paired_bootstrap(few) == paired_bootstrap(few)
    a, b = paired_bootstrap(few), paired_bootstrap(many)
    assert a.mean == pytest.approx(b.mean)
    assert (b.high - b.low) < (a.high - a.low) / 3
    with pytest.raises(ValueError):
        paired_bootstrap([])


def test_a_loss_within_noise_on_another_metric_does_not_block() -> None:
    """A small split's loss beyond tolerance whose per-sample interval reaches 0 is noise: the
    candidate is promoted and the reason names it; a loss most samples share still rejects."""
    worse = candidate(test__rougeL=0.40, test__cosine=0.68)
    noisy = [0.3, -0.4, 0.25, -0.35, 0.1, -0.0]  # mean -0.0167, interval across 0
    decision = decide(worse, CHAMPION, GatePolicy(), gains={"test/cosine": noisy})
    assert decision.promote
    assert "within noise" not in decision.reason
    assert "noise (test/cosine 0.7000 -> 0.6800 (worse by 0.0200" in decision.reason
    shared = [-0.02, -0.03, -0.01, -0.02, -0.025, -0.015] * 5
    decision = decide(worse, CHAMPION, GatePolicy(), gains={"test/cosine": shared})
    assert not decision.promote
    assert "regressed: test/cosine 0.7000 -> 0.6800 (worse by 0.0200" in decision.reason
    # Without per-sample scores (BLEU-4 is a corpus figure) the mean alone decides.
    assert not decide(worse, CHAMPION, GatePolicy()).promote


def test_the_pipeline_hands_every_metric_its_gains_in_the_better_direction() -> None:
    """Per-sample gains for every split and metric the report has, negated where lower is
    better (the feedback hold-out: closer to an answer users rejected is worse)."""
    from training.eval_report import EvaluationReport, SplitScores
    from training.pipeline import _per_sample_gains

    def scores(model: str, split: str, values: list[float]) -> SplitScores:
        return SplitScores(model, split, 2, 1.0, {"cosine": sum(values) / 2}, {"cosine": values})

    report = EvaluationReport(
        "cand",
        "base",
        "v1",
        "now",
        4,
        (
            scores("cand", "test", [0.5, 0.7]),
            scores("base", "test", [0.4, 0.4]),
            scores("cand", "feedback_rejected", [0.9, 0.5]),
            scores("base", "feedback_rejected", [0.6, 0.6]),
        ),
    )
    gains = _per_sample_gains(report, GatePolicy())
    assert gains["test/cosine"] == pytest.approx([0.1, 0.3])
    assert gains["feedback_rejected/cosine"] == pytest.approx([-0.3, 0.1])
