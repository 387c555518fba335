"""Feedback selection: net-positive answers and corrections train, negatives are held out."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage.local import LocalObjectStore
from core.types import FeedbackLabel, Turn
from tests.support.datasets import stored_correction, stored_interaction, stored_vote
from training.errors import DatasetError
from training.feedback import select_feedback

POS, NEG = FeedbackLabel.POSITIVE, FeedbackLabel.NEGATIVE


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "store")


def test_net_positive_answer_is_trained_with_its_passages(store: LocalObjectStore) -> None:
    """Two up, one down: the model's answer is kept; the input holds the numbered passages."""
    stored_interaction(store, "i1", passages=("Use CORSMiddleware.", "Set allow_origins."))
    for user, label in (("u1", POS), ("u2", POS), ("u3", NEG)):
        stored_vote(store, "i1", user, label)

    selection = select_feedback(store, max_context_chars=4000)

    [example] = selection.examples
    assert example.instruction == "How do I enable CORS?"
    assert example.output == "Add CORSMiddleware with the allowed origins [1]."
    assert example.input.startswith("Passages:\n\n[1] docs/p1.md — Page 1 (lines 1-10)\n")
    assert "[2] docs/p2.md — Page 2 (lines 2-11)\nSet allow_origins." in example.input
    assert example.group == "interaction:i1" and example.source == "feedback"
    assert selection.counts["positive"] == 1 and not selection.holdout


def test_correction_replaces_the_answer_whatever_the_votes(store: LocalObjectStore) -> None:
    """A negatively rated answer with a Label Studio correction trains on the correction."""
    stored_interaction(store, "i2", answer="Wrong answer.")
    stored_vote(store, "i2", "u1", NEG)
    stored_correction(store, "i2", "Add `CORSMiddleware` [1].")
    stored_interaction(store, "i3", answer="Never rated, but corrected.")
    stored_correction(store, "i3", "The corrected text.")

    selection = select_feedback(store, max_context_chars=4000)

    assert sorted(e.output for e in selection.examples) == [
        "Add `CORSMiddleware` [1].",
        "The corrected text.",
    ]
    assert selection.counts["corrected"] == 2 and not selection.holdout


def test_negative_and_tied_answers_are_held_out(store: LocalObjectStore) -> None:
    """Net negative and tied (with a negative) answers go to the holdout, not to training."""
    stored_interaction(store, "neg", answer="Bad.")
    stored_vote(store, "neg", "u1", NEG)
    stored_interaction(store, "tie", answer="Disputed.")
    stored_vote(store, "tie", "u1", POS)
    stored_vote(store, "tie", "u2", NEG)

    selection = select_feedback(store, max_context_chars=4000)

    assert selection.examples == []
    held = {h["interaction_id"]: h for h in selection.holdout}
    assert set(held) == {"neg", "tie"}
    assert held["tie"]["rejected_output"] == "Disputed."
    assert (held["tie"]["positive"], held["tie"]["negative"]) == (1, 1)
    assert held["neg"]["input"].startswith("Passages:")


def test_retracted_labels_and_abstentions_are_not_trained(store: LocalObjectStore) -> None:
    """All reactions removed: ignored. An upvoted abstention is a template: not trained."""
    stored_interaction(store, "gone")
    stored_vote(store, "gone", "u1", None)
    stored_interaction(store, "idk", answer="I don't know: ...", abstained=True)
    stored_vote(store, "idk", "u1", POS)

    selection = select_feedback(store, max_context_chars=4000)

    assert selection.examples == [] and selection.holdout == []
    assert selection.counts["unlabelled"] == 1 and selection.counts["abstained_positive"] == 1


def test_feedback_on_a_missing_interaction_is_counted(store: LocalObjectStore) -> None:
    """Feedback whose interaction is not stored yet is counted, not dropped silently."""
    stored_vote(store, "spooled", "u1", POS)
    selection = select_feedback(store, max_context_chars=4000)
    assert selection.examples == [] and selection.counts["missing_interaction"] == 1


def test_context_is_bounded_and_keeps_earlier_turns(store: LocalObjectStore) -> None:
    """Long passages are cut to share the budget; the last turns of the thread come first."""
    history = (Turn("What is CORS?", "Cross-origin resource sharing."),)
    stored_interaction(
        store, "long", passages=("a " * 3000, "b " * 3000, "c " * 3000), history=history
    )
    stored_vote(store, "long", "u1", POS)

    [example] = select_feedback(store, max_context_chars=1500).examples

    assert example.input.startswith("Earlier question: What is CORS?\nEarlier answer: Cross")
    assert 1000 < len(example.input) <= 1500 + 200
    assert "[1] docs/p1.md" in example.input and "[3] docs/p3.md" in example.input


def test_malformed_feedback_names_the_object(store: LocalObjectStore) -> None:
    """Broken JSON or a wrong label in a feedback object fails with its key."""
    stored_interaction(store, "i1")
    store.put("feedback/i1/u1.json", b'{"interaction_id": "i1", "label": ')
    with pytest.raises(DatasetError, match=r"feedback/i1/u1\.json:1: malformed JSON"):
        select_feedback(store, max_context_chars=4000)
    store.put("feedback/i1/u1.json", b'{"interaction_id": "i1", "label": "great"}')
    with pytest.raises(DatasetError, match=r"feedback/i1/u1\.json: field 'label'"):
        select_feedback(store, max_context_chars=4000)


def test_interaction_with_wrong_types_names_the_field(store: LocalObjectStore) -> None:
    """An interaction whose answer text is not a string fails, naming its key and field."""
    stored_vote(store, "i9", "u1", POS)
    key = "interactions/2026/11/20/i9.json"
    record = b'{"id": "i9", "question": {"text": "q", "history": []}, "answer": {"text": 5}}'
    store.put(key, record)
    expected = r"i9\.json: field 'answer\.text' should be str, got int"
    with pytest.raises(DatasetError, match=expected):
        select_feedback(store, max_context_chars=4000)
