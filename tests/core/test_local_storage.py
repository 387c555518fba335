"""The local-folder interaction and feedback logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.storage.local import LocalFeedbackLog, LocalObjectStore
from core.types import Feedback, FeedbackLabel


def feedback(
    label: FeedbackLabel | None, at: str, *, user: str = "u1", emoji: str = "+1"
) -> Feedback:
    return Feedback(
        interaction_id="i1",
        platform="slack",
        user_hash=user,
        emoji=emoji,
        label=label,
        created_at=at,
    )


async def test_latest_label_per_user_wins(tmp_path: Path) -> None:
    log = LocalFeedbackLog(tmp_path)
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z"))
    await log.record(feedback(FeedbackLabel.NEGATIVE, "2026-11-25T10:01:00Z", emoji="-1"))
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:30Z"))  # late replay
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z", user="u2"))

    labels = {f.user_hash: f.label for f in await log.for_interaction("i1")}

    assert labels == {"u1": FeedbackLabel.NEGATIVE, "u2": FeedbackLabel.POSITIVE}


async def test_removed_reaction_retracts_the_label(tmp_path: Path) -> None:
    log = LocalFeedbackLog(tmp_path)
    await log.record(feedback(FeedbackLabel.POSITIVE, "2026-11-25T10:00:00Z"))
    await log.record(feedback(None, "2026-11-25T10:02:00Z"))

    assert await log.for_interaction("i1") == []
    assert await log.for_interaction("unknown") == []
    assert (tmp_path / "feedback" / "i1" / "u1.json").is_file()


def test_feedback_round_trips_through_its_record() -> None:
    original = feedback(FeedbackLabel.NEGATIVE, "2026-11-25T10:00:00Z")
    assert Feedback.from_record(original.to_record()) == original
    retracted = feedback(None, "2026-11-25T10:00:00Z")
    assert Feedback.from_record(retracted.to_record()) == retracted


def test_object_store_keys_are_relative_paths(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("datasets/v1/train.json", b"[]")
    store.put("datasets/v1/test.json", b"[1]")
    store.put("feedback/i1/u1.json", b"{}")

    assert store.get("datasets/v1/test.json") == b"[1]"
    assert list(store.list("datasets/")) == ["datasets/v1/test.json", "datasets/v1/train.json"]
    assert store.exists("feedback/i1/u1.json")
    store.delete("feedback/i1/u1.json")
    store.delete("feedback/i1/u1.json")
    assert not store.exists("feedback/i1/u1.json")
    with pytest.raises(KeyError):
        store.get("feedback/i1/u1.json")
    for bad in ("", "/etc/passwd", "../x", "a//b", "a/./b"):
        with pytest.raises(ValueError, match="invalid object key"):
            store.put(bad, b"x")
