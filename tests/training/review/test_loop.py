"""Which interactions go to review, and how corrections are stored, on an in-memory board."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest

from adapters.storage.local import LocalObjectStore
from core.errors import StoreUnavailable
from core.types import FeedbackLabel
from tests.support.review import interaction, store_feedback, store_interaction
from training.review.loop import export_for_review, find_for_review, import_corrections
from training.review.model import Review, ReviewItem


class MemoryReviewBoard:
    """A ReviewBoard that keeps items and scripted reviews in lists."""

    def __init__(self) -> None:
        self.items: list[ReviewItem] = []
        self.scripted: list[Review] = []

    def queued(self) -> set[str]:
        return {item.interaction_id for item in self.items}

    def add(self, items: Sequence[ReviewItem]) -> int:
        self.items += items
        return len(items)

    def reviews(self) -> Iterator[Review]:
        yield from self.scripted


def corrected(interaction_id: str, text: str, at: str, review_id: int = 1) -> Review:
    return Review(interaction_id, 10, review_id, "rev@x", at, False, text, None)


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path)


def test_negative_from_any_user_or_abstention_selects(store: LocalObjectStore) -> None:
    """One negative vote among positives selects; positives and retractions alone do not."""
    store_interaction(store, interaction("mixed"))
    store_interaction(store, interaction("positive"))
    store_interaction(store, interaction("abstained", abstained=True))
    store_interaction(store, interaction("both", abstained=True))
    store_feedback(store, "mixed", "u1", FeedbackLabel.POSITIVE)
    store_feedback(store, "mixed", "u2", FeedbackLabel.NEGATIVE)
    store_feedback(store, "positive", "u1", FeedbackLabel.POSITIVE)
    store_feedback(store, "positive", "u2", None)
    store_feedback(store, "both", "u1", FeedbackLabel.NEGATIVE)
    store_feedback(store, "both", "u2", FeedbackLabel.NEGATIVE)

    found = {item.interaction_id: item.reasons for item in find_for_review(store).items}

    assert found == {
        "mixed": ("negative feedback from 1 user",),
        "abstained": ("abstained",),
        "both": ("abstained", "negative feedback from 2 users"),
    }


def test_unreadable_and_missing_records_are_reported(store: LocalObjectStore) -> None:
    """Broken JSON is listed by key, feedback without its interaction is counted."""
    store_interaction(store, interaction("good", abstained=True))
    store.put("interactions/2026/11/20/broken.json", b"{not json")
    store_feedback(store, "gone", "u1", FeedbackLabel.NEGATIVE)

    found = find_for_review(store)

    assert [i.interaction_id for i in found.items] == ["good"]
    assert found.unreadable == ["interactions/2026/11/20/broken.json"]
    assert found.missing == ["gone"]


def test_since_limits_by_day(store: LocalObjectStore) -> None:
    """Only interactions asked on or after `since` are considered."""
    store_interaction(store, interaction("old", abstained=True, day="2026-10-01"))
    store_interaction(store, interaction("new", abstained=True, day="2026-11-20"))

    board = MemoryReviewBoard()
    report = export_for_review(store, board, since=date(2026, 11, 1))

    assert [i.interaction_id for i in board.items] == ["new"] and report.exported == 1


def test_import_updates_on_newer_review_and_keeps_a_newer_stored_one(
    store: LocalObjectStore,
) -> None:
    """A later review rewrites the correction; an older one never replaces a newer record."""
    board = MemoryReviewBoard()
    board.scripted = [corrected("i1", "first", "2026-11-25T10:00:00Z")]
    assert import_corrections(store, board).imported == 1

    board.scripted.append(corrected("i1", "second", "2026-11-25T11:00:00Z", review_id=2))
    assert import_corrections(store, board).updated == 1
    assert json.loads(store.get("corrections/i1.json"))["answer"] == "second"

    board.scripted = [corrected("i1", "stale", "2026-11-24T09:00:00Z", review_id=3)]
    assert import_corrections(store, board).kept_newer == 1
    assert json.loads(store.get("corrections/i1.json"))["answer"] == "second"


class FailingPuts(LocalObjectStore):
    """A local store whose writes fail after `allowed` of them, as when the server goes away."""

    def __init__(self, root: Path, allowed: int) -> None:
        super().__init__(root)
        self.allowed = allowed

    def put(self, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        if self.allowed <= 0:
            raise StoreUnavailable(f"cannot write {key}: connection refused")
        self.allowed -= 1
        super().put(key, data, content_type=content_type)


def test_store_failure_mid_import_loses_nothing_on_rerun(tmp_path: Path) -> None:
    """The import stops with StoreUnavailable; the next run stores what was missing."""
    board = MemoryReviewBoard()
    board.scripted = [corrected(f"i{n}", f"text {n}", "2026-11-25T10:00:00Z") for n in range(3)]
    with pytest.raises(StoreUnavailable):
        import_corrections(FailingPuts(tmp_path, allowed=1), board)

    rerun = import_corrections(LocalObjectStore(tmp_path), board)

    assert (rerun.imported, rerun.unchanged) == (2, 1)
    assert len(list(LocalObjectStore(tmp_path).list("corrections/"))) == 3
