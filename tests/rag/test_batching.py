"""Batch writes resend only refused items, a bounded number of times, then fail loudly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from core.errors import StoreUnavailable
from rag.stores.batching import send_with_retries


class FlakyServer:
    """Accepts items except those it still has refusals for; records each batch sent."""

    def __init__(self, refusals: dict[str, int]) -> None:
        self.refusals = dict(refusals)
        self.accepted: list[str] = []
        self.batches: list[list[str]] = []

    def send(self, batch: Sequence[str]) -> Mapping[int, str]:
        self.batches.append(list(batch))
        refused = {}
        for i, item in enumerate(batch):
            if self.refusals.get(item, 0) > 0:
                self.refusals[item] -= 1
                refused[i] = f"{item} refused"
            else:
                self.accepted.append(item)
        return refused


def test_only_refused_items_are_resent_with_growing_pauses() -> None:
    """Refused items go again, alone, after pause * attempt seconds."""
    server = FlakyServer({"b": 2, "d": 1})
    pauses: list[float] = []
    send_with_retries(server.send, ["a", "b", "c", "d"], attempts=3, pause=0.5, sleep=pauses.append)
    assert server.batches == [["a", "b", "c", "d"], ["b", "d"], ["b"]]
    assert sorted(server.accepted) == ["a", "b", "c", "d"]
    assert pauses == [0.5, 1.0]


def test_still_refused_after_last_attempt_raises(caplog: pytest.LogCaptureFixture) -> None:
    """Items refused every time raise StoreUnavailable; each refusal is logged by item."""
    server = FlakyServer({"b": 9})
    with pytest.raises(StoreUnavailable, match="refused 1 objects after 2 attempts: b refused"):
        send_with_retries(
            server.send, ["a", "b"], attempts=2, pause=0, describe=str.upper, sleep=lambda _: None
        )
    assert server.accepted == ["a"]
    assert "B: b refused" in caplog.text and "attempt 2 of 2" in caplog.text


def test_nothing_to_send_sends_nothing() -> None:
    """An empty batch makes no request; attempts below one are a programming error."""
    server = FlakyServer({})
    send_with_retries(server.send, [], attempts=1, pause=0)
    assert server.batches == []
    with pytest.raises(ValueError, match="at least 1"):
        send_with_retries(server.send, ["a"], attempts=0, pause=0)
