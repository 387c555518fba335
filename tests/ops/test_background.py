"""Background work is kept until it ends, its failures are logged, shutdown drains it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ops.background import TaskTracker


async def test_failures_are_logged_with_the_task_name(caplog: pytest.LogCaptureFixture) -> None:
    """A task that raises is logged as an error naming the work, not lost silently."""

    async def broken() -> None:
        raise RuntimeError("GitHub said no")

    tracker = TaskTracker()
    with caplog.at_level(logging.ERROR, logger="ops.background"):
        tracker.spawn(broken(), name="GitHub delivery d1")
        await tracker.drain(timeout=10)
    assert tracker.running == 0
    [record] = caplog.records
    assert "GitHub delivery d1 failed: GitHub said no" in record.getMessage()


async def test_drain_waits_for_running_work_and_cancels_what_is_late(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Shutdown lets short work finish; work past the deadline is cancelled and logged."""
    finished: list[str] = []
    never = asyncio.Event()

    async def work(name: str, until: asyncio.Event | None) -> None:
        await (until.wait() if until else asyncio.sleep(0))
        finished.append(name)

    tracker = TaskTracker()
    tracker.spawn(work("short", None), name="short")
    tracker.spawn(work("stuck", never), name="stuck")
    with caplog.at_level(logging.ERROR, logger="ops.background"):
        await tracker.drain(timeout=1)
    assert finished == ["short"] and tracker.running == 0
    assert "stuck was cancelled before it finished" in caplog.text
